"""Sliders that redraw a real network's output.

Each builder returns an ipywidgets container whose ``.result`` holds what the
last move computed, so a test (or the benchmark) can drive it without a browser:
``w = temperature_slider(logits); w.slider.value = 10; w.result``.
Callbacks stay fast: the figure is made once and only its data is updated.
"""
from __future__ import annotations

import copy
import io
import math

import ipywidgets as widgets
import numpy as np
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # a Figure needs no pyplot state, so it never shows twice
from torch import nn

from .architecture import DepthwiseSeparableConv2d, conv_parameter_counts, low_rank_factorize, multiply_accumulates
from .clustering import cluster_weights
from .distillation import entropy, softmax_with_temperature
from .models import count_parameters
from .quantization import quantization_params, quantize_model, quantized_model_bytes
from .huffman import fixed_length_bits
from .training import evaluate


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


class _LayerHistogramSlider(widgets.VBox):
    """An integer slider over a trained network: the histogram of one layer's weights is drawn
    once; each move recomputes the compressed network, redraws the levels or centres as
    vertical lines over the histogram, and evaluates test accuracy."""

    max_lines = 64  # more levels than this are too dense to draw one by one

    def __init__(self, model, layer, images, labels, description, value, min_value, max_value, xlabel):

        self.model, self.layer, self.images, self.labels = model, layer, images, labels
        self.weights = dict(model.named_parameters())[f"{layer}.weight"].detach()
        self.slider = widgets.IntSlider(value=value, min=min_value, max=max_value, description=description,
                                        continuous_update=False, layout=widgets.Layout(width="420px"))
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.plot = BlitFigure(6, 2.6)
        self.plot.figure.subplots_adjust(left=0.1, right=0.98, bottom=0.18, top=0.9)
        ax = self.plot.figure.add_subplot()
        ax.hist(self.weights.flatten().numpy(), bins=200, color="lightgray", log=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("weights (log scale)")
        ax.set_title(f"layer {layer}: {self.weights.numel():,} weights", fontsize=10)
        self.lines = self.plot.add_animated(ax.vlines([], 0, 1, transform=ax.get_xaxis_transform(), colors="tab:red", lw=0.8))[0]
        self.note = self.plot.add_animated(ax.text(0.01, 0.92, "", transform=ax.transAxes, fontsize=9, va="top"))[0]
        self.result = None
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        super().__init__([self.slider, self.image, self.readout])
        self.update(self.slider.value)

    def _draw(self, positions, label):
        """Lines at ``positions`` (None, or more than ``max_lines`` of them: only the label)."""
        if positions is not None and len(positions) <= self.max_lines:
            self.lines.set_segments([[(x, 0), (x, 1)] for x in positions])
            self.note.set_text(label)
        else:
            self.lines.set_segments([])
            self.note.set_text(f"{label} (too many to draw)")
        self.image.value = self.plot.png()


class BitsSlider(_LayerHistogramSlider):
    """Notebook 05: every weight matrix quantized to b bits (1 to 16). ``.result`` is a dict with
    ``bits``, ``accuracy`` and ``bytes`` (the packed model, measured)."""

    def __init__(self, model, layer, images, labels, bits: int = 4, per_channel: bool = False):
        self.per_channel = per_channel
        super().__init__(model, layer, images, labels, "bits", bits, 1, 16, "weight value (red: quantization levels)")

    def update(self, bits: int):
        quantized = quantize_model(self.model, bits, self.per_channel)
        accuracy = evaluate(quantized, self.images, self.labels).accuracy
        size = len(quantized_model_bytes(self.model, bits, self.per_channel))
        scale, zero_point = quantization_params(self.weights, bits)
        levels = ((torch.arange(2**bits) - zero_point) * scale).tolist() if 2**bits <= self.max_lines else None
        self._draw(levels, f"{2**bits:,} levels")
        self.readout.value = (f"<code>{bits} bits per weight: test accuracy {100 * accuracy:.2f}%, "
                              f"stored in {size:,} bytes</code>")
        self.result = {"bits": bits, "accuracy": accuracy, "bytes": size}
        return self.result


class ClusterSlider(_LayerHistogramSlider):
    """Notebook 06: one layer re-clustered into k groups (2 to 256), the rest of the network
    unchanged. ``.result`` is a dict with ``num_clusters``, ``accuracy``, ``bits_per_weight``
    (log2 k for the indices, plus the codebook shared by the layer) and ``codebook``."""

    def __init__(self, model, layer, images, labels, num_clusters: int = 4):
        self.working = copy.deepcopy(model)
        self.target = dict(self.working.named_parameters())[f"{layer}.weight"]
        super().__init__(model, layer, images, labels, "clusters", num_clusters, 2, 256,
                         "weight value (red: cluster centres)")

    def update(self, num_clusters: int):
        codebook, indices = cluster_weights(self.weights, num_clusters)
        with torch.no_grad():
            self.target.copy_(codebook[indices])
        accuracy = evaluate(self.working, self.images, self.labels).accuracy
        n = self.weights.numel()
        bits = (n * fixed_length_bits(num_clusters) + 32 * num_clusters) / n
        self._draw(codebook.tolist(), f"{num_clusters} centres")
        self.readout.value = (f"<code>{num_clusters} clusters: test accuracy {100 * accuracy:.2f}%, "
                              f"{bits:.3f} bits per weight in this layer (32 before)</code>")
        self.result = {"num_clusters": num_clusters, "accuracy": accuracy, "bits_per_weight": bits, "codebook": codebook}
        return self.result


def bits_slider(model, layer, images, labels, bits: int = 4, per_channel: bool = False) -> BitsSlider:
    """The bits slider of notebook 05."""
    return BitsSlider(model, layer, images, labels, bits, per_channel)


def cluster_slider(model, layer, images, labels, num_clusters: int = 4) -> ClusterSlider:
    """The cluster-count slider of notebook 06."""
    return ClusterSlider(model, layer, images, labels, num_clusters)


class ConvCountSliders(widgets.VBox):
    """Notebook 08: sliders for input channels I, output channels O and kernel size k. Shows the
    parameters of a normal and a depthwise separable convolution (from real modules), the ratio
    against the formula 1/O + 1/k^2, and multiply-accumulates on a 32 x 32 input counted by
    FlopCounterMode (on the meta device: shapes only, so a move answers at once)."""

    def __init__(self, in_channels: int = 2, out_channels: int = 4, kernel_size: int = 3, size: int = 32):
        self.size = size
        self.i = widgets.IntSlider(value=in_channels, min=1, max=512, description="I (in)", continuous_update=False)
        self.o = widgets.IntSlider(value=out_channels, min=1, max=512, description="O (out)", continuous_update=False)
        self.k = widgets.IntSlider(value=kernel_size, min=1, max=7, description="k", continuous_update=False)
        self.readout = widgets.HTML()
        self.result = None
        for s in (self.i, self.o, self.k):
            s.observe(lambda change: self.update(), names="value")
        super().__init__([self.i, self.o, self.k, self.readout])
        self.update()

    def update(self):
        i, o, k = self.i.value, self.o.value, self.k.value
        counts = conv_parameter_counts(i, o, k)
        with torch.device("meta"):
            shape = (1, i, self.size, self.size)
            macs_normal = multiply_accumulates(nn.Conv2d(i, o, k, padding=k // 2, bias=False), shape)
            macs_separable = multiply_accumulates(DepthwiseSeparableConv2d(i, o, k, padding=k // 2), shape)
        formula = 1 / o + 1 / (k * k)
        self.result = {"normal": counts.normal, "separable": counts.separable, "ratio": counts.ratio,
                       "formula": formula, "macs_normal": macs_normal, "macs_separable": macs_separable}
        self.readout.value = (
            "<table><tr><th></th><th>parameters</th><th>multiply-accumulates (32x32 input)</th></tr>"
            f"<tr><td>normal k*k*I*O</td><td>{counts.normal:,}</td><td>{macs_normal:,}</td></tr>"
            f"<tr><td>depthwise k*k*I + pointwise I*O</td><td>{counts.depthwise:,} + {counts.pointwise:,} = "
            f"{counts.separable:,}</td><td>{macs_separable:,}</td></tr></table>"
            f"<code>ratio {counts.ratio:.4f}; formula 1/O + 1/k² = {formula:.4f}</code>")
        return self.result


class RankSlider(widgets.VBox):
    """Notebook 09: layer ``layer`` (a Linear, N -> M) replaced by its truncated SVD at rank K.
    The SVD is computed once; a move rebuilds the two factors, evaluates test accuracy and counts
    the parameters. ``.result``: ``rank``, ``accuracy``, ``parameters`` (of the two factors)."""

    def __init__(self, model, layer: str, images, labels, rank: int = 20):

        self.model, self.layer, self.images, self.labels = model, layer, images, labels
        self.linear = dict(model.named_modules())[layer]
        self.svd = torch.linalg.svd(self.linear.weight.detach().double(), full_matrices=False)
        self.working = copy.deepcopy(model)
        limit = min(self.linear.in_features, self.linear.out_features)
        self.slider = widgets.IntSlider(value=rank, min=1, max=limit, description="rank K", continuous_update=False,
                                        layout=widgets.Layout(width="420px"))
        self.readout = widgets.HTML()
        self.result = None
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        super().__init__([self.slider, self.readout])
        self.update(rank)

    def update(self, rank: int):
        factors = low_rank_factorize(self.linear, rank, svd=self.svd)
        parent, _, child = self.layer.rpartition(".")
        setattr(self.working.get_submodule(parent) if parent else self.working, child, factors)
        accuracy = evaluate(self.working, self.images, self.labels).accuracy
        n, m = self.linear.in_features, self.linear.out_features
        params = count_parameters(factors)
        self.result = {"rank": rank, "accuracy": accuracy, "parameters": params}
        self.readout.value = (f"<code>rank {rank}: test accuracy {100 * accuracy:.2f}%; layer parameters {params:,} "
                              f"(K*(N+M) + M = {rank * (n + m) + m:,}) instead of {n * m + m:,}</code>")
        return self.result


class ExitBudget(widgets.VBox):
    """Notebook 10: a dropdown choosing the exit (the compute budget) of an early-exit network;
    shows that exit's accuracy and multiply-accumulates, computed beforehand."""

    def __init__(self, accuracies, macs, exit_index: int | None = None):
        self.accuracies, self.macs = list(accuracies), list(macs)
        options = [(f"exit {k + 1} ({m:,} MACs)", k) for k, m in enumerate(self.macs)]
        self.dropdown = widgets.Dropdown(options=options, value=len(options) - 1 if exit_index is None else exit_index,
                                         description="budget")
        self.readout = widgets.HTML()
        self.result = None
        self.dropdown.observe(lambda change: self.update(change["new"]), names="value")
        super().__init__([self.dropdown, self.readout])
        self.update(self.dropdown.value)

    def update(self, k: int):
        share = self.macs[k] / self.macs[-1]
        self.result = {"exit": k, "accuracy": self.accuracies[k], "macs": self.macs[k]}
        self.readout.value = (f"<code>exit {k + 1}: test accuracy {100 * self.accuracies[k]:.2f}%, "
                              f"{self.macs[k]:,} multiply-accumulates per image ({100 * share:.0f}% of the full network)</code>")
        return self.result


class ThresholdSlider(widgets.VBox):
    """Notebook 10: the exit threshold. Every exit's softmax output on the test images is computed
    once; a move only decides, per image, the first exit confident enough (``exit_table``), then
    marks the point on the accuracy / average-MACs curve drawn once beforehand."""

    def __init__(self, exit_probabilities, labels, macs, threshold: float = 0.9):
        from .dynamic import exit_table

        self.exit_table, self.probs, self.labels = exit_table, exit_probabilities, labels
        self.macs = torch.tensor(macs, dtype=torch.double)
        self.slider = widgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.005, description="threshold",
                                          readout_format=".3f", continuous_update=True, layout=widgets.Layout(width="420px"))
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.plot = BlitFigure(5.5, 2.8)
        self.plot.figure.subplots_adjust(left=0.14, right=0.97, bottom=0.17, top=0.9)
        ax = self.plot.figure.add_subplot()
        grid = [i / 200 for i in range(201)]
        curve = [self._point(t) for t in grid]
        ax.plot([c[1] / 1e3 for c in curve], [100 * c[0] for c in curve], color="tab:blue", lw=1)
        ax.set_xlabel("average multiply-accumulates per image (thousands)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("every threshold from 0 to 1; red: the current one", fontsize=10)
        low = min(c[0] for c in curve)
        ax.set_ylim(100 * low - 0.5, 100 * max(c[0] for c in curve) + 0.3)
        self.marker = self.plot.add_animated(*ax.plot([], [], "o", color="tab:red", ms=8))[0]
        self.result = None
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        super().__init__([self.slider, self.image, self.readout])
        self.update(threshold)

    def _point(self, threshold: float):
        predictions, exits = self.exit_table(self.probs, threshold)
        return (predictions == self.labels).double().mean().item(), self.macs[exits].mean().item(), exits

    def update(self, threshold: float):
        accuracy, average, exits = self._point(threshold)
        self.marker.set_data([average / 1e3], [100 * accuracy])
        self.image.value = self.plot.png()
        counts = torch.bincount(exits, minlength=len(self.probs)).tolist()
        saving = 1 - average / self.macs[-1].item()
        self.result = {"threshold": threshold, "accuracy": accuracy, "average_macs": average, "exits": counts}
        self.readout.value = (f"<code>threshold {threshold:.3f}: test accuracy {100 * accuracy:.2f}%, "
                              f"{average:,.0f} MACs per image on average ({100 * saving:.0f}% saved); "
                              f"images leaving at each exit: {counts}</code>")
        return self.result
