"""HTML handouts: ``make handouts`` renders every executed notebook to ``build/handouts/``,
with an ``index.html`` listing each one's title and the lecture claims it covers, for teachers
who post the lecture online. The notebooks are rendered as committed (with their outputs and
the saved state of their widgets), not run again.
"""
from __future__ import annotations

import argparse
import html
from pathlib import Path

from .files import atomic_write_bytes
from .notebooks import NOTEBOOK_DIR, claims_covered, notebook_paths

DEFAULT_OUT = NOTEBOOK_DIR.parent / "build" / "handouts"


def title(nb) -> str:
    """The notebook's title: the first line of its first cell, without the '#'."""
    first = nb.cells[0].source.strip().splitlines()[0] if nb.cells else ""
    return first.lstrip("#").strip() or "untitled"


def write_handouts(out: Path = DEFAULT_OUT) -> list[Path]:
    import nbformat
    from nbconvert import HTMLExporter

    out = Path(out)
    exporter = HTMLExporter()
    rows, written = [], []
    for path in notebook_paths():
        nb = nbformat.read(path, as_version=4)
        relative = path.relative_to(NOTEBOOK_DIR).with_suffix(".html")
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title(nb)}})
        written.append(atomic_write_bytes(out / relative, body.encode()))
        rows.append(f'<tr><td><a href="{html.escape(relative.as_posix())}">{html.escape(title(nb))}</a></td>'
                    f"<td>{html.escape(', '.join(claims_covered(nb)))}</td></tr>")
    index = ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Network compression: the lecture</title>"
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.3em .8em;"
             "text-align:left;border-bottom:1px solid #ddd}</style></head><body>\n"
             "<h1>Network compression, the interactive lecture</h1>\n"
             "<table><tr><th>notebook</th><th>lecture claims</th></tr>\n" + "\n".join(rows) + "\n</table>\n</body></html>\n")
    written.append(atomic_write_bytes(out / "index.html", index.encode()))
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Render every notebook to HTML with an index page.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    written = write_handouts(args.out)
    print(f"wrote {len(written) - 1} handouts and index.html into {args.out}")


if __name__ == "__main__":
    main()
