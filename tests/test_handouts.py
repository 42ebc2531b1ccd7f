"""make handouts and make screenshots: what teachers post and what the README shows."""
import hashlib
import html
import io
import re

import nbformat
import pytest
from PIL import Image

from tools.handouts import (MATHJAX_URL, STATIC_WIDGET_CLASS, description, render_widget,
                            static_widgets, title, widget_models, write_handouts)
from tools.notebooks import NOTEBOOK_DIR, WIDGET_STATE, WIDGET_VIEW, claims_covered, notebook_paths


def page_of(out, path):
    return (out / path.relative_to(NOTEBOOK_DIR).with_suffix(".html")).read_text()


def widget_outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]


@pytest.fixture(scope="module")
def handouts(tmp_path_factory):
    """Every handout, rendered once (about 20 s), and proof that the notebooks were not touched."""
    out = tmp_path_factory.mktemp("handouts")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in notebook_paths()}
    written = write_handouts(out)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in notebook_paths()}
    assert before == after, "rendering the handouts changed a committed notebook"
    return out, written


def test_handouts_have_every_notebook_and_an_index(handouts):
    out, written = handouts
    index = html.unescape((out / "index.html").read_text())
    assert len(written) == len(notebook_paths()) + 1
    for path in notebook_paths():
        nb = nbformat.read(path, as_version=4)
        assert "<html" in page_of(out, path)[:2000].lower()
        assert title(nb) in index and ", ".join(claims_covered(nb)) in index
        assert path.relative_to(NOTEBOOK_DIR).with_suffix(".html").as_posix() in index
        assert description(nb) in index
    assert "11 · All techniques combined" in index and "C32" in index
    assert "what it shows" in index


def test_index_describes_each_notebook_in_words():
    for path in notebook_paths():
        text = description(nbformat.read(path, as_version=4))
        assert len(text.split()) >= 8 and text.endswith("."), f"{path.name}: {text!r}"
        assert not re.search(r"\*\*|`|\$|\\|Covers:|^#", text), f"{path.name}: markup left in {text!r}"
    nb01 = nbformat.read(NOTEBOOK_DIR / "01_knowledge_distillation.ipynb", as_version=4)
    assert description(nb01).startswith("The lecture's first compression idea: train a big teacher")
    nb04 = nbformat.read(NOTEBOOK_DIR / "04_distillation_variants.ipynb", as_version=4)
    assert "logits (C9); intermediate layers (C10); a teacher assistant (C11)." in description(nb04)
    nb09 = nbformat.read(NOTEBOOK_DIR / "09_low_rank_factorization.ipynb", as_version=4)
    assert "N · M parameters" in description(nb09)  # inline TeX as text


def _subtree(models, model_id):
    model = models[model_id]
    yield model
    for child in model["state"].get("children", []):
        yield from _subtree(models, child[len("IPY_MODEL_"):])


def test_every_widget_output_became_static_html_with_its_figure_and_readout(handouts):
    from bs4 import BeautifulSoup  # nbconvert's own dependency; it also re-serializes the page

    out, _ = handouts
    seen_figures = seen_widgets = 0
    for path in notebook_paths():
        nb = nbformat.read(path, as_version=4)
        page = page_of(out, path)
        assert WIDGET_VIEW not in page and WIDGET_STATE not in page, f"{path.name}: widget MIME data left in the page"
        assert "html-manager" not in page and "embed-amd" not in page, f"{path.name}: loads a widget manager"
        soup = BeautifulSoup(page, "html.parser")
        models = widget_models(nb)
        for output in widget_outputs(nb):
            model_id = output["data"][WIDGET_VIEW]["model_id"]
            block = soup.select_one(f'div.{STATIC_WIDGET_CLASS}[data-model-id="{model_id}"]')
            assert block is not None, f"{path.name}: widget {model_id} is not drawn"
            assert block.find_parent(attrs={"data-mime-type": "text/html"}) is not None
            text = block.get_text()
            seen_widgets += 1
            for model in _subtree(models, model_id):
                kind, state = model["model_name"], model["state"]
                if kind == "ImageModel":
                    src = f'data:image/{state["format"]};base64,{model["buffers"][0]["data"]}'
                    assert block.find("img", src=src) is not None, f"{path.name}: the widget's figure is missing"
                    seen_figures += 1
                elif kind in ("HTMLModel", "LabelModel"):
                    readout = BeautifulSoup(state["value"], "html.parser").get_text()
                    assert readout and readout in text, f"{path.name}: readout {readout!r} missing"
                elif kind.endswith("SliderModel"):
                    slider = block.find("input", attrs={"type": "range", "aria-label": state["description"]})
                    assert slider is not None and slider.has_attr("disabled"), f"{path.name}: no {state['description']} slider"
                    shown = slider.find_next_sibling("span").get_text()
                    if kind == "SelectionSliderModel":  # a slider over labelled options shows the chosen label
                        assert shown == state["_options_labels"][state["index"]]
                    else:
                        assert shown.rstrip("0").rstrip(".") == f"{state['value']:g}" or shown == str(state["value"])
                elif kind == "DropdownModel":
                    chosen = block.find("option", selected=True)
                    assert chosen is not None and chosen.get_text() == state["_options_labels"][state["index"]]
    assert seen_widgets >= 7 and seen_figures >= 4


