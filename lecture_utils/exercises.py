"""Checks for the notebooks' exercises.

Each ``check_*`` runs the student's function on small fixed inputs, compares it
with the reference in ``lecture_utils``, and either prints a line saying it is
right or raises ``ExerciseError`` with a hint that says what is wrong.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .distillation import distillation_loss, softmax_with_temperature


class ExerciseError(AssertionError):
    """A wrong answer, with a hint."""


def _fail(exercise: str, hint: str):
    raise ExerciseError(f"{exercise}: not yet. {hint}")


def _call(exercise: str, fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        _fail(exercise, "the function still raises NotImplementedError: replace it with your code.")
    except Exception as exc:  # a student's bug: say what it was, with the inputs
        _fail(exercise, f"calling it on {args!r} raised {type(exc).__name__}: {exc}")


def _as_tensor(exercise: str, value, shape) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        _fail(exercise, f"return a torch.Tensor, not {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        _fail(exercise, f"the result has shape {tuple(value.shape)}; expected {tuple(shape)} (the shape of the input).")
    return value.detach().double()


OVERFLOW_HINT = ("exp() overflowed (float32 exp(89) is already inf). Subtract the largest scaled logit m from "
                 "every one first: exp(y_i/T - m) / sum_j exp(y_j/T - m) is the same softmax and never overflows.")


def check_softmax_with_temperature(fn) -> None:
    """Exercise (notebook 01): ``fn(logits, temperature)`` must equal softmax(logits / T) over the last dim."""
    name = "softmax with temperature"
    lecture = torch.tensor([100.0, 10.0, 1.0])
    cases = [  # small logits first: there a wrong answer shows what is wrong with it
        (torch.tensor([[1.0, 2.0, 3.0], [3.0, 0.0, -1.0]]), 2.0),
        (lecture, 1.0), (lecture, 100.0), (lecture, 0.5),
    ]
    for logits, t in cases:
        got = _as_tensor(name, _call(name, fn, logits.clone(), t), logits.shape)
        want = softmax_with_temperature(logits.double(), t)
        if torch.allclose(got, want, atol=1e-6):
            continue
        if not torch.isfinite(got).all():
            _fail(name, f"logits {logits.tolist()} at T = {t} gave {got.tolist()}: {OVERFLOW_HINT}")
        if not torch.allclose(got.sum(-1), torch.ones_like(got.sum(-1)), atol=1e-6):
            if torch.allclose(got.sum(0), torch.ones_like(got.sum(0)), atol=1e-6):
                _fail(name, "each row must sum to 1: normalise over the last dimension (dim=-1), not dim=0.")
            _fail(name, f"the probabilities sum to {got.sum(-1).tolist()}, not 1: divide exp(y_i / T) by the sum over j of exp(y_j / T).")
        if torch.allclose(got, torch.softmax(logits.double() * t, -1), atol=1e-6):
            _fail(name, f"at T = {t} you get softmax(logits * T): divide the logits by T, do not multiply.")
        if torch.allclose(got, torch.softmax(logits.double(), -1), atol=1e-6):
            _fail(name, f"at T = {t} you get the plain softmax: the temperature is not used. Divide the logits by T.")
        _fail(name, f"logits {logits.tolist()} at T = {t}: expected {want.tolist()}, got {got.tolist()}.")
    big = torch.tensor([1e4, 0.0, -1e4])
    got = _as_tensor(name, _call(name, fn, big.clone(), 1.0), big.shape)
    if not torch.isfinite(got).all():
        _fail(name, f"logits [1e4, 0, -1e4] gave {got.tolist()}: {OVERFLOW_HINT}")
    if not torch.allclose(got, torch.tensor([1.0, 0.0, 0.0], dtype=torch.double), atol=1e-6):
        _fail(name, f"logits [1e4, 0, -1e4] at T = 1 should give [1, 0, 0], got {got.tolist()}.")
    print(f"✓ {name}: correct on {len(cases) + 1} cases, including the lecture's logits (100, 10, 1) and logits of 1e4.")


def _student_gradient(loss_fn, student, teacher, labels, t, alpha) -> torch.Tensor:
    s = student.clone().requires_grad_(True)
    loss = loss_fn(s, teacher.clone(), labels.clone(), t, alpha)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError("the loss must be a single number (a 0-dim tensor), averaged over the batch")
    if not loss.requires_grad:
        raise TypeError("the loss does not depend on the student's logits (did you detach them or use .item()?)")
    loss.backward()
    return s.grad.double()


def check_distillation_loss(fn) -> None:
    """Exercise (notebook 01): ``fn(student_logits, teacher_logits, labels, temperature, alpha)``.

    Compared by its gradient with respect to the student's logits, which is what
    training uses: KL divergence and soft cross-entropy (which differ by a constant,
    the teacher's entropy) both pass.
    """
    name = "distillation loss"
    g = torch.Generator().manual_seed(0)
    student = torch.randn(8, 10, generator=g) * 3
    teacher = torch.randn(8, 10, generator=g) * 3
    labels = torch.randint(0, 10, (8,), generator=g)
    variants = {
        "the soft term is not multiplied by T²: its gradient shrinks like 1/T², so scale it by T ** 2.":
            lambda s, te, y, t, a: distillation_loss(s, te, y, t, a, scale_by_t2=False),
        "alpha and 1 - alpha are swapped: alpha weighs the soft targets, 1 - alpha the labels.":
            lambda s, te, y, t, a: distillation_loss(s, te, y, t, 1 - a),
        "the losses are summed over the batch: average them instead (reduction='batchmean' or .mean()).":
            lambda s, te, y, t, a: len(s) * distillation_loss(s, te, y, t, a),
        "both the teacher's and the student's logits must be divided by T before the softmax.":
            lambda s, te, y, t, a: a * t**2 * F.kl_div(F.log_softmax(s, -1), F.softmax(te / t, -1), reduction="batchmean")
            + (1 - a) * F.cross_entropy(s, y),
    }
    for t, alpha in [(4.0, 0.9), (1.0, 0.5), (20.0, 1.0), (2.0, 0.0)]:
        try:
            got = _student_gradient(fn, student, teacher, labels, t, alpha)
        except NotImplementedError:
            _fail(name, "the function still raises NotImplementedError: replace it with your code.")
        except Exception as exc:
            _fail(name, f"at T = {t}, alpha = {alpha} it raised {type(exc).__name__}: {exc}")
        want = _student_gradient(distillation_loss, student, teacher, labels, t, alpha)
        if torch.allclose(got, want, atol=1e-6, rtol=1e-4):
            continue
        for hint, variant in variants.items():
            if torch.allclose(got, _student_gradient(variant, student, teacher, labels, t, alpha), atol=1e-6, rtol=1e-4):
                _fail(name, f"at T = {t}, alpha = {alpha}: {hint}")
        _fail(name, f"at T = {t}, alpha = {alpha} the gradient with respect to the student's logits differs from "
                    "alpha * T² * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * cross_entropy(student, labels).")
    print(f"✓ {name}: its gradient matches the reference at 4 settings of T and alpha.")


def _small_digits():
    g = torch.Generator().manual_seed(1)
    labels = torch.tensor([7, 1, 7, 3, 9, 7, 0, 1])
    images = torch.rand(len(labels), 1, 4, 4, generator=g)
    return images, labels


def check_drop_digit(fn) -> None:
    """Exercise (notebook 02): ``fn(images, labels, digit)`` returns the pair without that digit."""
    from .data import drop_digit

    name = "drop a digit"
    images, labels = _small_digits()
    for digit in (7, 1, 5):
        got = _call(name, fn, images.clone(), labels.clone(), digit)
        if not (isinstance(got, tuple) and len(got) == 2):
            _fail(name, "return a pair (images, labels).")
        want = drop_digit(images, labels, digit)
        gi, gl = got
        if not isinstance(gl, torch.Tensor) or not isinstance(gi, torch.Tensor):
            _fail(name, "return tensors, not lists.")
        if (gl == digit).any():
            _fail(name, f"with digit = {digit} the labels still contain {digit}: keep only labels != digit.")
        if len(gi) != len(gl):
            _fail(name, f"{len(gi)} images but {len(gl)} labels: select the images with the same mask as the labels.")
        if not torch.equal(gl, want[1]):
            _fail(name, f"with digit = {digit} expected labels {want[1].tolist()}, got {gl.tolist()} (keep the order).")
        if not torch.equal(gi, want[0]):
            _fail(name, "the labels are right but the images are not the ones that go with them: index both with one mask.")
    print(f"✓ {name}: correct for digits 7, 1 and 5 (5 is absent: nothing removed).")


def check_best_bias_shift(fn) -> None:
    """Exercise (notebook 02): ``fn(logits, labels, cls, shifts)`` returns the shift of class ``cls``'s
    logit with the highest accuracy (the first one on ties)."""
    from .distillation import best_bias_shift

    name = "choose the bias shift"
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.5, 2.0, 0.0], [1.5, 0.0, 0.2], [0.0, 1.0, 0.9], [3.0, 0.0, 0.0]])
    labels = torch.tensor([2, 1, 2, 2, 0])
    shifts = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
    got = _call(name, fn, logits.clone(), labels.clone(), 2, shifts)
    want, accuracies = best_bias_shift(logits, labels, 2, shifts)
    if isinstance(got, tuple):
        got = got[0]
    try:
        got = float(got)
    except (TypeError, ValueError):
        _fail(name, f"return the shift (a number), not {type(got).__name__}.")
    if got != want:
        accuracy = dict(zip(shifts, accuracies))
        if got in accuracy:
            _fail(name, f"shift {got} gives accuracy {accuracy[got]:.2f}, but shift {want} gives {accuracy[want]:.2f}: "
                        "add the shift to column cls of a copy of the logits, take the argmax, compare with the labels, keep the best.")
        _fail(name, f"expected {want}, one of the shifts {shifts}; got {got}.")
    print(f"✓ {name}: picks {want}, the shift with the highest validation accuracy.")


def check_ensemble_probabilities(fn) -> None:
    """Exercise (notebook 03): ``fn(list_of_logits)`` returns the mean of the members' softmax outputs."""
    name = "ensemble by averaging"
    g = torch.Generator().manual_seed(2)
    logits = [torch.randn(5, 4, generator=g) * 3 for _ in range(3)]
    got = _as_tensor(name, _call(name, fn, [z.clone() for z in logits]), (5, 4))
    want = torch.stack([torch.softmax(z, 1) for z in logits]).mean(0).double()
    if torch.allclose(got, want, atol=1e-6):
        print(f"✓ {name}: the mean of the members' probabilities.")
        return
    if torch.allclose(got, torch.softmax(torch.stack(logits).mean(0), 1).double(), atol=1e-6):
        _fail(name, "you averaged the logits, then took the softmax: take each member's softmax first, then average the probabilities.")
    if torch.allclose(got, torch.stack([torch.softmax(z, 1) for z in logits]).sum(0).double(), atol=1e-6):
        _fail(name, "you summed the probabilities: divide by the number of members (the rows must sum to 1).")
    _fail(name, f"expected {want.tolist()[0]} for the first image, got {got.tolist()[0]}.")


def check_average_state_dicts(fn) -> None:
    """Exercise (notebook 03): ``fn(list_of_state_dicts)`` returns their element-wise mean."""
    name = "average parameters"
    g = torch.Generator().manual_seed(3)
    sds = [{"w": torch.randn(3, 2, generator=g), "b": torch.randn(3, generator=g)} for _ in range(4)]
    got = _call(name, fn, [{k: v.clone() for k, v in sd.items()} for sd in sds])
    if not isinstance(got, dict) or set(got) != {"w", "b"}:
        _fail(name, "return a dict with the same keys as each state dict ('w' and 'b' here).")
    for key in ("w", "b"):
        want = torch.stack([sd[key] for sd in sds]).mean(0)
        value = _as_tensor(name, got[key], want.shape)
        if torch.allclose(value, torch.stack([sd[key] for sd in sds]).sum(0).double(), atol=1e-6):
            _fail(name, f"'{key}' is the sum: divide by the number of state dicts.")
        if not torch.allclose(value, want.double(), atol=1e-6):
            _fail(name, f"'{key}' should be the element-wise mean of the {len(sds)} tensors.")
    print(f"✓ {name}: the element-wise mean of {len(sds)} state dicts.")


def check_logit_matching_loss(fn) -> None:
    """Exercise (notebook 04): ``fn(student_logits, teacher_logits)`` is 1/2 mean_batch sum_i (z_i - v_i)^2 on
    zero-meaned logits."""
    from .distillation import logit_matching_loss

    name = "logit matching"
    g = torch.Generator().manual_seed(4)
    z, v = torch.randn(6, 10, generator=g) * 2, torch.randn(6, 10, generator=g) * 2 + 5
    got = _call(name, fn, z.clone(), v.clone())
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        _fail(name, "return a single number (a 0-dim tensor).")
    want = logit_matching_loss(z, v)
    if torch.isclose(got.double(), want.double(), rtol=1e-5):
        print(f"✓ {name}: the squared distance between zero-meaned logits.")
        return
    raw = 0.5 * ((z - v) ** 2).sum(1).mean()
    if torch.isclose(got, raw, rtol=1e-5):
        _fail(name, "subtract each example's mean logit first: adding a constant to all logits changes nothing after a softmax, "
                    "so the student should not be asked to match it.")
    if torch.isclose(got, 2 * want, rtol=1e-5):
        _fail(name, "the loss is twice too large: use 1/2 * sum of squares (its gradient is then z - v).")
    if torch.isclose(got, want / 10, rtol=1e-5):
        _fail(name, "sum the squares over the classes, then average over the batch (F.mse_loss averages over both).")
    _fail(name, f"expected {want.item():.4f}, got {float(got):.4f}.")


def check_hidden_activations(fn) -> None:
    """Exercise (notebook 04): ``fn(mlp, images)`` returns ``(logits, [each hidden layer's output after its ReLU])``."""
    from .fitnets import hidden_activations
    from .models import MLP

    name = "hidden activations"
    torch.manual_seed(5)
    mlp = MLP(hidden=(6, 5, 4), in_features=16)
    images = torch.rand(3, 1, 4, 4)
    got = _call(name, fn, mlp, images)
    want_logits, want_hidden = hidden_activations(mlp, images)
    if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], (list, tuple))):
        _fail(name, "return a pair (logits, list of hidden outputs).")
    logits, hidden = got
    if len(hidden) != len(want_hidden):
        _fail(name, f"this MLP has {len(want_hidden)} hidden layers; you returned {len(hidden)} outputs "
                    "(keep the output of each ReLU, not of each Linear).")
    for i, (h, w) in enumerate(zip(hidden, want_hidden), 1):
        h = _as_tensor(name, h, w.shape)
        if not torch.allclose(h, w.double(), atol=1e-6):
            if (h < 0).any():
                _fail(name, f"hidden layer {i} has negative values: take the output after the ReLU, not after the Linear.")
            _fail(name, f"hidden layer {i} differs from the reference.")
    if not torch.allclose(_as_tensor(name, logits, want_logits.shape), want_logits.double(), atol=1e-6):
        _fail(name, "the logits differ: run every layer, and return the last output.")
    print(f"✓ {name}: logits and all {len(want_hidden)} hidden layers match.")


