"""Sliders that redraw a real network's output.

Every widget here has one shape (``Explorer``): *controls* (the sliders a learner moves), a
*compute* step (the controls' values in, a result dict out, no drawing: it calls the topic
module, e.g. ``quantization.evaluate_quantized``) and a *render* step (the result drawn in the
figure and written as the readout text below it). A move runs ``update(value)``, which is
``render(compute(value))``; ``.result`` holds what the last move computed, so a test (or the
benchmark) can drive a widget without a browser:
``w = temperature_slider(logits); w.slider.value = 10; w.result``.
Callbacks stay fast: the figure is made once and only its data is updated.
"""
from __future__ import annotations

import io
import math

import ipywidgets as widgets
import numpy as np
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # a Figure needs no pyplot state, so it never shows twice

from .architecture import conv_costs, evaluate_low_rank_layer
from .clustering import evaluate_clustered_layer
from .distillation import bias_shift_outcome, entropy, softmax_with_temperature
from .dynamic import exit_outcome, threshold_outcome, width_outcome
from .quantization import evaluate_quantized


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


class Explorer(widgets.VBox):
    """The base shape of the lecture's widgets: controls -> compute -> render.

    * ``controls``: the ipywidgets a learner moves, shown first; any change runs ``update()``;
    * ``compute(value)``: the controls' value(s) in (``value()`` reads them), a result dict out;
      pure, no drawing: the lecture's logic stays in the topic modules;
    * ``render(result)``: ``draw(result)`` updates the figure (if the widget has one, ``plot``) and
      ``readout_text(result)`` gives the HTML shown below it.
    """

    def __init__(self, controls, plot: BlitFigure | None = None):
        self.controls, self.plot = list(controls), plot
        self.image = widgets.Image(format="png") if plot is not None else None
        self.readout = widgets.HTML()
        self.result = None
        for control in self.controls:
            control.observe(lambda change: self.update(), names="value")
        super().__init__([*self.controls, *([self.image] if plot is not None else []), self.readout])
        self.update()

    def value(self):
        """What ``compute`` takes: the (first) control's value."""
        return self.controls[0].value

    def compute(self, value) -> dict:
        """The result dict for the controls' ``value``: calls the topic module, draws nothing
        (each widget overrides it)."""
        raise NotImplementedError

    def readout_text(self, result: dict) -> str:
        """The HTML shown below the figure for ``result`` (each widget overrides it)."""
        raise NotImplementedError

    def draw(self, result: dict) -> None:
        """Update the figure's changing artists (widgets with a figure override this)."""

    def render(self, result: dict) -> None:
        """Show ``result``: redraw the figure (if any) as a PNG, then write the readout text."""
        if self.plot is not None:
            self.draw(result)
            self.image.value = self.plot.png()
        self.readout.value = self.readout_text(result)

    def update(self, value=None) -> dict:
        """``render(compute(value))`` (by default, the controls' current value); returns the result."""
        self.result = self.compute(self.value() if value is None else value)
        self.render(self.result)
        return self.result


