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
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # a Figure needs no pyplot state, so it never shows twice

from .distillation import entropy, softmax_with_temperature


class BlitFigure:
    """A matplotlib figure that a slider redraws fast.

    Axes, ticks and labels (the slow part: text layout) are drawn once and kept as a
    background; a move redraws only the artists that change (``animated=True``) over
    it, then encodes the pixels as PNG. No pyplot, so nothing is shown twice.
    """

    def __init__(self, width: float, height: float, dpi: int = 72):
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.background = None

    def add_animated(self, *artists):
        """Mark artists that change on each move; they are left out of the background."""
        for artist in artists:
            artist.set_animated(True)
        return artists

    def png(self) -> bytes:
        """Draw the animated artists over the cached background and return PNG bytes."""
        if self.background is None:
            self.canvas.draw()  # draws everything not animated
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.canvas.restore_region(self.background)
        for ax in self.figure.axes:
            for artist in ax.get_children():
                if artist.get_animated() and artist.get_visible():
                    ax.draw_artist(artist)
        pixels = np.asarray(self.canvas.buffer_rgba())
        buffer = io.BytesIO()
        PIL.Image.fromarray(pixels[..., :3]).save(buffer, format="png", compress_level=1)
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
        self.plot = BlitFigure(5, 2.4)
        self.plot.figure.subplots_adjust(left=0.13, right=0.98, bottom=0.2, top=0.88)
        ax = self.plot.figure.add_subplot()
        classes = range(len(self.logits))
        self.bars = self.plot.add_animated(*ax.bar(classes, [0.0] * len(self.logits), color="tab:blue"))
        ax.set_xticks(list(classes))
        ax.set_ylim(0, 1)
        ax.set_xlabel("class")
        ax.set_ylabel("probability")
        ax.set_title(f"{title}softmax(logits / T)", fontsize=10)  # T is in the readout below
        self.result = None
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        super().__init__([self.slider, self.image, self.readout])
        self.update(self.slider.value)

    def update(self, temperature: float):
        """Recompute softmax(logits / T), redraw the bars, return the probabilities."""
        probs = softmax_with_temperature(self.logits, temperature)
        for bar, p in zip(self.bars, probs.tolist()):
            bar.set_height(p)
        self.image.value = self.plot.png()
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