def check_quantize_uniform(fn) -> None:
    """Exercise (notebook 05): ``fn(weights, bits)`` rounds to 2^bits levels, as quantize_uniform does."""
    from .quantization import quantization_params, quantize_uniform

    name = "uniform quantization"
    g = torch.Generator().manual_seed(6)
    w = torch.randn(40, generator=g) * 0.3 + 0.05
    for bits in (2, 3, 8):
        got = _as_tensor(name, _call(name, fn, w.clone(), bits), w.shape)
        want = quantize_uniform(w, bits).double()
        if torch.allclose(got, want, atol=1e-5):
            continue
        levels = torch.unique(got).numel()
        if levels > 2**bits:
            _fail(name, f"with {bits} bits you produced {levels} different values; at most 2^{bits} = {2**bits} are allowed.")
        scale, _ = quantization_params(w, bits)
        if (got - w.double()).abs().max() > scale.item() / 2 + 1e-6:
            _fail(name, f"with {bits} bits a weight moved by {(got - w.double()).abs().max():.4f}, more than half a step "
                        f"({scale.item() / 2:.4f}): round to the nearest level, and use scale = (max - min) / (2^bits - 1).")
        _fail(name, f"with {bits} bits the values differ from the reference: include 0 in the range (min = min(w.min(), 0)), "
                    "zero_point = round(-min / scale), code = clamp(round(w / scale) + zero_point, 0, 2^bits - 1), "
                    "w' = (code - zero_point) * scale.")
    print(f"✓ {name}: matches the reference at 2, 3 and 8 bits.")