class TemperatureSlider(Explorer):
    """A log-scale temperature slider (about 0.5 to 100) over one image's logits.

    Shows the softened distribution softmax(logits / T) as bars, with the
    probabilities and the entropy as text. ``.result["probabilities"]`` is the probability tensor.
    """

    def __init__(self, logits, temperature: float = 1.0, min_temperature: float = 0.5,
                 max_temperature: float = 100.0, title: str = ""):
        self.logits = logits.detach().float().flatten().cpu()
        self.slider = widgets.FloatLogSlider(
            value=temperature, base=10, min=math.log10(min_temperature), max=math.log10(max_temperature),
            step=0.01, description="T", readout_format=".3g", continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        plot = BlitFigure(5, 2.4)
        plot.figure.subplots_adjust(left=0.13, right=0.98, bottom=0.2, top=0.88)
        ax = plot.figure.add_subplot()
        classes = range(len(self.logits))
        self.bars = plot.add_animated(*ax.bar(classes, [0.0] * len(self.logits), color="tab:blue"))
        ax.set_xticks(list(classes))
        ax.set_ylim(0, 1)
        ax.set_xlabel("class")
        ax.set_ylabel("probability")
        ax.set_title(f"{title}softmax(logits / T)", fontsize=10)  # T is in the readout below
        super().__init__([self.slider], plot)

    def compute(self, temperature: float) -> dict:
        """softmax(logits / T) and its entropy."""
        probs = softmax_with_temperature(self.logits, temperature)
        return {"temperature": temperature, "probabilities": probs, "entropy": entropy(probs).item()}

    def draw(self, result):
        """Set each bar's height to its class's softened probability."""
        for bar, p in zip(self.bars, result["probabilities"].tolist()):
            bar.set_height(p)

    def readout_text(self, result):
        """T, the three most probable classes and the entropy (it grows with T)."""
        probs = result["probabilities"]
        top = probs.argsort(descending=True)[:3].tolist()
        return (f"<code>T = {result['temperature']:.3g}: "
                + ", ".join(f"p({c}) = {probs[c]:.3f}" for c in top)
                + f"; entropy = {result['entropy']:.3f} nats (uniform: {math.log(len(probs)):.3f})</code>")


def temperature_slider(logits, temperature: float = 1.0, title: str = "") -> TemperatureSlider:
    """The temperature slider of notebook 01 over one image's teacher logits."""
    return TemperatureSlider(logits, temperature=temperature, title=title)


class BiasShiftSlider(Explorer):
    """Notebook 02: the bias added to the never-seen digit's logit. The logits are computed once; a
    move shifts one column (``distillation.bias_shift_outcome``) and marks the shift on the curves of
    errors overall, errors on that digit and other digits taken for it, drawn once beforehand, with
    the shift chosen on the validation split (``chosen``) as a dashed line."""

    def __init__(self, logits, labels, cls: int, chosen: float | None = None, shift: float = 0.0,
                 max_shift: float = 10.0, step: float = 0.25):
        self.logits, self.labels, self.cls = logits.detach().float().cpu(), labels.cpu(), int(cls)
        self.slider = widgets.FloatSlider(value=shift, min=0.0, max=max_shift, step=step, description="shift",
                                          readout_format=".2f", continuous_update=True, layout=widgets.Layout(width="420px"))
        plot = BlitFigure(5.5, 2.8)
        plot.figure.subplots_adjust(left=0.12, right=0.97, bottom=0.17, top=0.9)
        ax = plot.figure.add_subplot()
        grid = [i * step for i in range(round(max_shift / step) + 1)]
        curve = [self.compute(s) for s in grid]
        for key, label in (("errors", "errors, all digits"), ("errors_on_cls", f"errors on {cls}s"),
                           ("false_cls", f"other digits taken for {cls}")):
            ax.plot(grid, [c[key] for c in curve], label=label, lw=1)
        if chosen is not None:
            ax.axvline(chosen, color="gray", ls="--", lw=1, label=f"chosen on validation: +{chosen:g}")
        ax.set_xlabel(f"added to the bias of class {cls}")
        ax.set_ylabel("test images")
        ax.legend(fontsize=7)
        ax.set_title("red: the current shift", fontsize=10)
        self.line = plot.add_animated(ax.axvline(shift, color="tab:red", lw=1.5))[0]
        super().__init__([self.slider], plot)

    def compute(self, shift: float) -> dict:
        """Errors overall, on the digit and false answers of it, with the digit's logit raised by ``shift``."""
        return bias_shift_outcome(self.logits, self.labels, self.cls, shift)

    def draw(self, result):
        """Move the red line to this shift."""
        self.line.set_xdata([result["shift"], result["shift"]])

    def readout_text(self, r):
        """The three error counts at this shift."""
        return (f"<code>shift +{r['shift']:.2f}: {r['errors']:,} test errors of {r['n']:,}; "
                f"{r['errors_on_cls']} of the {r['n_cls']:,} {r['cls']}s missed; "
                f"{r['false_cls']} images of other digits taken for {r['cls']}</code>")


class _LayerHistogramSlider(Explorer):
    """An integer slider over a trained network: the histogram of one layer's weights is drawn
    once; each move recomputes the compressed network, redraws the levels or centres (``marks``)
    as vertical lines over the histogram, and evaluates test accuracy."""

    max_lines = 64  # more levels than this are too dense to draw one by one

    def __init__(self, model, layer, images, labels, description, value, min_value, max_value, xlabel):
        self.model, self.layer, self.images, self.labels = model, layer, images, labels
        self.weights = model.get_parameter(f"{layer}.weight").detach()
        self.slider = widgets.IntSlider(value=value, min=min_value, max=max_value, description=description,
                                        continuous_update=False, layout=widgets.Layout(width="420px"))
        plot = BlitFigure(6, 2.6)
        plot.figure.subplots_adjust(left=0.1, right=0.98, bottom=0.18, top=0.9)
        ax = plot.figure.add_subplot()
        ax.hist(self.weights.flatten().numpy(), bins=200, color="lightgray", log=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("weights (log scale)")
        ax.set_title(f"layer {layer}: {self.weights.numel():,} weights", fontsize=10)
        self.lines = plot.add_animated(ax.vlines([], 0, 1, transform=ax.get_xaxis_transform(), colors="tab:red", lw=0.8))[0]
        self.note = plot.add_animated(ax.text(0.01, 0.92, "", transform=ax.transAxes, fontsize=9, va="top"))[0]
        super().__init__([self.slider], plot)

    def marks(self, result) -> tuple[torch.Tensor, str]:
        """The positions of the vertical lines and their label."""
        raise NotImplementedError

    def draw(self, result):
        """Draw the ``marks`` as vertical lines over the histogram (none past ``max_lines``)."""
        positions, label = self.marks(result)
        if len(positions) <= self.max_lines:
            self.lines.set_segments([[(x, 0), (x, 1)] for x in positions.tolist()])
            self.note.set_text(label)
        else:
            self.lines.set_segments([])
            self.note.set_text(f"{label} (too many to draw)")


class BitsSlider(_LayerHistogramSlider):
    """Notebook 05: every weight matrix quantized to b bits (1 to 16). ``.result`` is
    ``quantization.evaluate_quantized``'s dict: ``bits``, ``accuracy``, ``bytes`` (the packed model,
    measured) and the ``levels`` of the layer drawn."""

    def __init__(self, model, layer, images, labels, bits: int = 4, per_channel: bool = False):
        self.per_channel = per_channel
        super().__init__(model, layer, images, labels, "bits", bits, 1, 16, "weight value (red: quantization levels)")

    def compute(self, bits: int) -> dict:
        """Quantize every weight matrix to ``bits`` bits and measure accuracy and packed size."""
        return evaluate_quantized(self.model, bits, self.images, self.labels, self.per_channel, layer=self.layer)

    def marks(self, result):
        """The quantization levels of the layer drawn."""
        return result["levels"], f"{len(result['levels']):,} levels"

    def readout_text(self, result):
        """Bits per weight, test accuracy and the packed model's bytes."""
        return (f"<code>{result['bits']} bits per weight: test accuracy {100 * result['accuracy']:.2f}%, "
                f"stored in {result['bytes']:,} bytes</code>")


class ClusterSlider(_LayerHistogramSlider):
    """Notebook 06: one layer re-clustered into k groups (2 to 256), the rest of the network
    unchanged. ``.result`` is ``clustering.evaluate_clustered_layer``'s dict: ``num_clusters``,
    ``accuracy``, ``bits_per_weight`` (log2 k for the indices, plus the codebook shared by the
    layer) and ``codebook``."""

    def __init__(self, model, layer, images, labels, num_clusters: int = 4):
        super().__init__(model, layer, images, labels, "clusters", num_clusters, 2, 256,
                         "weight value (red: cluster centres)")

    def compute(self, num_clusters: int) -> dict:
        """Cluster the layer's weights into ``num_clusters`` shared values (1-D k-means, C19); measure accuracy."""
        return evaluate_clustered_layer(self.model, self.layer, num_clusters, self.images, self.labels)

    def marks(self, result):
        """The cluster centres (the codebook)."""
        return result["codebook"], f"{result['num_clusters']} centres"

    def readout_text(self, result):
        """Clusters, test accuracy and bits per weight (ceil(log2 k) plus the codebook's share)."""
        return (f"<code>{result['num_clusters']} clusters: test accuracy {100 * result['accuracy']:.2f}%, "
                f"{result['bits_per_weight']:.3f} bits per weight in this layer (32 before)</code>")


def bits_slider(model, layer, images, labels, bits: int = 4, per_channel: bool = False) -> BitsSlider:
    """The bits slider of notebook 05."""
    return BitsSlider(model, layer, images, labels, bits, per_channel)


def cluster_slider(model, layer, images, labels, num_clusters: int = 4) -> ClusterSlider:
    """The cluster-count slider of notebook 06."""
    return ClusterSlider(model, layer, images, labels, num_clusters)


class ConvCountSliders(Explorer):
    """Notebook 08: sliders for input channels I, output channels O and kernel size k. Shows the
    parameters of a normal and a depthwise separable convolution (from real modules), the ratio
    against the formula 1/O + 1/k^2, and multiply-accumulates on a 32 x 32 input counted by
    FlopCounterMode (``architecture.conv_costs``, on the meta device: a move answers at once)."""

    def __init__(self, in_channels: int = 2, out_channels: int = 4, kernel_size: int = 3, size: int = 32):
        self.size = size
        self.i = widgets.IntSlider(value=in_channels, min=1, max=512, description="I (in)", continuous_update=False)
        self.o = widgets.IntSlider(value=out_channels, min=1, max=512, description="O (out)", continuous_update=False)
        self.k = widgets.IntSlider(value=kernel_size, min=1, max=7, description="k", continuous_update=False)
        super().__init__([self.i, self.o, self.k])

    def value(self):
        """The three sliders' values: (I, O, k)."""
        return self.i.value, self.o.value, self.k.value

    def compute(self, value) -> dict:
        """Parameters and multiply-accumulates of a normal and a depthwise separable convolution."""
        return conv_costs(*value, size=self.size)

    def readout_text(self, r):
        """A table of both convolutions' costs, and their ratio against 1/O + 1/k²."""
        return (
            f"<table><tr><th></th><th>parameters</th><th>multiply-accumulates ({r['size']}x{r['size']} input)</th></tr>"
            f"<tr><td>normal k*k*I*O</td><td>{r['normal']:,}</td><td>{r['macs_normal']:,}</td></tr>"
            f"<tr><td>depthwise k*k*I + pointwise I*O</td><td>{r['depthwise']:,} + {r['pointwise']:,} = "
            f"{r['separable']:,}</td><td>{r['macs_separable']:,}</td></tr></table>"
            f"<code>ratio {r['ratio']:.4f}; formula 1/O + 1/k² = {r['formula']:.4f}</code>")


class RankSlider(Explorer):
    """Notebook 09: layer ``layer`` (a Linear, N -> M) replaced by its truncated SVD at rank K.
    The SVD is computed once; a move rebuilds the two factors, evaluates test accuracy and counts
    the parameters (``architecture.evaluate_low_rank_layer``). ``.result``: ``rank``, ``accuracy``,
    ``parameters`` (of the two factors), ``formula`` (K*(N+M) + M) and ``full`` (N*M + M)."""

    def __init__(self, model, layer: str, images, labels, rank: int = 20):
        self.model, self.layer, self.images, self.labels = model, layer, images, labels
        self.linear = model.get_submodule(layer)
        self.svd = torch.linalg.svd(self.linear.weight.detach().double(), full_matrices=False)
        limit = min(self.linear.in_features, self.linear.out_features)
        self.slider = widgets.IntSlider(value=rank, min=1, max=limit, description="rank K", continuous_update=False,
                                        layout=widgets.Layout(width="420px"))
        super().__init__([self.slider])

    def compute(self, rank: int) -> dict:
        """Replace the layer by its rank-``rank`` SVD factors; measure accuracy and count parameters."""
        return evaluate_low_rank_layer(self.model, self.layer, rank, self.images, self.labels, svd=self.svd)

    def readout_text(self, r):
        """Rank, test accuracy and the factors' parameters against the full layer's."""
        return (f"<code>rank {r['rank']}: test accuracy {100 * r['accuracy']:.2f}%; layer parameters {r['parameters']:,} "
                f"(K*(N+M) + M = {r['formula']:,}) instead of {r['full']:,}</code>")


class ExitBudget(Explorer):
    """Notebook 10: a dropdown choosing the exit (the compute budget) of an early-exit network;
    shows that exit's accuracy and multiply-accumulates, computed beforehand (``dynamic.exit_outcome``)."""

    def __init__(self, accuracies, macs, exit_index: int | None = None):
        self.accuracies, self.macs = list(accuracies), list(macs)
        options = [(f"exit {k + 1} ({m:,} MACs)", k) for k, m in enumerate(self.macs)]
        self.dropdown = widgets.Dropdown(options=options, value=len(options) - 1 if exit_index is None else exit_index,
                                         description="budget")
        super().__init__([self.dropdown])

    def compute(self, k: int) -> dict:
        """Exit ``k`` as the budget (every image stops there): its accuracy and multiply-accumulates."""
        return exit_outcome(self.accuracies, self.macs, k)

    def readout_text(self, r):
        """The exit's test accuracy and multiply-accumulates, and their share of the full network's."""
        return (f"<code>exit {r['exit'] + 1}: test accuracy {100 * r['accuracy']:.2f}%, "
                f"{r['macs']:,} multiply-accumulates per image ({100 * r['share']:.0f}% of the full network)</code>")


class WidthSlider(Explorer):
    """Notebook 10: the width of a slimmable network (C30). A move runs the network at that width on
    the test images, its first units only (``dynamic.width_outcome``): accuracy and multiply-accumulates."""

    def __init__(self, model, images, labels, width: float | None = None):
        self.model, self.images, self.labels = model, images, labels
        self.macs = model.width_macs()  # counted once: a move only runs the network
        self.slider = widgets.SelectionSlider(options=[(f"{100 * w:.0f}%", w) for w in model.widths],
                                              value=model.widths[-1] if width is None else width,
                                              description="width", continuous_update=True)
        super().__init__([self.slider])

    def compute(self, width: float) -> dict:
        """The network run at ``width`` on the test images: accuracy, MACs per image, share of full width's."""
        return width_outcome(self.model, self.images, self.labels, width, self.macs)

    def readout_text(self, r):
        """Units per hidden layer, test accuracy, multiply-accumulates and their share of full width's."""
        return (f"<code>width {100 * r['width']:.0f}% ({r['units']} units per hidden layer): test accuracy "
                f"{100 * r['accuracy']:.2f}%, {r['macs']:,} multiply-accumulates per image "
                f"({100 * r['share']:.0f}% of full width)</code>")


class ThresholdSlider(Explorer):
    """Notebook 10: the exit threshold. Every exit's softmax output on the test images is computed
    once; a move only decides, per image, the first exit confident enough (``dynamic.threshold_outcome``),
    then marks the point on the accuracy / average-MACs curve drawn once beforehand."""

    def __init__(self, exit_probabilities, labels, macs, threshold: float = 0.9):
        self.probs, self.labels = exit_probabilities, labels
        self.macs = torch.tensor(macs, dtype=torch.double)
        self.slider = widgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.005, description="threshold",
                                          readout_format=".3f", continuous_update=True, layout=widgets.Layout(width="420px"))
        plot = BlitFigure(5.5, 2.8)
        plot.figure.subplots_adjust(left=0.14, right=0.97, bottom=0.17, top=0.9)
        ax = plot.figure.add_subplot()
        curve = [self.compute(i / 200) for i in range(201)]
        accuracies = [100 * c["accuracy"] for c in curve]
        ax.plot([c["average_macs"] / 1e3 for c in curve], accuracies, color="tab:blue", lw=1)
        ax.set_xlabel("average multiply-accumulates per image (thousands)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("every threshold from 0 to 1; red: the current one", fontsize=10)
        ax.set_ylim(min(accuracies) - 0.5, max(accuracies) + 0.3)
        self.marker = plot.add_animated(*ax.plot([], [], "o", color="tab:red", ms=8))[0]
        super().__init__([self.slider], plot)

    def compute(self, threshold: float) -> dict:
        """Each image leaves at the first exit whose top probability reaches ``threshold``:
        accuracy, average multiply-accumulates and how many images leave at each exit."""
        return threshold_outcome(self.probs, self.labels, self.macs, threshold)

    def draw(self, result):
        """Move the red point to this threshold's place on the accuracy / MACs curve."""
        self.marker.set_data([result["average_macs"] / 1e3], [100 * result["accuracy"]])

    def readout_text(self, r):
        """Test accuracy, average multiply-accumulates (and the share saved), images per exit."""
        return (f"<code>threshold {r['threshold']:.3f}: test accuracy {100 * r['accuracy']:.2f}%, "
                f"{r['average_macs']:,.0f} MACs per image on average ({100 * r['saved']:.0f}% saved); "
                f"images leaving at each exit: {r['exits']}</code>")
