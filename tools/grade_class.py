"""Grade a whole class: ``python -m tools.grade_class SUBMISSIONS_DIR [--out DIR] [--timeout S]
[--memory-mb M] [--test-set FILE.pt | --test-images FILE --test-labels FILE]`` (or ``make grade-class
DIR=...``).

SUBMISSIONS_DIR holds one folder per student, each with ``my_model.py`` (``build_model()``) and
``my_weights.pt`` (its state dict). Each is graded as ``python -m lecture_utils.grade`` grades one
(``lecture_utils.grade.Judge``): in a child process of its own, one at a time, under the time and
memory limits, so an endless loop, a crash, running out of memory or a malformed file costs that
submission alone. Grade on a private test set: MNIST's test labels are public, so a model file
could read them and answer by lookup.

Writes ``leaderboard.csv`` and ``leaderboard.html`` (self-contained) into ``--out`` (default:
SUBMISSIONS_DIR), each atomically: graded submissions by test accuracy, then the others with the
reason each was not graded. Exit status 0 when the leaderboard is written, 1 when it cannot be
(no such folder, a bad test set).
"""
from __future__ import annotations

import argparse
import csv
import html
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from lecture_utils.files import atomic_write_bytes
from lecture_utils import grade
from lecture_utils.grade import (BUDGET_RULE, NOT_GRADED, OVER_BUDGET, BadTestSet, Grade, Judge, SubmissionError,
                                 add_judging_arguments, chosen_test_set)
from lecture_utils.homework import BUDGET, load_tiers

MODEL_FILE, WEIGHTS_FILE = "my_model.py", "my_weights.pt"
REASON_CHARS = 300  # a failure's reason, cut to one line of at most this many characters
COLUMNS = ("rank", "student", "accuracy (%)", "errors", "test images", "numbers counted", "tier", "status", "reason")


@dataclass
class Entry:
    """One student's result: a grade, or the reason there is none."""

    student: str
    grade: Grade | None
    status: str  # "graded", "over budget" or "not graded"
    reason: str = ""


def student_folders(root: Path) -> list[Path]:
    """The student folders in ``root``, by name (hidden ones left out)."""
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))),
                  key=lambda p: p.name)


def _one_line(message: str, folder: Path) -> str:
    """A failure's message as one short line, without the folder's path before the file names."""
    for prefix in {str(folder) + "/", str(folder.resolve()) + "/"}:
        message = message.replace(prefix, "")
    message = re.sub(r"\s+", " ", message).strip()
    return message if len(message) <= REASON_CHARS else message[:REASON_CHARS - 1] + "…"


def grade_folder(judge: Judge, folder: Path, tiers: dict) -> Entry:
    """Grade the submission in ``folder``; whatever goes wrong becomes the entry's reason."""
    missing = [name for name in (MODEL_FILE, WEIGHTS_FILE) if not (folder / name).is_file()]
    if missing:
        return Entry(folder.name, None, "not graded", f"no {' and no '.join(missing)} in the folder")
    try:
        return Entry(folder.name, judge.grade(str(folder / MODEL_FILE), folder / WEIGHTS_FILE, tiers), "graded")
    except SubmissionError as exc:
        status = "over budget" if exc.status == OVER_BUDGET else "not graded"
        return Entry(folder.name, None, status, _one_line(str(exc), folder))


def ranked(entries: list[Entry]) -> list[Entry]:
    """Graded entries by accuracy (then fewer numbers, then name), then the rest by name."""
    graded = sorted((e for e in entries if e.grade), key=lambda e: (-e.grade.accuracy, e.grade.parameters, e.student))
    return graded + sorted((e for e in entries if not e.grade), key=lambda e: e.student)


def rows(entries: list[Entry]) -> list[dict]:
    """The leaderboard's rows (``COLUMNS``), in order; rank 1 is the most accurate."""
    out = []
    for rank, e in enumerate(ranked(entries), 1):
        g = e.grade
        out.append({"rank": rank if g else "", "student": e.student,
                     "accuracy (%)": f"{100 * g.accuracy:.2f}" if g else "", "errors": g.errors if g else "",
                     "test images": g.images if g else "", "numbers counted": g.parameters if g else "",
                     "tier": (g.tier or "none") if g else "", "status": e.status, "reason": e.reason})
    return out


