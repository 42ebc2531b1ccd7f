"""Knowledge distillation: softmax with temperature and the distillation loss (Hinton et al. 2015)."""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F


def require_temperature(temperature) -> float:
    """``temperature`` as a float, or a ValueError saying why it is not allowed."""
    if isinstance(temperature, torch.Tensor) and temperature.numel() == 1:
        temperature = temperature.item()
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got temperature={temperature!r}")
    return float(temperature)


def softmax_with_temperature(logits, temperature) -> torch.Tensor:
    """y'_i = exp(y_i / T) / sum_j exp(y_j / T), over the last dimension.

    T = 1 is the ordinary softmax; larger T gives a smoother distribution. Dividing
    by T > 0 never changes which class ranks first. Computed stably (the largest
    logit is subtracted before the exponential), so logits of 1e4 do not overflow.
    """
    temperature = require_temperature(temperature)
    logits = torch.as_tensor(logits, dtype=torch.get_default_dtype()) if not isinstance(logits, torch.Tensor) else logits
    return torch.softmax(logits / temperature, dim=-1)


def soft_target_loss(student_logits, teacher_logits, temperature) -> torch.Tensor:
    """KL(p_teacher || p_student), both softened by T, averaged over the batch.

    Its gradient with respect to the student's logits (Hinton et al., eq. 2; notebook 04
    derives it) shrinks like 1/T^2 when T is large, which is why ``distillation_loss``
    multiplies it by T^2.
    """
    temperature = require_temperature(temperature)
    log_p_student = F.log_softmax(student_logits / temperature, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha, scale_by_t2: bool = True):
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CrossEntropy(student, labels).

    * ``temperature`` T > 0 softens both distributions (the soft targets).
    * ``alpha`` in [0, 1] weighs the soft-target term; ``1 - alpha`` goes to the labels
      (Hinton et al. give the hard-label term the lower weight).
    * ``scale_by_t2=False`` drops the T^2 factor, to show what it is for.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (the weight of the soft targets), got {alpha!r}")
    temperature = require_temperature(temperature)
    soft = soft_target_loss(student_logits, teacher_logits, temperature)
    if scale_by_t2:
        soft = soft * temperature**2
    if alpha == 1.0:
        return soft
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1.0 - alpha) * hard


class TeacherAlongside(torch.nn.Module):
    """A student that answers with its teacher's logits beside its own: ``forward(x)`` returns
    ``(student(x), teacher(x))`` on the very same images.

    For distillation with data augmentation: when ``fit`` shifts the images (``jitter``), soft
    targets computed once on the unshifted images would describe other images; computed here, the
    teacher sees what the student sees. The teacher is frozen (no gradient, kept in eval mode) and
    is not a submodule, so the optimizer, ``.train()`` and the student's state dict leave it alone.
    """

    def __init__(self, student: torch.nn.Module, teacher: torch.nn.Module):
        super().__init__()
        self.student = student
        self._teacher = (teacher.eval().requires_grad_(False),)  # a tuple: hidden from .modules()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        teacher = self._teacher[0].to(x.device)
        with torch.no_grad():
            teacher_logits = teacher(x)
        return self.student(x), teacher_logits


def entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """H(p) = -sum_i p_i log p_i in nats, over the last dimension (log 10 = 2.303 is uniform over 10 classes)."""
    return -torch.special.xlogy(probabilities, probabilities).sum(dim=-1)


def logit_matching_loss(student_logits, teacher_logits) -> torch.Tensor:
    """Ba & Caruana's mimic loss: 1/2 * mean over the batch of sum_i (z_i - v_i)^2, on the logits
    before the softmax (zero-meaned per example, since adding a constant to every logit
    changes nothing after a softmax)."""
    z = student_logits - student_logits.mean(dim=-1, keepdim=True)
    v = teacher_logits - teacher_logits.mean(dim=-1, keepdim=True)
    return 0.5 * ((z - v) ** 2).sum(dim=-1).mean()


# Teachers that are wrong, or soft, on purpose: the controls that show *what* a student learns
# from soft targets (C2, C4). Each is a tensor of "teacher logits" for ``distillation_loss``.

def mimic_gradient_gap(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature) -> float:
    """How far high-temperature distillation is from logit matching (C9): the relative distance
    |N T^2 grad(soft) - grad(mimic)| / |grad(mimic)| between the gradients, with respect to the
    student's logits, of the T^2-scaled soft-target loss (times N, the number of classes) and of
    the mimic loss. It falls like 1/T while T is small against the logits, until float32 rounding
    of the nearly equal softened probabilities takes over."""
    temperature = require_temperature(temperature)

    def gradient(loss_fn) -> torch.Tensor:
        z = student_logits.detach().clone().requires_grad_(True)
        loss_fn(z).backward()
        return z.grad

    mimic = gradient(lambda z: logit_matching_loss(z, teacher_logits))
    soft = gradient(lambda z: temperature**2 * soft_target_loss(z, teacher_logits, temperature))
    return ((student_logits.shape[-1] * soft - mimic).norm() / mimic.norm()).item()


