"""The lecture's sliders, each built the way its notebook builds it, in one table.

Two users: ``benchmarks/run.py`` (``make bench``) times a move of each, and the browser tests
(``tests/browser/test_sliders.py``) show each one in a small notebook of its own, move it with
the keyboard and check the readout. Each entry names the notebook the slider comes from (the
browser tests' screenshot is ``build/browser/<stem>.png``), the builder, the control that
both move, the values the benchmark moves it through, and the benchmark's budget per move.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

MOVES = 25


@dataclass(frozen=True)
class SliderCase:
    notebook: str  # the lecture notebook the slider is from, without .ipynb
    build: Callable[[], object]  # returns the widget, as the notebook builds it
    control: str  # the widget's attribute holding the control that is moved ("slider", "o")
    values: list  # the values `make bench` moves it through
    budget_ms: float  # `make bench`'s budget for one move
    part: str = ""  # for a notebook's second slider: appended to the browser test's file and screenshot names

    @property
    def stem(self) -> str:
        """The browser test's notebook and screenshot name: the lecture notebook's, plus ``part``."""
        return self.notebook + self.part


def _test_images():
    from lecture_utils import load_mnist

    return load_mnist(train=False)


def temperature_slider():
    """Notebook 01: the teacher's logits for the test image of a 1 with the most doubt towards 7."""
    from lecture_utils import predict_logits, softmax_with_temperature
    from lecture_utils.pretrained import load_teacher
    from lecture_utils.widgets import temperature_slider

    teacher, _ = load_teacher()
    x, y = _test_images()
    logits = predict_logits(teacher, x)
    p = softmax_with_temperature(logits, 1.0)
    ones = torch.nonzero((y == 1) & (p[:, 1] > 0.5)).flatten()
    ambiguous = ones[p[ones, 7].argmax()].item()
    return temperature_slider(logits[ambiguous], temperature=4.0, title=f"teacher on test image {ambiguous}: ")


def bias_shift_slider():
    """Notebook 02: a student that never saw a 7, distilled from the teacher (as in the notebook, but
    briefly: 5 epochs on 5,000 images, a few seconds), its test logits under the 7s' bias shift."""
    import functools

    from lecture_utils import MLP, balanced_subset, distillation_loss, drop_digit, fit, make_loader, predict_logits
    from lecture_utils import load_mnist, seed_everything
    from lecture_utils.pretrained import load_teacher
    from lecture_utils.widgets import BiasShiftSlider

    teacher, _ = load_teacher()
    x_train, y_train = load_mnist(train=True)
    x, y = drop_digit(*balanced_subset(x_train, y_train, 5_000), 7)
    seed_everything(0)
    student = MLP(hidden=(100, 100))
    fit(student, make_loader(x, predict_logits(teacher, x), y), functools.partial(distillation_loss, temperature=8.0, alpha=1.0),
        epochs=5, lr=3e-3, verbose=False)
    x_test, y_test = _test_images()
    return BiasShiftSlider(predict_logits(student, x_test), y_test, 7, shift=3.0)


def _lenet(builder, **kwargs):
    """A slider of notebooks 05, 06 and 09: LeNet-300-100's first layer ("1") over the test images."""
    from lecture_utils.pretrained import load_teacher

    model, _ = load_teacher("lenet_300_100")
    x, y = _test_images()
    return builder(model, "1", x, y, **kwargs)


def bits_slider():
    from lecture_utils.widgets import bits_slider

    return _lenet(bits_slider, bits=3)


def cluster_slider():
    from lecture_utils.widgets import cluster_slider

    return _lenet(cluster_slider, num_clusters=4)


def rank_slider():
    from lecture_utils.widgets import RankSlider

    return _lenet(RankSlider, rank=20)


def conv_sliders():
    from lecture_utils.widgets import ConvCountSliders

    return ConvCountSliders(in_channels=2, out_channels=4, kernel_size=3)


def threshold_slider():
    """Notebook 10: an early-exit network and every exit's softmax output on the test images. Trained
    more briefly than in the notebook (two epochs on 10,000 images, about 5 s on a CPU; about 94%
    at the last exit), so that the curve and the readout look like the lecture's."""
    from lecture_utils import balanced_subset, fit, load_mnist, make_loader, seed_everything
    from lecture_utils.dynamic import EarlyExitNet, sum_of_exit_losses
    from lecture_utils.widgets import ThresholdSlider

    seed_everything(0)
    x_train, y_train = load_mnist(train=True)
    x_small, y_small = balanced_subset(x_train, y_train, 10_000)
    net = EarlyExitNet()
    fit(net, make_loader(x_small, y_small), sum_of_exit_losses, epochs=2, lr=3e-3, verbose=False)
    net.eval()
    x, y = _test_images()
    with torch.no_grad():
        probs = [torch.softmax(z, dim=1) for z in net(x)]
    return ThresholdSlider(probs, y, net.exit_macs(), threshold=0.9)


def width_slider():
    """Notebook 10: a slimmable MLP (switchable batch norm) run at each width on the test images.
    Trained more briefly than in the notebook (two epochs on 10,000 images, a few seconds)."""
    import torch.nn.functional as F

    from lecture_utils import balanced_subset, fit, load_mnist, make_loader, seed_everything
    from lecture_utils.dynamic import SlimmableMLP
    from lecture_utils.widgets import WidthSlider

    seed_everything(0)
    x_train, y_train = load_mnist(train=True)
    x_small, y_small = balanced_subset(x_train, y_train, 10_000)
    model = SlimmableMLP(hidden=256)
    fit(model, make_loader(x_small, y_small), lambda outputs, y: sum(F.cross_entropy(z, y) for z in outputs),
        epochs=2, lr=3e-3, verbose=False)
    x, y = _test_images()
    return WidthSlider(model, x, y, width=0.25)


SLIDERS = {
    "temperature (01)": SliderCase("01_knowledge_distillation", temperature_slider, "slider",
                                   [10 ** (-0.3 + 2.3 * i / (MOVES - 1)) for i in range(MOVES)], 50.0),
    "bias shift (02)": SliderCase("02_unseen_digit", bias_shift_slider, "slider",
                                  [i / 4 for i in range(41)], 100.0),
    "bits (05)": SliderCase("05_parameter_quantization", bits_slider, "slider", list(range(1, 17)) * 2, 300.0),
    "clusters (06)": SliderCase("06_weight_clustering", cluster_slider, "slider",
                                [2, 3, 4, 8, 16, 32, 64, 128, 256] * 3, 300.0),
    # the output-channel slider; the others work alike
    "channels and kernel (08)": SliderCase("08_depthwise_separable_convolution", conv_sliders, "o",
                                           [1, 8, 64, 128, 256, 512] * 3, 300.0),
    "rank (09)": SliderCase("09_low_rank_factorization", rank_slider, "slider",
                            [1, 5, 10, 20, 50, 100, 200, 300] * 2, 300.0),
    "exit threshold (10)": SliderCase("10_dynamic_computation", threshold_slider, "slider",
                                      [i / 40 for i in range(41)], 100.0),
    "width (10)": SliderCase("10_dynamic_computation", width_slider, "slider", [0.25, 0.5, 0.75, 1.0] * 4, 300.0,
                             part="_width"),
}
