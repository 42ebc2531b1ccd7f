"""`make published`: notebooks 01 and 02 in Hinton et al.'s MNIST setting, beside the published numbers.

The lecture profile shrinks the distillation experiments to fit a laptop CPU. The full profile
(``LECTURE_PROFILE=full``) runs them as Hinton, Vinyals & Dean (2015) did, where feasible: a
784-1200-1200-10 teacher with dropout and jitter, 784-800-800-10 students, T = 20. This command

1. trains the full profile's teacher if its checkpoint is missing (minutes on a GPU),
2. executes notebooks 01 and 02 in the full profile, saving the executed copies in ``--out``
   (default ``data/published/``, never committed),
3. prints the lines that carry the comparison (the result tables and every claim check) and, with
   ``--write``, stores them in ``benchmarks/README.md`` under "Published setting", with the device.

It is meant for a GPU (about 20 to 40 minutes); on a CPU it takes many hours. The published
numbers it is set beside (REFERENCES.md): teacher 67, student on labels 146, distilled 74 test
errors; with the 3s omitted, 206 errors (133 on 3s), and after the bias shift 109 (14 on 3s).
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("01_knowledge_distillation", "02_unseen_digit")
# The output lines worth keeping: result tables, the verdicts, and every claim check.
KEEP = re.compile(r"^(✓ C\d|teacher|student|distilled|before the shift|shift chosen|Hinton|Published|Ours|"
                  r"T = 1 against|best temperature|\s+\d+\s)")


def summary_lines(nb) -> list[str]:
    """The lines of a notebook's printed outputs that carry its comparisons (see ``KEEP``)."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout":
                lines += [line.rstrip() for line in out.get("text", "").splitlines() if KEEP.match(line)]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="where the executed notebooks go (default data/published)")
    parser.add_argument("--write", action="store_true", help="store the summary in benchmarks/README.md")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per notebook cell")
    args = parser.parse_args(argv)
    os.environ["LECTURE_PROFILE"] = "full"  # before the kernels start: they inherit it

    import nbformat

    from benchmarks.run import machine
    from lecture_utils.config import cache_dir
    from lecture_utils.files import atomic_write_bytes
    from lecture_utils.pretrained import build_teacher_checkpoint, teacher_path
    from tools.notebooks import NOTEBOOK_DIR, execute

    out = args.out or cache_dir() / "published"
    out.mkdir(parents=True, exist_ok=True)
    if not teacher_path("teacher", "full").is_file():
        start = time.perf_counter()
        build_teacher_checkpoint("teacher", "full")
        print(f"full-profile teacher trained in {time.perf_counter() - start:.0f} s", flush=True)
    blocks = []
    for name in NOTEBOOKS:
        path = NOTEBOOK_DIR / f"{name}.ipynb"
        seconds = execute(path, save=True, timeout=args.timeout, out=out / path.name)
        lines = summary_lines(nbformat.read(out / path.name, as_version=4))
        blocks.append(f"**{name}** ({seconds / 60:.1f} min):\n\n```\n" + "\n".join(lines) + "\n```")
        print(f"\n{name}: {seconds:.0f} s\n" + "\n".join(lines), flush=True)

    stamp = f"Profile `full`, {datetime.date.today().isoformat()}, on {machine()}."
    if args.write:
        readme = HERE / "README.md"
        text = readme.read_text()
        block = "<!-- bench:published:start -->\n" + stamp + "\n\n" + "\n\n".join(blocks) + "\n<!-- bench:published:end -->"
        pattern = re.compile(r"<!-- bench:published:start -->.*?<!-- bench:published:end -->", re.S)
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        atomic_write_bytes(readme, text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