def check_pack_bits(fn) -> None:
    """Exercise (notebook 05): ``fn(codes, bits)`` returns the codes packed into bytes."""
    from .quantization import pack_bits

    name = "pack bits"
    codes = torch.tensor([3, 0, 1, 2, 3, 3, 1])
    for bits in (2, 3, 5):
        got = _call(name, fn, codes.clone(), bits)
        want = pack_bits(codes, bits)
        if not isinstance(got, (bytes, bytearray)):
            _fail(name, f"return bytes, not {type(got).__name__}.")
        if len(got) != len(want):
            _fail(name, f"{len(codes)} codes of {bits} bits need {len(codes) * bits} bits = {len(want)} bytes; you returned "
                        f"{len(got)} bytes. Write exactly `bits` bits per code, not one byte per code.")
        if bytes(got) != want:
            _fail(name, f"with {bits} bits the bytes are {list(got)}, expected {list(want)}: write each code's bits "
                        "most significant first, codes one after the other, then pack groups of 8 bits (np.packbits).")
    print(f"✓ {name}: the same bytes as the reference at 2, 3 and 5 bits.")


def check_kmeans_step(fn) -> None:
    """Exercise (notebook 06): ``fn(weights, centres)`` returns ``(new_centres, assignment)`` of one k-means step."""
    name = "one k-means step"
    w = torch.tensor([-4.0, -3.6, -0.5, -0.3, 0.2, 0.5, 2.8, 3.1, 3.0])
    centres = torch.tensor([-4.0, -1.0, 1.0, 3.0])
    got = _call(name, fn, w.clone(), centres.clone())
    if not (isinstance(got, tuple) and len(got) == 2):
        _fail(name, "return a pair (new_centres, assignment).")
    new, assign = got
    want_assign = (w[:, None] - centres[None, :]).abs().argmin(1)
    if not isinstance(assign, torch.Tensor) or assign.shape != w.shape:
        _fail(name, "the assignment is a tensor with one cluster index per weight.")
    if not torch.equal(assign.long(), want_assign):
        _fail(name, f"assignment {assign.tolist()}, expected {want_assign.tolist()}: each weight goes to the centre with "
                    "the smallest |w - c|.")
    want_new = torch.stack([w[want_assign == j].mean() for j in range(4)])
    new = _as_tensor(name, new, (4,))
    if not torch.allclose(new, want_new.double(), atol=1e-5):
        _fail(name, f"new centres {new.tolist()}, expected {want_new.tolist()}: each centre becomes the mean of its weights (C19).")
    print(f"✓ {name}: assignment to the nearest centre, then each centre the mean of its weights.")


