import time

import torch

from lecture_utils import softmax_with_temperature
from lecture_utils.widgets import temperature_slider

LOGITS = torch.tensor([1.0, 9.0, 0.5, 2.0, 0.0, 0.3, -1.0, 7.5, 0.2, 5.0])


def test_slider_shows_softmax_at_the_chosen_temperature():
    w = temperature_slider(LOGITS)
    assert torch.allclose(w.result, softmax_with_temperature(LOGITS, 1.0))
    w.slider.value = 10.0
    want = softmax_with_temperature(LOGITS, 10.0)
    assert torch.allclose(w.result, want)
    assert f"p(1) = {want[1]:.3f}" in w.readout.value and "T = 10" in w.readout.value
    assert w.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_slider_range_is_log_scale_half_to_hundred():
    w = temperature_slider(LOGITS)
    assert abs(10 ** w.slider.min - 0.5) < 1e-9 and abs(10 ** w.slider.max - 100) < 1e-9
    w.slider.value = 100.0
    assert w.result.max() - w.result.min() < 0.2  # nearly uniform
    w.slider.value = 0.5
    assert w.result.argmax() == 1 and w.result.max() > 0.95 > softmax_with_temperature(LOGITS, 1.0).max()


def test_slider_answers_quickly_enough_to_drive():
    """Not a timing budget (that is `make bench`): only that a move is not absurdly slow."""
    w = temperature_slider(LOGITS)
    start = time.perf_counter()
    for t in (1.0, 2.0, 4.0, 8.0):
        w.slider.value = t
    assert time.perf_counter() - start < 10
