# %% [markdown]
# # Homework · The most accurate MNIST classifier under 5,000 parameters
#
# Covers: C20, C27
#
# The lecture prepares for this assignment (in the course: at most 100,000 parameters, on food photos). Here, on
# MNIST:
#
# > Build the most accurate classifier of MNIST digits that carries at most **5,000** numbers.
#
# - **Numbers are counted, not bytes** (C20): `count_budget(model)` counts every number the model carries, in its
#   parameters (`model.parameters()`) and in its buffers (`model.buffers()`, anything kept with `register_buffer`)
#   alike. The one exception is batch norm's running statistics (`running_mean`, `running_var` and
#   `num_batches_tracked` of each batch-norm layer with a learned scale and shift, `affine=True`, the default):
#   training measures them, it does not learn them. Storing numbers in
#   8 or 4 bits does not change the count, so quantization does not help here; moving weights from parameters into
#   buffers does not either.
# - **Why 5,000**: the lecture's teacher has about 170,000. The budget is chosen small enough that *how* the parameters
#   are spent decides the result: the three reference solutions below, which differ only in design and training, land
#   at different accuracies (their measured numbers are in the table below; one training run each, so their seed
#   spread is not measured).
# - **Tiers**: simple, medium and strong are the measured test accuracies of three reference solutions, trained with
#   `train_submission` on the 60,000 training images: a plain small CNN (4 epochs); a depthwise separable CNN (C27,
#   4 epochs); the same depthwise separable CNN distilled from the lecture's teacher (T = 2, half soft targets), trained
#   twice as long (8 epochs). The strong tier differs from medium in two ways at once, distillation and twice the
#   epochs, and no run here separates them. Finding a distillation recipe that clearly wins at this budget is a good
#   extra challenge.
# - **Hand in** two files: `my_model.py` with a function `build_model()` that returns your (untrained) network, and
#   `my_weights.pt`, its trained weights saved with `torch.save(model.state_dict(), "my_weights.pt")`. The network
#   gets MNIST test images as `load_mnist` gives them: shape `(N, 1, 28, 28)`, values in [0, 1].
# - **Grade yourself** (teachers grade the same way):
#   `python -m lecture_utils.grade my_model.py my_weights.pt` prints the numbers counted, your test accuracy and tier.
#   It runs your model in a separate process that sees the test images but not their labels, with a time limit
#   (120 s) and a memory limit, and loads your weights with `weights_only=True`; their names and shapes must be
#   exactly your network's. It exits with status 2 when the budget is exceeded and 1 when the model cannot be built,
#   loaded or run (too slow, out of memory, crashed). Teachers grade on a private test set: MNIST's test labels are
#   public, so a model could look them up.
#
# Expected run time: about 40 s on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import importlib
import sys
from pathlib import Path

import torch

from lecture_utils import claim
from lecture_utils.exercises import check_homework_model, check_parameter_count
from lecture_utils.grade import grade
from lecture_utils.homework import BUDGET, TIER_NAMES, count_budget, load_tiers, train_submission
from lecture_utils.quantization import quantize_model, quantized_model_bytes, state_dict_bytes
from lecture_utils.pretrained import load_teacher

teacher, teacher_accuracy = load_teacher("teacher")
print(f"budget: {BUDGET:,} numbers; the teacher carries {count_budget(teacher):,} ({100 * teacher_accuracy:.2f}%)")


# %% [markdown]
# ## The rule: count numbers, not bytes (C20)
#
# ### Exercise: count a model's numbers the way the grader does
#
# Write `my_count_parameters(model)`: the numbers the budget counts in a `torch.nn.Module`, as a Python `int`: every
# number in its parameters and in its buffers, except the running statistics of its batch-norm layers
# (`torch.nn.modules.batchnorm._BatchNorm` with `affine=True`: `running_mean`, `running_var`, `num_batches_tracked`). A tensor shared by
# two layers counts once.

# %%
def my_count_parameters(model):
    ### BEGIN SOLUTION
    statistics = {"running_mean", "running_var", "num_batches_tracked"}
    exempt = {id(b) for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.affine
              for name, b in m.named_buffers(recurse=False) if name in statistics}
    carried = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return sum(t.numel() for key, t in carried.items() if key not in exempt)
    ### END SOLUTION


check_parameter_count(my_count_parameters)

# %% [markdown]
# Quantizing the teacher to 4 bits (notebook 05) makes its file about 8 times smaller, and leaves its count exactly
# as it was: for this homework, quantization buys nothing.