def check_huffman_decode(fn) -> None:
    """Exercise (notebook 06): ``fn(bit_string, code)`` turns '0110...' back into symbols."""
    name = "Huffman decoding"
    code = {0: "0", 1: "10", 2: "110", 3: "111"}
    symbols = [0, 0, 1, 3, 0, 2, 1, 0]
    bits = "".join(code[s] for s in symbols)
    got = _call(name, fn, bits, dict(code))
    if not isinstance(got, (list, tuple)):
        _fail(name, f"return a list of symbols, not {type(got).__name__}.")
    if list(got) != symbols:
        _fail(name, f"decoding {bits!r} gave {list(got)}, expected {symbols}: read bits one at a time and emit a "
                    "symbol as soon as the bits read so far equal a code (no code is the prefix of another).")
    print(f"✓ {name}: {bits!r} decodes to {symbols}.")


def check_binarize(fn) -> None:
    """Exercise (notebook 07): ``fn(w, stochastic)``: the sign (0 gives +1), or a random sign with
    P(+1) = clip((w + 1) / 2, 0, 1)."""
    name = "binarize"
    w = torch.tensor([-0.7, 0.0, 0.3, -2.0, 1.5])
    got = _as_tensor(name, _call(name, fn, w.clone(), False), w.shape)
    if not torch.equal(got, torch.tensor([-1.0, 1.0, 1.0, -1.0, 1.0], dtype=torch.double)):
        if got[1] == 0:
            _fail(name, "torch.sign(0) is 0, but a binary weight is +1 or -1: send 0 to +1 (torch.where(w >= 0, 1.0, -1.0)).")
        _fail(name, f"deterministic: expected [-1, 1, 1, -1, 1], got {got.tolist()}.")
    torch.manual_seed(0)
    many = torch.full((20000,), 0.5)
    got = _as_tensor(name, _call(name, fn, many, True), many.shape)
    if not set(torch.unique(got).tolist()) <= {-1.0, 1.0}:
        _fail(name, "stochastic: every value must be +1 or -1.")
    share = (got == 1).double().mean().item()
    if abs(share - 0.75) > 0.02:
        _fail(name, f"stochastic: with w = 0.5, +1 should come with probability (0.5 + 1) / 2 = 0.75; you gave +1 "
                    f"{100 * share:.1f}% of the time.")
    edge = _as_tensor(name, _call(name, fn, torch.tensor([3.0, -3.0]), True), (2,))
    if not torch.equal(edge, torch.tensor([1.0, -1.0], dtype=torch.double)):
        _fail(name, "stochastic: clip the probability to [0, 1], so w >= 1 is always +1 and w <= -1 always -1.")
    print(f"✓ {name}: deterministic and stochastic signs are right.")


