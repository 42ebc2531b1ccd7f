"""Exercises of notebooks 05-07: uniform quantization, its rounding noise, weight clustering, prefix
codes (Huffman's), binary weights and the straight-through estimator."""
from __future__ import annotations

import numbers

import torch

from ..binary import binary_mlp, train_binary_mlp, weight_bytes
from ..clustering import evaluate_clustered_layer
from ..huffman import fixed_length_bits
from ..quantization import quantization_params, quantize_model, quantized_model_bytes
from ..training import evaluate
from .harness import (TENSOR_FORM, Case, DesignTask, Exercise, Mistake, Traced, as_number, call_student,
                      close, not_a_real, number_result, own_random_state, tensor_like, with_gradient)

# ---- notebook 05 · uniform quantization: w' = (clamp(round(w / scale) + zero_point, 0, 2^b - 1) - zero_point) * scale

def _quantize_cases():
    g = torch.Generator().manual_seed(6)
    w = torch.randn(40, generator=g) * 0.3 + 0.05
    half_steps = {bits: quantization_params(w, bits)[0].item() / 2 for bits in (2, 3, 8)}
    return [Case((w, bits), f"with {bits} bits", {"bits": bits, "half_step": half_step})
            for bits, half_step in half_steps.items()]


def _too_many_levels(got, want, case) -> bool:
    return torch.unique(got).numel() > 2 ** case.info["bits"]


def _moved_too_far(got, want, case) -> bool:
    return (got.double() - case.args[0].double()).abs().max() > case.info["half_step"] + 1e-6


QUANTIZE_UNIFORM = Exercise(
    name="uniform quantization", cases=_quantize_cases,
    hint="the values differ from the reference's: check that the range includes 0, that the zero point is a "
         "whole number, and that the codes stay between 0 and 2^bits - 1 (the formulas above the exercise).",
    passed="matches the reference at 2, 3 and 8 bits.",
    same=close(atol=1e-5, rtol=0),
    form=TENSOR_FORM,
    mistakes=(
        Mistake("the result has more than 2^bits different values: every weight must become one of 2^bits levels.",
                _too_many_levels),
        Mistake("a weight moved by more than half a step ({half_step:.4f}): round each weight to the nearest level.",
                _moved_too_far),
    ),
)


def check_quantize_uniform(fn) -> None:
    """Exercise (notebook 05): ``fn(weights, bits)`` rounds to 2^bits evenly spaced levels, 0 among them."""
    QUANTIZE_UNIFORM.check(fn)


# ---- notebook 05 · the rounding noise: the mean square of an error spread evenly over a step D ----------------
# SQNR in decibels: 10 log10(mean(w²) / noise), D = (max(w, 0) - min(w, 0)) / (2^b - 1).

def _noise_cases():
    g = torch.Generator().manual_seed(5)
    w = torch.randn(40, generator=g) * 0.3 + 0.05
    positive = torch.rand(30, generator=g) * 0.5 + 0.1  # the range must still reach down to 0
    return [Case((w, bits), f"with {bits} bits") for bits in (2, 4, 8)] + [
        Case((positive, 3), "weights all above 0, with 3 bits")]


SQNR = Exercise(
    name="the rounding noise", cases=_noise_cases,
    hint="expected {want} dB, got {got}.",
    passed="the predicted signal-to-noise ratio at 2, 4 and 8 bits, and for weights all above 0.",
    run=number_result, same=close(atol=1e-4, rtol=1e-6),
    form=(Mistake("return one number (decibels), not {type}.", not_a_real),),
    mistakes=(
        Mistake("b bits make 2^b levels, so 2^b - 1 steps between the lowest and the highest."),
        Mistake("the range is widened to include 0 (so that 0 stays exactly 0): with weights all above 0 it starts at "
                "0, not at the smallest weight."),
        Mistake("D² / 4 is the largest squared error (half a step, squared); an error spread evenly over [-D/2, D/2] "
                "has a smaller mean square: average e² over that interval."),
        Mistake("a ratio of mean squares (powers) is 10 log10 of it in decibels, not 20 log10."),
    ),
)


