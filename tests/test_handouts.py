"""make handouts and make screenshots: what teachers post and what the README shows."""
import io

import nbformat
from PIL import Image

from tools.handouts import title, write_handouts
from tools.notebooks import NOTEBOOK_DIR, claims_covered, notebook_paths
from tools.screenshots import shrink


def test_handouts_have_every_notebook_and_an_index(tmp_path):
    written = write_handouts(tmp_path)
    index = (tmp_path / "index.html").read_text()
    assert len(written) == len(notebook_paths()) + 1
    for path in notebook_paths():
        nb = nbformat.read(path, as_version=4)
        page = tmp_path / path.relative_to(NOTEBOOK_DIR).with_suffix(".html")
        assert page.is_file() and "<html" in page.read_text()[:2000].lower()
        assert title(nb) in index.replace("&#x27;", "'") and ", ".join(claims_covered(nb)) in index
        assert path.relative_to(NOTEBOOK_DIR).with_suffix(".html").as_posix() in index
    assert "11 · All techniques combined" in index and "C32" in index


def test_shrink_makes_a_small_png():
    image = Image.new("RGB", (1600, 800), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    small = Image.open(io.BytesIO(shrink(buffer.getvalue())))
    assert small.size == (640, 320) and small.format == "PNG"
