"""Sliders that redraw a real network's output.

Each builder returns an ipywidgets container whose ``.result`` holds what the
last move computed, so a test (or the benchmark) can drive it without a browser:
``w = temperature_slider(logits); w.slider.value = 10; w.result``.
Callbacks stay fast: the figure is made once and only its data is updated.
"""
from __future__ import annotations

import io
import math

import ipywidgets as widgets
from matplotlib.figure import Figure  # a Figure needs no pyplot state, so it never shows twice

from .distillation import entropy, softmax_with_temperature


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


class TemperatureSlider(widgets.VBox):
    """A log-scale temperature slider (about 0.5 to 100) over one image's logits.

    Shows the softened distribution softmax(logits / T) as bars, with the
    probabilities and the entropy as text. ``.result`` is the probability tensor.
    """

    def __init__(self, logits, temperature: float = 1.0, min_temperature: float = 0.5,
                 max_temperature: float = 100.0, title: str = ""):
        self.logits = logits.detach().float().flatten().cpu()
        self.slider = widgets.FloatLogSlider(
            value=temperature, base=10, min=math.log10(min_temperature), max=math.log10(max_temperature),
            step=0.01, description="T", readout_format=".3g", continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.figure = Figure(figsize=(5, 2.2), dpi=72, layout="constrained")
        ax = self.figure.add_subplot()
        classes = range(len(self.logits))
        self.bars = ax.bar(classes, [0.0] * len(self.logits), color="tab:blue")
        ax.set_xticks(list(classes))
        ax.set_ylim(0, 1)
        ax.set_xlabel("class")
        ax.set_ylabel("probability")
        self.axes = ax
        self.title = title
        self.result = None
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        super().__init__([self.slider, self.image, self.readout])
        self.update(self.slider.value)

    def update(self, temperature: float):
        """Recompute softmax(logits / T), redraw the bars, return the probabilities."""
        probs = softmax_with_temperature(self.logits, temperature)
        for bar, p in zip(self.bars, probs.tolist()):
            bar.set_height(p)
        self.axes.set_title(f"{self.title}softmax(logits / T), T = {temperature:.3g}", fontsize=10)
        self.image.value = _png(self.figure)
        top = probs.argsort(descending=True)[:3].tolist()
        self.readout.value = (
            f"<code>T = {temperature:.3g}: "
            + ", ".join(f"p({c}) = {probs[c]:.3f}" for c in top)
            + f"; entropy = {entropy(probs).item():.3f} nats (uniform: {math.log(len(probs)):.3f})</code>"
        )
        self.result = probs
        return probs


def temperature_slider(logits, temperature: float = 1.0, title: str = "") -> TemperatureSlider:
    """The temperature slider of notebook 01 over one image's teacher logits."""
    return TemperatureSlider(logits, temperature=temperature, title=title)