def check_sqnr(fn) -> None:
    """Exercise (notebook 05): ``fn(weights, bits)``: the predicted signal-to-quantization-noise ratio
    of uniform quantization, 10 log10(mean(w²) / noise) dB, the noise being the mean square of an error
    spread evenly over a step of the formula."""
    SQNR.check(fn)


# ---- notebook 06 · fine-tuning shared weights: a centre's gradient is the sum of its weights' -----------

def _centroid_gradient_cases():
    g = torch.Generator().manual_seed(7)
    grad = torch.randn(3, 4, generator=g)
    indices = torch.tensor([[0, 1, 1, 0], [2, 0, 1, 1], [0, 0, 2, 1]])  # nothing in cluster 3
    flat = torch.randn(10, generator=g)
    return [Case((grad, indices, 4), "a 3 x 4 layer, 4 clusters (the last one empty)", {"k": 4}),
            Case((flat, torch.tensor([1, 0, 0, 1, 1, 1, 0, 1, 1, 1]), 2), "10 weights, 2 clusters", {"k": 2})]


CENTROID_GRADIENTS = Exercise(
    name="the gradient of a shared weight", cases=_centroid_gradient_cases,
    hint="expected {want}, got {got}.",
    passed="each centre's gradient is the sum of its weights' gradients, an empty cluster's 0.",
    same=close(atol=1e-6, rtol=1e-6),
    form=(Mistake("return a torch.Tensor, not {type}.", lambda got, want, case: not isinstance(got, torch.Tensor)),
          Mistake("one gradient per centre ({k} numbers, 0 for a centre no weight uses); got shape {got_shape}.",
                  lambda got, want, case: got.shape != want.shape)),
    mistakes=(
        Mistake("that is the mean of the weights' gradients: the loss changes through every weight that uses the "
                "centre, so their gradients add up."),
        Mistake("those are the numbers of weights in each cluster: add up their gradients, not ones."),
    ),
)


def check_centroid_gradients(fn) -> None:
    """Exercise (notebook 06): ``fn(weight_grad, indices, num_clusters)``: for each centre k, the sum of
    the gradients of the weights whose index is k (0 for an empty cluster)."""
    CENTROID_GRADIENTS.check(fn)


# ---- notebook 06 · a prefix code: no code is the beginning of another, so a bit string needs no separators --

def _prefix_cases():
    codes = [
        {0: "0", 1: "10", 2: "110", 3: "111"},  # a Huffman code
        {0: "0", 1: "01", 2: "11"},  # '0' begins '01'
        {0: "10", 1: "0", 2: "11"},
        {0: "1", 1: "00", 2: "01", 3: "001"},  # '00' begins '001', two entries apart
        {0: "0", 1: "0", 2: "1"},  # two symbols with the same code
        {0: "011", 1: "1", 2: "01"},  # '01', written last, begins '011', written first
    ]
    return [Case((code,), f"code {code}") for code in codes]


def _not_true_or_false(got, want, case) -> bool:
    numpy_scalar = type(got).__module__ == "numpy" and getattr(got, "shape", None) == ()  # numpy's bool too
    return not (isinstance(got, (bool, int)) or numpy_scalar)


PREFIX_FREE = Exercise(
    name="a prefix code", cases=_prefix_cases,
    hint="said {got}, expected {want}.",
    passed="right on 6 codes: a Huffman code, and codes where one code begins another.",
    run=number_result, same=lambda got, want: bool(got) == want,
    form=(Mistake("return True or False, not {type}.", _not_true_or_false),),
    mistakes=(
        Mistake("a shorter code can come after a longer one in the table: test both orders of every pair."),
        Mistake("comparing each code with the next one in the table misses pairs that are further apart: every "
                "pair of codes can break the rule."),
        Mistake("two symbols with the same code cannot be told apart: a code equal to another counts as its "
                "beginning."),
    ),
)


def check_prefix_free(fn) -> None:
    """Exercise (notebook 06): ``fn(code)``, ``code`` a dict {symbol: '0110...'}: True when no code is
    the beginning (a prefix) of another symbol's code, False otherwise."""
    PREFIX_FREE.check(fn)


# ---- notebook 07 · binary weights: sign(w), or +1 with probability clip((w + 1) / 2, 0, 1) --------