def swap_classes(logits: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """A teacher wrong on purpose (C2): its outputs for classes ``a`` and ``b`` exchanged, so it
    calls every ``a`` a ``b`` and every ``b`` an ``a``, with the same confidence it had before."""
    n = logits.shape[-1]
    if not (0 <= a < n and 0 <= b < n) or a == b:
        raise ValueError(f"a and b must be two different classes between 0 and {n - 1}, got a={a}, b={b}")
    order = list(range(n))
    order[a], order[b] = b, a
    return logits[..., order]


def shuffle_wrong_classes(logits: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The teacher's logits with, for each image, its wrong classes' logits shuffled among the wrong
    classes (C4's control): the label's probability and the targets' softness (their entropy) stay
    exactly as they were; which classes the teacher found alike is destroyed."""
    n, classes = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per row of logits, got {tuple(labels.shape)}")
    g = torch.Generator().manual_seed(seed)
    is_label = F.one_hot(labels, classes).bool()
    wrong = torch.argsort(is_label.float(), dim=1, stable=True)[:, :classes - 1]  # each row's wrong classes
    shuffled = wrong.gather(1, torch.argsort(torch.rand(n, classes - 1, generator=g), dim=1))
    out = logits.clone()
    out.scatter_(1, wrong, logits.gather(1, shuffled))
    return out


def label_smoothing_logits(labels: torch.Tensor, temperature, mean_entropy: float, classes: int = 10) -> torch.Tensor:
    """Label smoothing written as a teacher (C4's other control): logit ``a`` for the label, 0 for
    every other class, with ``a`` chosen so that at ``temperature`` the targets have entropy
    ``mean_entropy`` (nats). Equally soft as a real teacher's targets, but every wrong class
    equally likely: softness without any "which classes look alike"."""
    temperature = require_temperature(temperature)
    if not 0.0 < mean_entropy < math.log(classes):
        raise ValueError(f"mean_entropy must be between 0 and log({classes}) = {math.log(classes):.3f} nats, "
                         f"got {mean_entropy!r}")

    def entropy_at(a: float) -> float:  # of softmax((a, 0, ..., 0) / T), which falls as a grows
        return entropy(torch.softmax(torch.tensor([a / temperature] + [0.0] * (classes - 1)), dim=0)).item()

    low, high = 0.0, 50.0 * temperature * math.log(classes)  # entropy_at(low) = log(classes) > target > entropy_at(high)
    for _ in range(60):  # bisection
        middle = (low + high) / 2
        low, high = (middle, high) if entropy_at(middle) > mean_entropy else (low, middle)
    return F.one_hot(labels, classes).float() * (low + high) / 2


def shift_class_bias(model: torch.nn.Module, cls: int, amount: float) -> torch.nn.Module:
    """Add ``amount`` to the output bias of class ``cls`` (the model's last layer with a bias),
    in place: Hinton et al.'s fix for a class the student never saw."""
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias[cls] += amount
    return model


def shifted_predictions(logits: torch.Tensor, cls: int, shift: float) -> torch.Tensor:
    """The predicted classes once ``shift`` is added to class ``cls``'s logit (its output bias)."""
    shifted = logits.clone()
    shifted[:, cls] += float(shift)
    return shifted.argmax(dim=1)


def bias_shift_outcome(logits: torch.Tensor, labels: torch.Tensor, cls: int, shift: float) -> dict:
    """What adding ``shift`` to class ``cls``'s logit does (C5): errors overall, errors on the images of
    ``cls`` (the digit the student never saw), and *false* ``cls`` answers, images of other digits
    now taken for it; raising the bias trades the second for the third."""
    predictions = shifted_predictions(logits, cls, shift)
    is_cls = labels == cls
    return {"shift": float(shift), "cls": int(cls), "n": len(labels), "n_cls": int(is_cls.sum()),
            "errors": int((predictions != labels).sum()),
            "errors_on_cls": int((is_cls & (predictions != cls)).sum()),
            "false_cls": int((~is_cls & (predictions == cls)).sum())}


def best_bias_shift(logits: torch.Tensor, labels: torch.Tensor, cls: int, shifts) -> tuple[float, list[float]]:
    """The shift of class ``cls``'s logit that gives the highest accuracy on (``logits``, ``labels``),
    which must be a validation set, never the test set. Returns (best shift, accuracy of each shift)."""
    accuracies = [(shifted_predictions(logits, cls, shift) == labels).double().mean().item() for shift in shifts]
    best = max(range(len(accuracies)), key=accuracies.__getitem__)
    return float(shifts[best]), accuracies


def bias_shift_for_share(logits: torch.Tensor, cls: int, share: float, shifts) -> float:
    """A shift of class ``cls``'s logit chosen with no labels at all: the one whose share of ``cls``
    answers on (unlabelled) ``logits`` is closest to ``share`` (a tenth, for a digit of MNIST's ten,
    which appear about equally often). The first such shift if several tie."""
    if not 0.0 < float(share) < 1.0:
        raise ValueError(f"share must be a fraction between 0 and 1 (a tenth is 0.1), got {share!r}")
    gaps = [abs((shifted_predictions(logits, cls, shift) == cls).double().mean().item() - float(share))
            for shift in shifts]
    if not gaps:
        raise ValueError("shifts is empty: give the candidate shifts to choose from")
    return float(shifts[min(range(len(gaps)), key=gaps.__getitem__)])
