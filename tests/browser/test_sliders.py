"""Every slider in a real browser: JupyterLab in headless Chromium runs the notebook, the test
moves the slider with the keyboard, and checks that the text shown below it is what the
lecture's helper functions give for the new setting (computed separately in the same kernel).

Screenshots of each slider after the move are saved in build/browser/ (``make screenshots``
copies three of them into docs/). Without Chromium these tests are skipped with the reason;
``make test-browser`` sets LECTURE_REQUIRE_BROWSER=1 so that they fail instead.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.notebooks import NOTEBOOK_DIR

from .jupyter import CHROMIUM, CHROMIUM_ARGS, JupyterLab, browser_missing, run_in_kernel

SCREENSHOTS = NOTEBOOK_DIR.parent / "build" / "browser"
REASON = browser_missing()
if REASON and os.environ.get("LECTURE_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"browser tests required (make test-browser) but they cannot run: {REASON}")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(REASON is not None, reason=f"browser tests skipped: {REASON}")]

FIND = """
def _find(kind):
    return next(v for v in reversed(list(Out.values())) if type(v).__name__ == kind)
"""


@dataclass
class Slider:
    notebook: str
    marker: str  # text of the cell that shows the widget
    kind: str  # the widget's class
    presses: int  # ArrowRight presses on the (first) slider handle
    expected: str  # code run in the kernel that prints the text the readout must contain


SLIDERS = [
    Slider("01_knowledge_distillation.ipynb", "temperature_slider(", "TemperatureSlider", 10, """
from lecture_utils import softmax_with_temperature
w = _find("TemperatureSlider"); v = w.slider.value; p = softmax_with_temperature(w.logits, v); c = int(p.argmax())
print(json.dumps({"value": v, "text": f"T = {v:.3g}: p({c}) = {p[c]:.3f}"}))
"""),
    Slider("05_parameter_quantization.ipynb", "bits_slider(", "BitsSlider", 2, """
from lecture_utils import evaluate
from lecture_utils.quantization import quantize_model
w = _find("BitsSlider"); b = w.slider.value
accuracy = evaluate(quantize_model(w.model, b, w.per_channel), w.images, w.labels).accuracy
print(json.dumps({"value": b, "text": f"{b} bits per weight: test accuracy {100 * accuracy:.2f}%"}))
"""),
    Slider("06_weight_clustering.ipynb", "cluster_slider(", "ClusterSlider", 4, """
import copy, torch
from lecture_utils import evaluate
from lecture_utils.clustering import cluster_weights
w = _find("ClusterSlider"); k = w.slider.value
codebook, indices = cluster_weights(w.weights, k)
m = copy.deepcopy(w.model)
with torch.no_grad():
    dict(m.named_parameters())[f"{w.layer}.weight"].copy_(codebook[indices])
accuracy = evaluate(m, w.images, w.labels).accuracy
print(json.dumps({"value": k, "text": f"{k} clusters: test accuracy {100 * accuracy:.2f}%"}))
"""),
    Slider("08_depthwise_separable_convolution.ipynb", "ConvCountSliders(", "ConvCountSliders", 3, """
from lecture_utils import conv_parameter_counts
w = _find("ConvCountSliders"); counts = conv_parameter_counts(w.i.value, w.o.value, w.k.value)
print(json.dumps({"value": w.i.value, "text": f"ratio {counts.ratio:.4f}; formula 1/O + 1/k² = {1 / w.o.value + 1 / w.k.value ** 2:.4f}"}))
"""),
    Slider("09_low_rank_factorization.ipynb", "RankSlider(", "RankSlider", 5, """
import copy
from lecture_utils import evaluate, low_rank_factorize
w = _find("RankSlider"); K = w.slider.value
m = copy.deepcopy(w.model); setattr(m, w.layer, low_rank_factorize(w.linear, K))
accuracy = evaluate(m, w.images, w.labels).accuracy
print(json.dumps({"value": K, "text": f"rank {K}: test accuracy {100 * accuracy:.2f}%"}))
"""),
    Slider("10_dynamic_computation.ipynb", "ThresholdSlider(", "ThresholdSlider", 8, """
from lecture_utils.dynamic import exit_table
w = _find("ThresholdSlider"); v = w.slider.value
predictions, exits = exit_table(w.probs, v)
accuracy = (predictions == w.labels).double().mean().item()
print(json.dumps({"value": v, "text": f"threshold {v:.3f}: test accuracy {100 * accuracy:.2f}%"}))
"""),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab over a copy of the notebooks (running them in the browser must not touch the committed ones)."""
    root = tmp_path_factory.mktemp("notebooks")
    for slider in SLIDERS:
        shutil.copy(NOTEBOOK_DIR / slider.notebook, root / slider.notebook)
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


@pytest.mark.parametrize("slider", SLIDERS, ids=lambda s: s.notebook.split("_")[0] + "-" + s.kind)
def test_slider_moves_and_shows_what_the_helpers_give(lab, browser, slider):
    page = browser.new_page()
    try:
        # a workspace of its own, reset: only this notebook is open (no tab restored from an earlier test)
        workspace = Path(slider.notebook).stem
        page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{slider.notebook}?reset&token={lab.token}",
                  timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext", timeout=120_000)
        page.evaluate(RUN_ALL_AND_WAIT)
        page.wait_for_function(DONE, timeout=300_000, polling=1000)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] >> text=Traceback")
        assert errors.count() == 0, f"{slider.notebook}: a cell raised in the browser"

        index = page.evaluate("""(marker) => window.jupyterapp.shell.currentWidget.content.widgets
            .findIndex(c => c.model.sharedModel.getSource().includes(marker))""", slider.marker)
        assert index >= 0, f"no cell with {slider.marker!r}"
        cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
        cell.scroll_into_view_if_needed()
        handle = cell.locator(".noUi-handle").first
        handle.wait_for(state="visible", timeout=60_000)  # the widget rendered, not "Error displaying widget"
        assert cell.locator("text=Error displaying widget").count() == 0
        readout = cell.locator(".widget-html-content").last
        before = readout.inner_text()

        handle.focus()
        for _ in range(slider.presses):
            handle.press("ArrowRight")
        page.wait_for_function("([el, before]) => el.innerText !== before", arg=[readout.element_handle(), before],
                               timeout=60_000)
        page.wait_for_timeout(500)  # a slider with continuous updates may still be catching up
        page.wait_for_function(DONE, timeout=60_000)

        result = run_in_kernel(lab.kernel_connection_file(), "import json\n" + FIND + slider.expected)
        expected = json.loads(result.strip().splitlines()[-1])
        shown = readout.inner_text()
        assert shown != before
        assert expected["text"] in shown, f"the page shows {shown!r}; the helpers give {expected['text']!r}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        cell.locator(".jp-OutputArea").screenshot(path=str(SCREENSHOTS / f"{Path(slider.notebook).stem}.png"))
    finally:
        page.close()
        lab.shutdown_kernels()