# %%
quantized = quantize_model(teacher, bits=4)
print(f"float32: {count_budget(teacher):,} numbers, {state_dict_bytes(teacher):,} bytes")
print(f"4 bits:  {count_budget(quantized):,} numbers, {len(quantized_model_bytes(teacher, 4)):,} bytes")
claim("C20", count_budget(quantized) == count_budget(teacher) and len(quantized_model_bytes(teacher, 4)) < state_dict_bytes(teacher) / 4,
      f"4-bit quantization shrinks the teacher's bytes from {state_dict_bytes(teacher):,} to "
      f"{len(quantized_model_bytes(teacher, 4)):,} and leaves its count at {count_budget(quantized):,} numbers")

# %% [markdown]
# ## The tiers: three reference solutions, graded like yours
#
# Each tier is the test accuracy of a reference solution, measured by the same grader you will use. In the teachers'
# version the reference solutions (`reference_solutions.py`, weights in `reference/`) are graded again here; the
# student version has only their measured accuracies (`lecture_utils/weights/homework_tiers.json`).

# %%
tiers = load_tiers()
references = Path("reference_solutions.py")
print(f"{'tier':<8}{'parameters':>12}{'epochs':>8}{'test accuracy':>16}   reference solution")
for name in TIER_NAMES:
    if references.exists():  # teachers' version: grade the reference again, as a student's model is graded
        g = grade(f"{references}:build_{name}", Path("reference") / f"{name}.pt")
        assert g.accuracy == tiers["tiers"][name] and g.tier == name, "homework_tiers.json is stale: run `make checkpoints`"
    print(f"{name:<8}{tiers['parameters'][name]:>12,}{tiers['epochs'][name]:>8}{100 * tiers['tiers'][name]:>15.2f}%   "
          + {"simple": "plain CNN, labels", "medium": "depthwise separable CNN, labels",
             "strong": "depthwise separable CNN, distilled from the teacher"}[name])

# %% [markdown]
# What the budget buys in each design: a 3x3 convolution from I to O channels costs 9·I·O parameters, a depthwise
# separable one 9·I + I·O (notebook 08). At 24 -> 40 channels that is 8,640 against 1,176: a plain network must stay
# narrow to fit, a separable one can be several times wider.
#
# ## Your network
#
# ### Exercise: design a network within the budget
#
# Write `build_model()` in the cell below; running the cell saves it as `my_model.py`, the file you hand in. The check
# builds it, counts its numbers (`count_budget`) and runs it on two blank images.

# %%
# %%writefile my_model.py
import torch
from torch import nn


def build_model():
    ### BEGIN SOLUTION
    from reference_solutions import build_strong  # teachers' version: the strong reference network

    return build_strong()
    ### END SOLUTION


# %%
import my_model

importlib.reload(my_model)  # read the file again after every edit
check_homework_model(my_model.build_model)

# %% [markdown]
# ## Train, save, grade
#
# `train_submission(model, teacher)` trains with distillation from the lecture's teacher (leave `teacher` out to
# train on the labels); by default at T = 4 with 90% soft targets, while the strong reference used T = 2 and half
# soft targets (pass `**tiers["distillation"]` to train as it was). Here a short demonstration run
# (`P.homework_demo_epochs` epochs on `P.homework_demo_size` images: in the lecture profile two epochs on 20,000 images,
# about 15 s), far from the tiers. For your real attempt use `epochs=4` (or more) on all 60,000 images: a few minutes on a
# laptop.

# %%
model = my_model.build_model()
train_submission(model, teacher, epochs=P.homework_demo_epochs, train_size=P.homework_demo_size, seed=setup.seed)
torch.save(model.state_dict(), "my_weights.pt")

# !{sys.executable} -m lecture_utils.grade my_model.py my_weights.pt

# %% [markdown]
# ## Ideas
#
# - Spend parameters where they pay: depthwise separable convolutions (C27), global average pooling instead of a
#   large final linear layer, batch normalisation (2 parameters per channel).
# - Distillation (notebook 01): the teacher's soft targets carry more than the labels; try the temperature and the
#   weight of the soft term.
# - Train longer, with a learning-rate schedule, and with small shifts of the images (`jitter`, as the teacher was).
# - Count as you go: `count_budget(build_model())` must stay at most 5,000 (parameters and buffers; batch norm's
#   running statistics aside).