def test_a_slider_shows_its_value_as_the_widget_formats_it(handouts):
    out, _ = handouts
    page01 = page_of(out, NOTEBOOK_DIR / "01_knowledge_distillation.ipynb")
    assert '<span class="lecture-widget-value">4.00</span>' in page01  # FloatLogSlider, readout_format .3g
    page10 = page_of(out, NOTEBOOK_DIR / "10_dynamic_computation.ipynb")
    assert '<span class="lecture-widget-value">0.900</span>' in page10  # FloatSlider, .3f


SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
SRC = re.compile(r"""\bsrc\s*=\s*["']?([^"'\s>]+)""", re.I)
VERSIONED = re.compile(r"[/@]v?\d+\.\d+\.\d+(?:[/?#.-]|$)")


def test_every_script_a_handout_loads_is_pinned(handouts):
    out, _ = handouts
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == len(notebook_paths()) + 1
    for path in pages:
        page = path.read_text()
        for attributes, body in SCRIPT.findall(page):
            urls = SRC.findall(attributes) + re.findall(r"""["'](https?://[^"']+)["']""", body)
            for url in urls:
                assert "@*" not in url and "latest" not in url, f"{path.name}: unpinned {url}"
                assert VERSIONED.search(url), f"{path.name}: {url} names no version"
        assert "@*" not in page and "latest.js" not in page


def test_pages_load_a_script_only_where_they_need_one(handouts):
    out, _ = handouts
    assert "<script" not in (out / "index.html").read_text()
    for path in notebook_paths():
        nb = nbformat.read(path, as_version=4)
        sources = SRC.findall(" ".join(a for a, _ in SCRIPT.findall(page_of(out, path))))
        # decided here from the notebook itself, not by the renderer's own rule: TeX in the markdown
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        has_math = bool(re.search(r"\$[^$\n]+\$|\\\(|\\\[", markdown))
        assert sources == ([MATHJAX_URL] if has_math else []), f"{path.name} loads {sources}"
    # notebook 10 has two sliders and no mathematics: its page is entirely self-contained
    assert "<script" not in page_of(out, NOTEBOOK_DIR / "10_dynamic_computation.ipynb")


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def fake_notebook():
    """A notebook whose one output shows an HBox of every widget kind the renderer knows, and
    some it does not."""
    def model(name, **state):
        return {"model_name": f"{name}Model", "model_module": "@jupyter-widgets/controls",
                "model_module_version": "2.0.0", "state": state}

    state = {
        "box": model("HBox", children=[f"IPY_MODEL_{k}" for k in
                                      ("out", "label", "check", "toggles", "image", "mystery", "gone", "hidden")]),
        "out": model("Output", outputs=[
            {"output_type": "stream", "name": "stdout", "text": "trained 3 epochs\n"},
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG, "text/plain": "<Figure>"}},
            {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<b>bold</b>"}},
        ]),
        "label": model("Label", value="a <label>"),
        "check": model("Checkbox", description="per channel", value=True),
        "toggles": model("ToggleButtons", _options_labels=["mean", "median"], index=1, description="centre"),
        "image": model("Image", format="png", value=PNG),  # bytes in the state, not in buffers
        "mystery": model("FancyDial", description="speed", value=7),
        "hidden": model("Label", value="never shown", layout="IPY_MODEL_hiddenlayout"),
        "hiddenlayout": {"model_name": "LayoutModel", "state": {"display": "none"}},
    }
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    nb.cells.append(nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output(
        "execute_result", data={WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0},
                                "text/plain": "HBox(...)"}, execution_count=1)]))
    return nb


def test_static_widgets_draws_other_kinds_and_names_what_it_cannot():
    nb = fake_notebook()
    kept = nbformat.writes(nb)
    page = static_widgets(nb)
    assert nbformat.writes(nb) == kept, "the notebook itself was changed"
    assert "widgets" not in page.metadata
    output = page.cells[0].outputs[0]
    assert set(output["data"]) == {"text/html"}
    shown = output["data"]["text/html"]
    assert "<pre>trained 3 epochs\n</pre>" in shown and "<b>bold</b>" in shown
    assert shown.count(f'<img src="data:image/png;base64,{PNG}"') == 2  # the Output's figure and the Image
    assert "a &lt;label&gt;" in shown
    assert '<input type="checkbox" disabled checked>' in shown and "per channel" in shown
    assert 'selected" aria-pressed="true">median</span>' in shown
    assert "[FancyDial widget: speed value 7]" in shown  # unknown kind: says what it was
    assert "[a widget whose state was not saved (gone)]" in shown
    assert "never shown" not in shown
    assert render_widget("nothing", {}).startswith('<span class="lecture-widget-unknown">')


def test_shrink_makes_a_small_png():
    from tools.screenshots import shrink

    image = Image.new("RGB", (1600, 800), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    small = Image.open(io.BytesIO(shrink(buffer.getvalue())))
    assert small.size == (640, 320) and small.format == "PNG"
