"""Every slider in a real browser: each is built in a small notebook of its own (the builders of
``benchmarks/sliders.py``, the ones ``make bench`` times), which JupyterLab in headless Chromium
runs; the test moves the slider with the keyboard and checks that the text shown below it is
what the topic module's compute function gives for the new setting, called again in the same
kernel and written by the widget's own ``readout_text``.

Screenshots of each slider after the move are saved as build/browser/<lecture notebook>[part].png
(``make screenshots`` copies three of them into docs/). Without Chromium these tests are skipped
with the reason; ``make test-browser`` sets LECTURE_REQUIRE_BROWSER=1 so that they fail instead.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from benchmarks.sliders import SLIDERS

from .jupyter import CHROMIUM, CHROMIUM_ARGS, JupyterLab, browser_missing, run_in_kernel

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "browser"
REASON = browser_missing()
if REASON and os.environ.get("LECTURE_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"browser tests required (make test-browser) but they cannot run: {REASON}")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(REASON is not None, reason=f"browser tests skipped: {REASON}")]

MOVED = "moved-by-test"  # a CSS class put on the control the test moves (the one `make bench` moves)

# Per slider: ArrowRight presses on the moved control's handle, and the topic module's compute
# function for the control's new value ``v``, with the widget's own data (``w``). The temperature's
# compute is the widget's: its topic functions (softmax_with_temperature, entropy) are called there.
CHECKS = {
    "temperature (01)": (10, "w.compute(v)"),
    "bias shift (02)": (3, "distillation.bias_shift_outcome(w.logits, w.labels, w.cls, v)"),
    "bits (05)": (2, "quantization.evaluate_quantized(w.model, v, w.images, w.labels, w.per_channel)"),
    "clusters (06)": (4, "clustering.evaluate_clustered_layer(w.model, w.layer, v, w.images, w.labels)"),
    "channels and kernel (08)": (3, "architecture.conv_costs(w.i.value, w.o.value, w.k.value, w.size)"),
    "rank (09)": (5, "architecture.evaluate_low_rank_layer(w.model, w.layer, v, w.images, w.labels)"),
    "exit threshold (10)": (8, "dynamic.threshold_outcome(w.probs, w.labels, w.macs, v)"),
    "width (10)": (2, "dynamic.width_outcome(w.model, w.images, w.labels, v)"),
}
assert CHECKS.keys() == SLIDERS.keys(), "every slider of benchmarks/sliders.py is checked here"

SETUP = f"""import html, json, re, sys
sys.path.insert(0, {str(REPO)!r})  # the repository: benchmarks.sliders
from benchmarks.sliders import SLIDERS
from lecture_utils import architecture, clustering, distillation, dynamic, quantization


def plain(readout):
    \"\"\"The readout's HTML as the text a browser shows, whitespace collapsed.\"\"\"
    return re.sub(r"\\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", readout))).strip()"""


def slider_notebook(name: str) -> nbformat.NotebookNode:
    """Imports, the builder, and the widget alone in the last cell (what the screenshot shows)."""
    build = f"w = SLIDERS[{name!r}].build()\nmoved = getattr(w, SLIDERS[{name!r}].control)\nmoved.add_class({MOVED!r})"
    cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(build), nbformat.v4.new_code_cell("w")]
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab over a folder of small notebooks, one a slider, named after its lecture notebook."""
    root = tmp_path_factory.mktemp("sliders")
    for name, case in SLIDERS.items():
        nbformat.write(slider_notebook(name), root / f"{case.stem}.ipynb")
    with JupyterLab(root) as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 1000})
        yield context
        context.close()


RUN_ALL_AND_WAIT = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  await app.commands.execute('notebook:run-all-cells');
}"""

DONE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')].map(e => e.textContent);
  return kernel && kernel.status === 'idle' && prompts.length > 0 && !prompts.some(t => t.includes('*'))
      && prompts.filter(t => /\\[\\d+\\]/.test(t)).length > 0;
}"""

SHOWS = "([el, text]) => el.innerText.replace(/\\s+/g, ' ').trim() === text"


def expected_readout(lab, name: str) -> dict:
    """The control's value in the kernel, and the readout the topic module's compute function gives for it."""
    code = f"v = moved.value\nprint(json.dumps({{'value': v, 'text': plain(w.readout_text({CHECKS[name][1]}))}}))"
    printed = run_in_kernel(lab.kernel_connection_file(), code)
    assert "ERROR" not in printed, printed
    return json.loads(printed.strip().splitlines()[-1])


@pytest.mark.parametrize("name", SLIDERS, ids=lambda n: f"{n[-3:-1]}-{n.split(' (')[0].replace(' ', '-')}")
def test_slider_moves_and_shows_what_the_topic_module_computes(lab, browser, name):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    notebook, presses = SLIDERS[name].stem, CHECKS[name][0]
    page = browser.new_page()
    try:
        # a workspace of its own, reset: only this notebook is open (no tab restored from an earlier test)
        page.goto(f"{lab.url}/lab/workspaces/{notebook}/tree/{notebook}.ipynb?reset&token={lab.token}",
                  timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext", timeout=120_000)
        page.evaluate(RUN_ALL_AND_WAIT)
        page.wait_for_function(DONE, timeout=300_000, polling=1000)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] >> text=Traceback")
        assert errors.count() == 0, f"{name}: a cell raised in the browser"

        cell = page.locator(".jp-Notebook .jp-Cell").last  # the cell that shows the widget
        cell.scroll_into_view_if_needed()
        handle = cell.locator(f".{MOVED} .noUi-handle")
        handle.wait_for(state="visible", timeout=60_000)  # the widget rendered, not "Error displaying widget"
        assert cell.locator("text=Error displaying widget").count() == 0
        readout = cell.locator(".widget-html-content").last
        before = readout.inner_text()

        handle.focus()
        for _ in range(presses):
            handle.press("ArrowRight")
        page.wait_for_function("([el, before]) => el.innerText !== before", arg=[readout.element_handle(), before],
                               timeout=60_000)
        page.wait_for_timeout(500)  # a slider with continuous updates may still be catching up
        page.wait_for_function(DONE, timeout=60_000)

        for attempt in range(3):  # should the kernel still have been between two values, ask again
            expected = expected_readout(lab, name)
            try:
                page.wait_for_function(SHOWS, arg=[readout.element_handle(), expected["text"]], timeout=10_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        shown = readout.inner_text()
        assert shown != before
        assert " ".join(shown.split()) == expected["text"], f"the page shows {shown!r}; computed {expected}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        cell.locator(".jp-OutputArea").screenshot(path=str(SCREENSHOTS / f"{notebook}.png"))
    finally:
        page.close()
        lab.shutdown_kernels()
