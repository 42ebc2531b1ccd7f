"""The README's pictures: ``make screenshots`` runs the browser tests, which save a screenshot
of each slider after a move in ``build/browser/``; this copies the chosen ones into
``docs/img/``, shrunk to small PNGs (at most 640 pixels wide, 256 colours)."""
from __future__ import annotations

import argparse
import io
from pathlib import Path

from lecture_utils.files import atomic_write_bytes
from .notebooks import NOTEBOOK_DIR

REPO = NOTEBOOK_DIR.parent
SOURCE = REPO / "build" / "browser"
TARGET = REPO / "docs" / "img"


def shrink(png: bytes, width: int = 640) -> bytes:
    """``png`` at most ``width`` pixels wide (proportions kept), reduced to 256 colours: a small PNG."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    buffer = io.BytesIO()
    image.quantize(colors=256).save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def main(argv=None) -> None:
    """The command line: copy each named notebook's screenshot into ``docs/img/``, shrunk."""
    parser = argparse.ArgumentParser(description="Copy slider screenshots from build/browser/ into docs/img/.")
    parser.add_argument("names", nargs="+", help="notebook names, e.g. 01_knowledge_distillation")
    args = parser.parse_args(argv)
    for name in args.names:
        source = SOURCE / f"{name}.png"
        if not source.is_file():
            raise SystemExit(f"no screenshot at {source}: run `make test-browser` first (it needs Chromium)")
        target = atomic_write_bytes(TARGET / f"{name}.png", shrink(source.read_bytes()))
        print(f"{target.relative_to(REPO)}: {target.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
