import time

import torch

from lecture_utils import softmax_with_temperature
from lecture_utils.widgets import temperature_slider

LOGITS = torch.tensor([1.0, 9.0, 0.5, 2.0, 0.0, 0.3, -1.0, 7.5, 0.2, 5.0])


def test_slider_shows_softmax_at_the_chosen_temperature():
    w = temperature_slider(LOGITS)
    assert torch.allclose(w.result["probabilities"], softmax_with_temperature(LOGITS, 1.0))
    w.slider.value = 10.0
    want = softmax_with_temperature(LOGITS, 10.0)
    assert torch.allclose(w.result["probabilities"], want)
    assert f"p(1) = {want[1]:.3f}" in w.readout.value and "T = 10" in w.readout.value
    assert w.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_slider_range_is_log_scale_half_to_hundred():
    w = temperature_slider(LOGITS)
    assert abs(10 ** w.slider.min - 0.5) < 1e-9 and abs(10 ** w.slider.max - 100) < 1e-9
    w.slider.value = 100.0
    probs = w.result["probabilities"]
    assert probs.max() - probs.min() < 0.2  # nearly uniform
    w.slider.value = 0.5
    probs = w.result["probabilities"]
    assert probs.argmax() == 1 and probs.max() > 0.95 > softmax_with_temperature(LOGITS, 1.0).max()


def test_slider_answers_quickly_enough_to_drive():
    """Not a timing budget (that is `make bench`): only that a move is not absurdly slow."""
    w = temperature_slider(LOGITS)
    start = time.perf_counter()
    for t in (1.0, 2.0, 4.0, 8.0):
        w.slider.value = t
    assert time.perf_counter() - start < 1, "four moves of the temperature slider should take milliseconds"


def _lenet_and_images():
    from lecture_utils import load_mnist
    from lecture_utils.pretrained import load_teacher

    model, _ = load_teacher("lenet_300_100", "lecture", train_if_missing=False)
    x, y = load_mnist(train=False)
    return model, x[:2000], y[:2000]


def test_bits_slider_shows_what_the_helpers_compute():
    from lecture_utils import evaluate
    from lecture_utils.quantization import quantize_model, quantized_model_bytes
    from lecture_utils.widgets import bits_slider

    model, x, y = _lenet_and_images()
    w = bits_slider(model, "1", x, y, bits=4)
    for bits in (2, 8):
        w.slider.value = bits
        accuracy = evaluate(quantize_model(model, bits), x, y).accuracy
        size = len(quantized_model_bytes(model, bits))
        assert {k: w.result[k] for k in ("bits", "accuracy", "bytes")} == {"bits": bits, "accuracy": accuracy, "bytes": size}
        assert len(w.result["levels"]) == 2**bits
        assert f"{bits} bits per weight: test accuracy {100 * accuracy:.2f}%" in w.readout.value
        assert f"{size:,} bytes" in w.readout.value
    assert (w.slider.min, w.slider.max) == (1, 16)


def test_cluster_slider_shows_what_the_helpers_compute():
    from lecture_utils.clustering import cluster_weights
    from lecture_utils.widgets import cluster_slider

    model, x, y = _lenet_and_images()
    original = model[1].weight.detach().clone()
    w = cluster_slider(model, "1", x, y, num_clusters=4)
    w.slider.value = 16
    codebook, indices = cluster_weights(original, 16)
    assert torch.equal(w.result["codebook"], codebook)
    assert w.result["num_clusters"] == 16 and f"16 clusters: test accuracy {100 * w.result['accuracy']:.2f}%" in w.readout.value
    assert abs(w.result["bits_per_weight"] - (4 + 32 * 16 / original.numel())) < 1e-9
    assert torch.equal(model[1].weight, original)  # the slider works on a copy
    assert (w.slider.min, w.slider.max) == (2, 256)


def test_every_widget_is_controls_then_compute_then_render():
    from lecture_utils.architecture import conv_costs
    from lecture_utils.widgets import ConvCountSliders, Explorer, ExitBudget

    w = ConvCountSliders()
    assert isinstance(w, Explorer) and w.controls == [w.i, w.o, w.k] and w.value() == (2, 4, 3)
    result = w.update((8, 16, 5))  # compute takes the values, not the controls
    assert result == conv_costs(8, 16, 5) == w.result and w.readout.value == w.readout_text(result)
    w.o.value = 64  # a move: render(compute(the controls' values))
    assert w.result == w.compute((2, 64, 3)) and "1/k² = 0.1267" in w.readout.value
    b = ExitBudget([0.5, 0.9], [10, 40])
    assert b.result["share"] == 1.0 and b.image is None and b.children == (b.dropdown, b.readout)


def test_bias_shift_slider_counts_what_the_shift_trades():
    """Raising the never-seen digit's logit: fewer of its images missed, more other images taken for it."""
    from lecture_utils.distillation import bias_shift_outcome
    from lecture_utils.widgets import BiasShiftSlider

    logits = torch.tensor([[0.0, 1.0], [0.0, 2.0], [0.0, -1.0], [0.0, 3.0]])  # class 0: the digit never seen
    labels = torch.tensor([1, 0, 0, 1])
    w = BiasShiftSlider(logits, labels, cls=0, chosen=1.5)
    assert w.result == bias_shift_outcome(logits, labels, 0, 0.0)
    assert (w.result["errors_on_cls"], w.result["false_cls"], w.result["errors"]) == (1, 0, 1)  # image 1 missed
    w.slider.value = 2.5  # images 0 and 1 now answer 0: image 1 found, image 0 (a 1) taken for a 0
    assert (w.result["errors_on_cls"], w.result["false_cls"], w.result["errors"]) == (0, 1, 1)
    assert "shift +2.50: 1 test errors of 4; 0 of the 2 0s missed; 1 images of other digits" in w.readout.value
