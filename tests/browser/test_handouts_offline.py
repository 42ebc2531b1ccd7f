"""A handout read offline: notebook 06's page, rendered by ``make handouts`` into a temporary
folder, opened from disk in headless Chromium with every request that is not ``file:`` or
``data:`` refused. The clustering widget must show its figure and its readout as saved, with no
widget manager from a CDN; the only thing the page may try to fetch is the pinned MathJax.
"""
from __future__ import annotations

import base64
import re
import struct

import nbformat
import pytest

from tools.handouts import MATHJAX_URL, STATIC_WIDGET_CLASS, widget_models, write_handouts
from tools.notebooks import NOTEBOOK_DIR, WIDGET_VIEW

from .jupyter import CHROMIUM, CHROMIUM_ARGS, browser_marks

pytestmark = browser_marks()

NOTEBOOK = NOTEBOOK_DIR / "06_weight_clustering.ipynb"


def saved_widget(nb):
    """The notebook's (first) widget as saved: its slider value, figure width and readout text."""
    models = widget_models(nb)
    model_id = next(o["data"][WIDGET_VIEW]["model_id"] for c in nb.cells if c.cell_type == "code"
                    for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {}))
    children = [models[ref[len("IPY_MODEL_"):]] for ref in models[model_id]["state"]["children"]]
    by_kind = {child["model_name"]: child for child in children}
    png = base64.b64decode(by_kind["ImageModel"]["buffers"][0]["data"])
    width = struct.unpack(">I", png[16:20])[0]  # the PNG header's IHDR width
    readout = re.sub(r"<[^>]+>", "", by_kind["HTMLModel"]["state"]["value"])
    return model_id, by_kind["IntSliderModel"]["state"]["value"], width, readout


def test_handout_shows_the_widget_figure_and_readout_offline(tmp_path):
    from playwright.sync_api import sync_playwright

    nb = nbformat.read(NOTEBOOK, as_version=4)
    model_id, value, width, readout = saved_widget(nb)
    write_handouts(tmp_path, paths=[NOTEBOOK])
    page_path = tmp_path / "06_weight_clustering.html"

    refused, errors = [], []

    def offline(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.route("**/*", offline)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_path.as_uri(), wait_until="load", timeout=60_000)

            widget = page.locator(f".{STATIC_WIDGET_CLASS}[data-model-id='{model_id}']")
            assert widget.count() == 1, "the widget output is not drawn as a static block"
            widget.scroll_into_view_if_needed()
            figure = widget.locator("img").first
            figure.wait_for(state="visible", timeout=10_000)
            loaded = figure.evaluate("img => img.complete && img.naturalWidth")
            assert loaded == width, f"the widget's figure is {loaded} px wide in the page, {width} px as saved"
            box = figure.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50
            assert readout in widget.inner_text(), f"readout {readout!r} not in {widget.inner_text()!r}"
            slider = widget.locator("input[type=range]")
            assert slider.is_visible() and slider.input_value() == str(value)
            assert page.locator("text=Error displaying widget").count() == 0
        finally:
            browser.close()

    assert not errors, f"the page raised: {errors}"
    assert set(refused) <= {MATHJAX_URL}, f"the page tried to fetch {sorted(set(refused) - {MATHJAX_URL})}"