def _share_of_plus_one_is(p: float, within: float = 0.02):
    """A random result is right when it holds only ±1 and +1 comes with probability ``p``, give or take ``within``."""
    return lambda got, want: (set(torch.unique(got).tolist()) <= {-1.0, 1.0}
                              and abs((got == 1).double().mean().item() - p) <= within)


def _binarize_cases():
    return [Case((torch.tensor([-0.7, 0.0, 0.3, -2.0, 1.5]), False), "deterministic"),
            Case((torch.full((20000,), 0.5), True), "stochastic, w = 0.5", info={"p": 0.75},
                 same=_share_of_plus_one_is(0.75)),
            Case((torch.tensor([3.0, -3.0]), True), "stochastic, w = 3 and -3 (the probability is clipped to [0, 1])")]


def _seeded(fn, case):
    """The answer with the random generator seeded, and the student's own generator left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return fn(case.args[0].clone(), case.args[1])


def _zero_stays_zero(got, want, case) -> bool:
    deterministic = not case.args[1]
    return deterministic and bool((got == 0).any())


def _not_plus_or_minus_one(got, want, case) -> bool:
    return not set(torch.unique(got).tolist()) <= {-1.0, 1.0}


def _wrong_share(got, want, case) -> bool:
    """On the case of many random signs, once each is ±1, only the share of +1 can be wrong."""
    return "p" in case.info


BINARIZE = Exercise(
    name="binarize", cases=_binarize_cases,
    hint="expected {want}, got {got}.",
    passed="deterministic and stochastic signs are right.",
    run=_seeded,
    form=TENSOR_FORM,
    mistakes=(
        Mistake("torch.sign(0) is 0, but a binary weight is +1 or -1: a weight of 0 must give +1.", _zero_stays_zero),
        Mistake("every value must be +1 or -1.", _not_plus_or_minus_one),
        Mistake("the share of +1 is wrong: it must be the probability the lecture gives for w = 0.5, which is {p}.",
                _wrong_share),
    ),
)


def check_binarize(fn) -> None:
    """Exercise (notebook 07): ``fn(w, stochastic)``: the sign of w (0 gives +1), or a random sign with
    P(+1) = clip((w + 1) / 2, 0, 1)."""
    BINARIZE.check(fn)


def _straight_through_cases():
    return [Case((torch.tensor([-0.7, 0.2, 0.9]),), "", {"upstream": [1.0, 2.0, 3.0]})]


def _value_and_gradient(fn, case):
    return with_gradient(fn, case, upstream=torch.tensor(case.info["upstream"]))


def _same_value(got, want) -> bool:
    return torch.equal(got.value.detach(), want.value.detach())


STRAIGHT_THROUGH = Exercise(
    name="straight-through estimator", cases=_straight_through_cases,
    hint="expected the value {want.value} and the gradient {want.gradient}; got {got.value} and {got.gradient}.",
    passed="the value of sign(w), the gradient of w.",
    run=_value_and_gradient, result=Traced,
    same=lambda got, want: _same_value(got, want) and close()(got.gradient, want.gradient),
    form=(Mistake("return a tensor shaped like w.", lambda got, want, case: not tensor_like(got.value, want.value)),),
    mistakes=(
        Mistake("the value must be the binary weights {want.value}, got {got.value}.",
                lambda got, want, case: not _same_value(got, want)),
        Mistake("no gradient reaches w: the result must have the value of the sign, but autograd must see "
                "a function of w whose derivative is 1.", lambda got, want, case: got.gradient is None),
        Mistake("the gradient reaching w should be the gradient of the output, {upstream}; got {got.gradient}. "
                "The derivative of sign is 0 almost everywhere: the estimator passes the gradient straight "
                "through instead.", lambda got, want, case: not close()(got.gradient, want.gradient)),
    ),
)


def check_straight_through(fn) -> None:
    """Exercise (notebook 07): ``fn(w)`` has the value of sign(w) and the gradient of w."""
    STRAIGHT_THROUGH.check(fn)


# ---- notebook 07 · design: a binary network for a chip with little memory ---------------------------------

BINARY_BUDGET, MAX_BINARY_ERROR = 16_384, 10.0  # bytes of weights; test error in percent


def _binary_numbers(fn, train, chosen_on, test, epochs) -> dict:
    """The hidden widths ``fn`` chooses from ``chosen_on`` (validation images, labels), measured: a
    deterministic BinaryConnect MLP of those widths trained on ``train`` as notebook 07 trains
    (seed 0, ``epochs`` epochs of Adam at 3e-3, weights clipped), its packed weight bytes and test error."""
    hidden = call_student(fn, *chosen_on)
    if not (isinstance(hidden, (tuple, list)) and 1 <= len(hidden) <= 3
            and all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and 1 <= h <= 4096 for h in hidden)):
        raise ValueError(f"return the hidden widths, one to three whole numbers from 1 to 4096, got {hidden!r}")
    hidden = tuple(int(h) for h in hidden)
    with own_random_state():  # building and training draw and seed: the notebook's random state is left as it was
        size = weight_bytes(binary_mlp(hidden=hidden, mode="deterministic"))  # no training needed to count the bytes
        if size > BINARY_BUDGET:
            return {"hidden": hidden, "bytes": size, "budget": BINARY_BUDGET, "error": None,
                    "result": "not trained: over the budget"}
        model, _ = train_binary_mlp(hidden, "deterministic", *train, epochs)
    error = 100 * (1 - evaluate(model, *test).accuracy)
    return {"hidden": hidden, "bytes": size, "budget": BINARY_BUDGET, "error": error,
            "result": f"test error {error:.2f}%"}


BINARY_BUDGET_TASK = DesignTask(
    name="a binary network for a small chip (design)",
    goal=f"at most {BINARY_BUDGET:,} bytes of weights, test error at most {MAX_BINARY_ERROR:g}%",
    measure=_binary_numbers,
    met=lambda n: n["bytes"] <= BINARY_BUDGET and n["error"] <= MAX_BINARY_ERROR,
    report="hidden {hidden}: {bytes:,} bytes of weights, {result}",
    hint="train a few widths on the training images and compare them on the validation images.",
    hints=(
        (lambda n: n["bytes"] > BINARY_BUDGET, "over the budget: narrower layers, first where a layer has the most "
                                               "weights (its inputs times its outputs)."),
        (lambda n: n["error"] > MAX_BINARY_ERROR, "within the budget but too many errors: spend the bytes that are "
                                                  "left on width."),
    ),
)


def check_binary_budget(fn, train, chosen_on, test, epochs) -> None:
    """Design task (notebook 07): ``fn(images, labels)`` returns hidden widths, chosen on ``chosen_on``
    (a validation split); the check trains a deterministic BinaryConnect MLP of those widths on
    ``train`` (seed 0, ``epochs`` epochs); met when its packed weights take at most 16,384 bytes and
    it makes at most 10% errors on ``test``."""
    BINARY_BUDGET_TASK.check(fn, train, chosen_on, test, epochs)


# ---- notebook 05 · design: bits per layer for a byte budget (mixed precision) ----------------------------

BIT_BUDGET = 110_000  # bytes of the stored network (packed codes, scales and zero points, float32 biases)
MAX_BIT_LOSS = 0.3  # points of test accuracy, against float32


def _bit_numbers(fn, model, chosen_on, test) -> dict:
    """The bits per layer (and per-channel or not) that ``fn`` chooses from ``chosen_on`` (images,
    labels), measured on ``test``: the bytes of the network stored for real and the accuracy lost."""
    choice = call_student(fn, model, *chosen_on)
    if not (isinstance(choice, tuple) and len(choice) == 2 and isinstance(choice[1], bool)):
        raise TypeError(f"return a pair (bits, per_channel): bits a number or a dict {{layer: bits}}, per_channel "
                        f"True or False; got {choice!r}")
    bits, per_channel = choice
    full = 100 * evaluate(model, *test).accuracy
    quantized = 100 * evaluate(quantize_model(model, bits, per_channel), *test).accuracy
    return {"bits": bits, "scales": "per channel" if per_channel else "per tensor", "full": full,
            "bytes": len(quantized_model_bytes(model, bits, per_channel)), "budget": BIT_BUDGET,
            "lost": full - quantized}


BIT_BUDGET_TASK = DesignTask(
    name="bits per layer for a budget (design)",
    goal=f"at most {BIT_BUDGET:,} bytes stored, test accuracy within {MAX_BIT_LOSS} points of float32",
    measure=_bit_numbers,
    met=lambda n: n["bytes"] <= BIT_BUDGET and n["lost"] <= MAX_BIT_LOSS,
    report="bits {bits}, scales {scales}: {bytes:,} bytes, {lost:+.2f} points lost against float32's {full:.2f}%",
    hint="measure a few choices on the images you were given.",
    hints=(
        (lambda n: n["bytes"] > BIT_BUDGET,
         "over the byte budget: fewer bits where the weights are many (count each layer's weights)."),
        (lambda n: n["lost"] > MAX_BIT_LOSS,
         "within the budget but too inaccurate: a bit costs little in a small layer, and per-channel scales "
         "follow each row's own range."),
    ),
)


def check_bit_budget(fn, model, chosen_on, test) -> None:
    """Design task (notebook 05): ``fn(model, images, labels)`` returns ``(bits, per_channel)``, bits a
    number or ``{layer: bits}``, chosen on ``chosen_on``; met when the network stored that way
    (``quantized_model_bytes``) takes at most 110,000 bytes and loses at most 0.3 points on ``test``."""
    BIT_BUDGET_TASK.check(fn, model, chosen_on, test)


# ---- notebook 06 · design: clusters for a 3-bit index that keep the network's accuracy -----------------

MAX_CLUSTER_LOSS = 0.3  # points of test accuracy, against the float network
MAX_INDEX_BITS = 3  # a fixed-length index of ceil(log2 k) bits per weight
MAX_CLUSTERS = 256


def _cluster_numbers(fn, model, layer, chosen_on, test) -> dict:
    """The number of clusters ``fn`` chooses from ``chosen_on`` (images, labels it may use), measured on
    ``test``: the index bits it needs and the accuracy lost with that many clusters in ``layer``."""
    k = as_number(call_student(fn, model, layer, *chosen_on))
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= MAX_CLUSTERS:
        raise ValueError(f"return a whole number of clusters from 1 to {MAX_CLUSTERS}, got {k!r}")
    full = 100 * evaluate(model, *test).accuracy
    lost = full - 100 * evaluate_clustered_layer(model, layer, k, *test)["accuracy"]
    return {"clusters": k, "bits": fixed_length_bits(k), "lost": lost, "full": full}


CLUSTER_COUNT = DesignTask(
    name="clusters for a 3-bit index (design)",
    goal=f"an index of at most {MAX_INDEX_BITS} bits per weight, test accuracy within {MAX_CLUSTER_LOSS} points of the "
         "float network",
    measure=_cluster_numbers,
    met=lambda n: n["bits"] <= MAX_INDEX_BITS and n["lost"] <= MAX_CLUSTER_LOSS,
    report="{clusters} clusters: {bits} bits per index, {lost:+.2f} points lost against float's {full:.2f}%",
    hint="measure a few numbers of clusters on the images you were given.",
    hints=(
        (lambda n: n["bits"] > MAX_INDEX_BITS, "that index needs more bits than allowed: fewer clusters."),
        (lambda n: n["lost"] > MAX_CLUSTER_LOSS,
         "the layer lost too much: more clusters. An index of a given width costs the same for every number of "
         "clusters it can address."),
    ),
)


def check_cluster_count(fn, model, layer, chosen_on, test) -> None:
    """Design task (notebook 06): ``fn(model, layer, images, labels)`` returns a number of clusters
    for ``layer``, chosen on ``chosen_on`` (images, labels); met when its index needs at most 3 bits
    and, on ``test``, the network loses at most 0.3 points against float."""
    CLUSTER_COUNT.check(fn, model, layer, chosen_on, test)


EXERCISES = (QUANTIZE_UNIFORM, SQNR, CENTROID_GRADIENTS, PREFIX_FREE, BINARIZE, STRAIGHT_THROUGH)
DESIGN_TASKS = (BIT_BUDGET_TASK, CLUSTER_COUNT, BINARY_BUDGET_TASK)