def check_straight_through(fn) -> None:
    """Exercise (notebook 07): ``fn(w)`` has the value of sign(w) and the gradient of w."""
    name = "straight-through estimator"
    w = torch.tensor([-0.7, 0.2, 0.9], requires_grad=True)
    out = _call(name, fn, w)
    if not isinstance(out, torch.Tensor) or out.shape != w.shape:
        _fail(name, "return a tensor shaped like w.")
    if not torch.equal(out.detach(), torch.tensor([-1.0, 1.0, 1.0])):
        _fail(name, f"the value must be the binary weights [-1, 1, 1], got {out.detach().tolist()}.")
    if not out.requires_grad:
        _fail(name, "no gradient reaches w: return w + (sign - w).detach(), whose value is the sign and whose gradient is w's.")
    (out * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    if w.grad is None or not torch.allclose(w.grad, torch.tensor([1.0, 2.0, 3.0])):
        got = None if w.grad is None else w.grad.tolist()
        _fail(name, f"the gradient reaching w should be the gradient of the output, [1, 2, 3]; got {got}. "
                    "The derivative of sign is 0 almost everywhere: the estimator passes the gradient straight through instead.")
    print(f"✓ {name}: the value of sign(w), the gradient of w.")


def check_conv_parameter_formula(fn) -> None:
    """Exercise (notebook 08): ``fn(I, O, k)`` returns ``(normal, separable)`` parameter counts."""
    from .architecture import conv_parameter_counts

    name = "convolution parameters"
    for i, o, k in [(2, 4, 3), (256, 256, 3), (3, 64, 5), (16, 8, 1)]:
        got = _call(name, fn, i, o, k)
        c = conv_parameter_counts(i, o, k)
        if not (isinstance(got, tuple) and len(got) == 2):
            _fail(name, "return a pair (normal, separable).")
        normal, separable = got
        if normal != c.normal:
            _fail(name, f"I={i}, O={o}, k={k}: a normal convolution has O filters of k x k x I = {c.normal}, you said {normal}.")
        if separable != c.separable:
            hint = " (the depthwise part is k*k*I: one k x k filter per input channel)" if separable == k * k * o + i * o else ""
            _fail(name, f"I={i}, O={o}, k={k}: depthwise k*k*I = {c.depthwise} plus pointwise I*O = {c.pointwise} "
                        f"is {c.separable}, you said {separable}{hint}.")
    print(f"✓ {name}: right for 4 layers, including the lecture's 72 and 26.")


def check_separable_block(fn) -> None:
    """Exercise (notebook 08): ``fn(I, O, k)`` builds a depthwise separable block from nn.Conv2d."""
    from torch import nn

    from .models import count_parameters

    name = "depthwise separable block"
    i, o, k = 8, 16, 3
    block = _call(name, fn, i, o, k)
    if not isinstance(block, nn.Module):
        _fail(name, "return an nn.Module (an nn.Sequential of two nn.Conv2d).")
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        _fail(name, f"expected two convolutions (depthwise, then pointwise), found {len(convs)}.")
    depthwise, pointwise = convs
    if depthwise.groups != i:
        _fail(name, f"the first convolution has groups={depthwise.groups}: set groups=in_channels ({i}) so each filter sees one channel.")
    if pointwise.kernel_size != (1, 1) or pointwise.out_channels != o:
        _fail(name, f"the second convolution must be 1 x 1 from {i} to {o} channels.")
    out = block(torch.zeros(2, i, 10, 10))
    if out.shape[:2] != (2, o):
        _fail(name, f"output shape {tuple(out.shape)}: expected {o} channels.")
    expected = k * k * i + i * o
    if count_parameters(block) != expected:
        _fail(name, f"{count_parameters(block)} parameters, expected k*k*I + I*O = {expected} (use bias=False).")
    print(f"✓ {name}: {expected} parameters, groups={i}, then a 1 x 1 convolution.")


def check_low_rank_parameters(fn) -> None:
    """Exercise (notebook 09): ``fn(N, M, K)`` returns ``(full, factorized)`` parameter counts without biases."""
    from .architecture import low_rank_parameter_counts

    name = "low-rank parameters"
    for n, m, k in [(1000, 1000, 20), (1000, 1000, 50), (784, 300, 10)]:
        got = _call(name, fn, n, m, k)
        want = low_rank_parameter_counts(n, m, k)
        if tuple(got) != want:
            _fail(name, f"N={n}, M={m}, K={k}: expected (N*M, K*(N+M)) = {want}, got {tuple(got)}.")
    print(f"✓ {name}: (N*M, K*(N+M)), e.g. 1,000,000 against 40,000 for the lecture's K = 20.")


def check_truncated_svd(fn) -> None:
    """Exercise (notebook 09): ``fn(W, K)`` returns ``(A, B)`` with B @ A the best rank-K approximation of W."""
    name = "truncated SVD"
    g = torch.Generator().manual_seed(7)
    w = torch.randn(12, 9, generator=g, dtype=torch.double)
    for k in (1, 3, 9):
        got = _call(name, fn, w.clone(), k)
        if not (isinstance(got, tuple) and len(got) == 2):
            _fail(name, "return a pair (A, B): A is K x N (the first layer), B is M x K (the second).")
        a, b = got
        if tuple(a.shape) != (k, 9) or tuple(b.shape) != (12, k):
            _fail(name, f"with K={k}: A must be {k} x 9 and B 12 x {k}; got {tuple(a.shape)} and {tuple(b.shape)}.")
        s = torch.linalg.svdvals(w)
        best = s[k:].pow(2).sum().sqrt()
        error = torch.linalg.norm(w - b.double() @ a.double())
        if error > best + 1e-6:
            _fail(name, f"with K={k} the error ||W - BA|| is {error:.4f}; the best possible (Eckart-Young) is {best:.4f}: "
                        "keep the K largest singular values and their vectors.")
    print(f"✓ {name}: B @ A is the best rank-K approximation at K = 1, 3 and 9.")


def check_sum_of_exit_losses(fn) -> None:
    """Exercise (notebook 10): ``fn(outputs, labels)`` sums the cross-entropy of every exit."""
    import torch.nn.functional as F

    name = "sum of exit losses"
    g = torch.Generator().manual_seed(8)
    outputs = [torch.randn(6, 10, generator=g) for _ in range(3)]
    labels = torch.randint(0, 10, (6,), generator=g)
    got = _call(name, fn, outputs, labels)
    want = sum(F.cross_entropy(z, labels) for z in outputs)
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        _fail(name, "return one number (a 0-dim tensor).")
    if torch.isclose(got, want / 3):
        _fail(name, "you averaged the exits' losses: the lecture sums them (the scale matters for the learning rate).")
    if torch.isclose(got, F.cross_entropy(outputs[-1], labels)):
        _fail(name, "only the last exit's loss: every exit must be trained, so add all of them.")
    if not torch.isclose(got, want):
        _fail(name, f"expected {want.item():.4f} (cross-entropy of each exit against the labels, summed), got {float(got):.4f}.")
    print(f"✓ {name}: every exit's cross-entropy, summed.")


def check_first_confident_exit(fn) -> None:
    """Exercise (notebook 10): ``fn(confidences, threshold)``: for each image (column) the first exit
    (row) whose confidence reaches the threshold, the last exit if none does."""
    name = "first confident exit"
    confidences = torch.tensor([[0.95, 0.40, 0.60, 0.20],
                                [0.99, 0.85, 0.70, 0.30],
                                [0.99, 0.99, 0.80, 0.50]])
    for threshold, want in [(0.9, [0, 2, 2, 2]), (0.8, [0, 1, 2, 2]), (0.5, [0, 1, 0, 2]), (1.0, [2, 2, 2, 2])]:
        got = _call(name, fn, confidences.clone(), threshold)
        got = got.tolist() if isinstance(got, torch.Tensor) else list(got)
        if got != want:
            hint = ""
            undecided = (confidences < threshold).all(dim=0).tolist()
            if got == confidences.argmax(0).tolist():
                hint = " You took the most confident exit; the network stops at the *first* one that is confident enough."
            elif any(u and g != len(confidences) - 1 for u, g in zip(undecided, got)):
                hint = " When no exit is confident enough, the image goes to the last exit."
            _fail(name, f"threshold {threshold}: expected exits {want}, got {got}.{hint}")
    print(f"✓ {name}: the first exit past the threshold, the last one otherwise.")


def check_gaps_with_escape(fn) -> None:
    """Exercise (notebook 11): ``fn(positions, max_gap)``: the relative positions of the non-zero
    weights, a gap of ``max_gap`` or more spelled with ``max_gap`` escape symbols."""
    from .deep_compression import gaps_with_escape

    name = "relative positions (gaps)"
    cases = [([0, 1, 2], 8), ([3, 4, 9], 8), ([2, 20], 8), ([16], 8), ([0, 17, 18], 4)]
    for positions, max_gap in cases:
        want = gaps_with_escape(positions, max_gap)
        got = _call(name, fn, list(positions), max_gap)
        got = got.tolist() if isinstance(got, torch.Tensor) else list(got)
        if got == want:
            continue
        plain = [p - q - 1 for p, q in zip(positions, [-1, *positions[:-1]])]
        hint = ""
        if got == [p - q for p, q in zip(positions, [0, *positions[:-1]])] or got == [p - q for p, q in zip(positions, [-1, *positions[:-1]])]:
            hint = " Count the zeros *between* weights: the gap before position p, after a weight at q, is p - q - 1 (the first weight's q is -1)."
        elif got == plain:
            hint = f" Gaps of {max_gap} or more do not fit: emit the escape symbol {max_gap} (skip {max_gap} zeros, no weight) until the rest is below {max_gap}."
        _fail(name, f"positions {positions} with max_gap={max_gap}: expected {want}, got {got}.{hint}")
    print(f"✓ {name}: correct on {len(cases)} cases, escapes included.")


def check_canonical_code(fn) -> None:
    """Exercise (notebook 11): ``fn(lengths)`` -> the canonical prefix code for ``{symbol: length}``."""
    from .huffman import canonical_code

    name = "canonical Huffman code"
    cases = [{0: 1, 1: 2, 2: 3, 3: 3}, {"a": 2, "b": 2, "c": 2, "d": 2}, {5: 3, 1: 2, 7: 3, 2: 1}, {0: 1}]
    for lengths in cases:
        want = canonical_code(lengths)
        got = _call(name, fn, dict(lengths))
        if not isinstance(got, dict):
            _fail(name, f"return a dict {{symbol: '0101'}}, not {type(got).__name__}.")
        if got == want:
            continue
        wrong_lengths = {s: len(c) for s, c in got.items()} != lengths
        hint = (" Each symbol's code must have exactly the length given." if wrong_lengths else
                " Go through the symbols sorted by (length, symbol): the first gets all zeros, each next one the "
                "previous code + 1, shifted left by the difference in length when the length grows.")
        _fail(name, f"lengths {lengths}: expected {want}, got {got}.{hint}")
    print(f"✓ {name}: correct on {len(cases)} cases; only the lengths need storing.")


def check_parameter_count(fn) -> None:
    """Exercise (homework): ``fn(model)`` -> the number of parameters, as the homework counts them."""
    from torch import nn

    from .models import count_parameters

    name = "counting parameters"
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    want = count_parameters(model)
    got = _call(name, fn, model)
    if isinstance(got, torch.Tensor):
        got = got.item()
    if got == want:
        print(f"✓ {name}: {want:,} parameters in the test network (convolution, batch norm, linear).")
        return
    weights_only = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    with_buffers = want + sum(b.numel() for b in model.buffers())
    hints = {
        4 * want: "that is 4 bytes per parameter: the homework counts parameters, not bytes (C20).",
        weights_only: "you counted only the weights: biases and batch norm's scale and shift are parameters too.",
        with_buffers: "you counted the buffers too (batch norm's running mean, variance and step count): they are "
                      "not parameters, nothing trains them. Use model.parameters().",
        len(list(model.parameters())): "that is the number of parameter *tensors*: add up each one's numel().",
    }
    _fail(name, f"expected {want:,}, got {got!r}. " + hints.get(got, "Add p.numel() over model.parameters()."))


def check_homework_model(build_fn, budget: int | None = None) -> None:
    """Exercise (homework): ``build_fn()`` -> a network within the budget, giving 10 scores per image."""
    from torch import nn

    from .homework import BUDGET
    from .models import count_parameters

    name = "the homework model"
    budget = BUDGET if budget is None else budget
    model = _call(name, build_fn)
    if not isinstance(model, nn.Module):
        _fail(name, f"build_model() must return a torch.nn.Module, it returned {type(model).__name__}.")
    n = count_parameters(model)
    if n > budget:
        _fail(name, f"{n:,} parameters, {n - budget:,} over the budget of {budget:,}. Fewer channels, or depthwise "
                    f"separable convolutions (notebook 08: a 3x3 convolution from I to O channels costs 9*I*O, "
                    f"separable 9*I + I*O).")
    model.eval()
    with torch.no_grad():
        try:
            out = model(torch.zeros(2, 1, 28, 28))
        except Exception as exc:
            _fail(name, f"the model failed on a batch of shape (2, 1, 28, 28): {type(exc).__name__}: {exc}")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 10):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        _fail(name, f"for 2 images the output must have shape (2, 10), one score per class; got {shape}. "
                    "End with a linear layer to 10 outputs (after flattening).")
    print(f"✓ {name}: {n:,} parameters (budget {budget:,}); it gives 10 scores per image. Now train it.")