def _cell(value) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (a name or a message could start with =)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_bytes(table: list[dict]) -> bytes:
    """The leaderboard as CSV: a header of ``COLUMNS``, then one line per row (no cell runs as a formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([_cell(row[c]) for c in COLUMNS] for row in table)
    return out.getvalue().encode()


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
         "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
         "th{background:#f0f0f0}td.n{text-align:right}tr.failed td{color:#777}td.reason{max-width:40em}")


def html_bytes(table: list[dict], about: str) -> bytes:
    """The leaderboard as one self-contained HTML page (style inline, every cell escaped), with
    ``about`` above the table."""
    numeric = {"rank", "accuracy (%)", "errors", "test images", "numbers counted"}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "\n".join(
        f'<tr{"" if row["status"] == "graded" else " class=failed"}>' + "".join(
            f'<td{" class=n" if c in numeric else " class=reason" if c == "reason" else ""}>{html.escape(str(row[c]))}</td>'
            for c in COLUMNS) + "</tr>" for row in table)
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Homework leaderboard</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>Homework leaderboard</h1>\n<p>{html.escape(about)}</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n</body></html>\n")
    return page.encode()


def write_leaderboard(entries: list[Entry], out_dir: Path, about: str) -> tuple[Path, Path]:
    """Write ``leaderboard.csv`` and ``leaderboard.html`` into ``out_dir``, each atomically; return their paths."""
    table = rows(entries)
    return (atomic_write_bytes(out_dir / "leaderboard.csv", csv_bytes(table)),
            atomic_write_bytes(out_dir / "leaderboard.html", html_bytes(table, about)))


def main(argv=None) -> int:
    """The command line: grade every student folder with one ``Judge``, print a line per student,
    write the leaderboard; 0 when it is written, 1 when it cannot be."""
    parser = argparse.ArgumentParser(prog="python -m tools.grade_class",
                                     description="Grade every student folder (my_model.py, my_weights.pt) and "
                                                 "write a leaderboard.")
    parser.add_argument("submissions", type=Path, help="a folder with one folder per student")
    parser.add_argument("--out", type=Path, help="where to write leaderboard.csv and .html (default: SUBMISSIONS)")
    add_judging_arguments(parser)
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"no folder {args.submissions}", file=sys.stderr)
        return NOT_GRADED
    try:
        test_set = chosen_test_set(parser, args)
    except BadTestSet as exc:
        print(f"bad test set: {exc}", file=sys.stderr)
        return NOT_GRADED
    tiers = load_tiers()["tiers"]
    folders = student_folders(args.submissions)
    entries = []
    with Judge(test_set, BUDGET, args.timeout, args.memory_mb) as judge:
        for folder in folders:
            entry = grade_folder(judge, folder, tiers)
            entries.append(entry)
            g = entry.grade
            print(f"{entry.student}: " + (f"{100 * g.accuracy:.2f}%, {g.parameters:,} numbers, tier {g.tier or 'none'}"
                                          if g else f"{entry.status}: {entry.reason}"), flush=True)
    about = (f"{len(folders)} submissions, graded on {test_set.source} ({len(test_set.labels):,} images); budget "
             f"{BUDGET:,} numbers ({BUDGET_RULE}); "
             + (f"limits {args.timeout:g} s and {args.memory_mb:,} MB each" if grade.POSIX_LIMITS
                else f"a time limit of {args.timeout:g} s each (no memory limit on this platform)")
             + ". Tiers: "
             + ", ".join(f"{name} {100 * accuracy:.2f}%" for name, accuracy in tiers.items())
             + " (reference solutions on MNIST's test set).")
    csv_path, html_path = write_leaderboard(entries, args.out or args.submissions, about)
    print(f"wrote {csv_path} and {html_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
