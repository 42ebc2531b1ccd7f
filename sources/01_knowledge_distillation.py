# %% [markdown]
# # 01 · Knowledge distillation and temperature
#
# Covers: C1, C2, C3, C4, C7, C8
#
# The lecture's first compression idea: train a big **teacher**, then a small **student** that learns from the
# teacher's output *distribution* instead of the labels (Hinton, Vinyals & Dean 2015). In this notebook we
#
# 1. look at what a real teacher outputs for an ambiguous digit (C1, C4),
# 2. soften that output with a **temperature** and move a slider to watch it change (C7),
# 3. train the same small student twice, on labels and from the teacher, and count the test errors (C1, C3),
# 4. check whether the student copies the teacher's mistakes (C2),
# 5. sweep the temperature to see what happens when it is too small or too large, and why the soft loss is multiplied by T² (C8).
#
# Every number below is computed in this notebook; published numbers are labelled as such.
# Expected run time: about a minute on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import functools
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from lecture_utils import (MLP, balanced_subset, count_parameters, distillation_loss, entropy, evaluate, fit,
                           load_mnist, make_loader, predict_logits, seed_everything, softmax_with_temperature)
from lecture_utils.exercises import check_distillation_loss, check_softmax_with_temperature
from lecture_utils.pretrained import load_teacher
from lecture_utils.widgets import temperature_slider

# %% [markdown]
# ## The teacher and the data
#
# The teacher was trained once by `make checkpoints` (a few minutes on a CPU) and is loaded from
# `lecture_utils/weights/`. The students learn from a **transfer set**: a class-balanced subset of the training images.

# %%
x_train, y_train = load_mnist(train=True)
x_test, y_test = load_mnist(train=False)
x_transfer, y_transfer = balanced_subset(x_train, y_train, P.transfer_size, seed=setup.seed)

teacher, teacher_stored_accuracy = load_teacher()
teacher_test = evaluate(teacher, x_test, y_test)
print(f"teacher: {teacher.__class__.__name__}, {count_parameters(teacher):,} parameters, test {teacher_test}")
print(f"transfer set: {len(y_transfer):,} images, {torch.bincount(y_transfer).tolist()} per digit")

# %% [markdown]
# ## C1, C4 · What the teacher says about an ambiguous "1"
#
# The lecture's example: for an image of a 1, the teacher outputs 0.7 for 1, 0.2 for 7 and 0.1 for 9, and the student
# is trained to output the same. Here is the test image of a 1 to which our teacher gives the most probability of
# being a 7 (among those it still calls a 1 with probability above one half).

# %%
teacher_logits_test = predict_logits(teacher, x_test)
p_teacher = softmax_with_temperature(teacher_logits_test, 1.0)
ones = torch.nonzero((y_test == 1) & (p_teacher[:, 1] > 0.5)).flatten()  # 1s the teacher calls 1
ambiguous = ones[p_teacher[ones, 7].argmax()].item()  # ... with the most doubt towards 7

fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(7, 2.6), gridspec_kw={"width_ratios": [1, 2.4]})
ax_img.imshow(x_test[ambiguous, 0], cmap="gray_r")
ax_img.set_title(f"test image {ambiguous}, label 1")
ax_img.axis("off")
ax_bar.bar(range(10), p_teacher[ambiguous], color="tab:blue", label="our teacher (T = 1)")
ax_bar.plot([1, 7, 9], [0.7, 0.2, 0.1], "o", color="tab:red", label="lecture's example")
ax_bar.set_xticks(range(10))
ax_bar.set_xlabel("class")
ax_bar.set_ylabel("probability")
ax_bar.legend()
plt.show()
top3 = p_teacher[ambiguous].argsort(descending=True)[:3].tolist()
print("our teacher, T = 1:", {c: round(p_teacher[ambiguous, c].item(), 3) for c in top3},
      "| the lecture's example: {1: 0.7, 7: 0.2, 9: 0.1}")

# %% [markdown]
# ## C7 · Softmax with temperature
#
# $$y'_i = \frac{\exp(y_i / T)}{\sum_j \exp(y_j / T)}$$
#
# The lecture's logits $(100, 10, 1)$: at $T = 1$ the softmax is essentially $(1, 0, 0)$, which teaches nothing the
# label does not. At $T = 100$ the logits become $(1, 0.1, 0.01)$ before the exponential and the distribution is smooth.
# Dividing by $T > 0$ never changes which class ranks first.

# %%
# NBVAL_CHECK_OUTPUT
lecture_logits = torch.tensor([100.0, 10.0, 1.0])
at_1 = softmax_with_temperature(lecture_logits, 1.0)
at_100 = softmax_with_temperature(lecture_logits, 100.0)
print("T = 1:  ", [round(p, 4) for p in at_1.tolist()])
print("T = 100:", [round(p, 4) for p in at_100.tolist()], "= softmax of", (lecture_logits / 100).tolist())
assert torch.allclose(at_1, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)
assert torch.allclose(at_100, torch.softmax(torch.tensor([1.0, 0.1, 0.01]), 0))
assert at_1.argmax() == at_100.argmax() == 0  # the ranking is unchanged

# %% [markdown]
# ### Move the temperature
#
# The slider redraws the teacher's softened output for the ambiguous 1 above. At small T it is almost one-hot; around
# T = 4 the "it could be a 7" information becomes visible; at very large T every class tends to 0.1.

# %%
# NBVAL_IGNORE_OUTPUT
temperature_slider(teacher_logits_test[ambiguous], temperature=4.0, title=f"teacher on test image {ambiguous}: ")


# %% [markdown]
# ### Exercise 1 · Write softmax with temperature
#
# Fill in `my_softmax_with_temperature` so that it works on a single vector and on a batch (softmax over the last
# dimension), and never overflows, even for logits of $10^4$. The check runs it on small fixed inputs and tells you
# what is wrong.

# %%
def my_softmax_with_temperature(logits, temperature):
    ### BEGIN SOLUTION
    scaled = logits / temperature
    scaled = scaled - scaled.max(dim=-1, keepdim=True).values  # exp(y - m) never overflows
    e = torch.exp(scaled)
    return e / e.sum(dim=-1, keepdim=True)
    ### END SOLUTION


check_softmax_with_temperature(my_softmax_with_temperature)

# %% [markdown]
# ## C1, C3 · The same student, on labels and from the teacher
#
# Two students with the same architecture, the same starting weights (same seed), the same images in the same
# order and the same number of epochs. One learns from the labels (cross-entropy); the other from the teacher's soft
# targets with the **distillation loss**
#
# $$\mathcal{L} = \alpha\, T^2\, \mathrm{KL}\big(\mathrm{softmax}(v/T) \,\|\, \mathrm{softmax}(z/T)\big) + (1-\alpha)\, \mathrm{CE}(z, y)$$
#
# where $v$ are the teacher's logits and $z$ the student's. Expected run time: about 10 s on a CPU.

# %%
teacher_logits_transfer = predict_logits(teacher, x_transfer)  # computed once, reused by every student


def make_student(seed=setup.seed):
    seed_everything(seed)  # same seed -> identical starting weights for every student
    return MLP(hidden=P.student_hidden)


scratch = make_student()
fit(scratch, make_loader(x_transfer, y_transfer, seed=setup.seed), F.cross_entropy,
    epochs=P.student_epochs, lr=P.student_lr, name="student on labels")

distilled = make_student()
kd_loss = functools.partial(distillation_loss, temperature=P.distill_temperature, alpha=P.distill_alpha)
fit(distilled, make_loader(x_transfer, teacher_logits_transfer, y_transfer, seed=setup.seed), kd_loss,
    epochs=P.student_epochs, lr=P.student_lr, name=f"student distilled at T = {P.distill_temperature:g}")

scratch_test = evaluate(scratch, x_test, y_test)
distilled_test = evaluate(distilled, x_test, y_test)

# %%
student_desc = "784-" + "-".join(map(str, P.student_hidden)) + "-10 MLP"
rows = [
    ("teacher", f"{teacher.__class__.__name__}, {count_parameters(teacher):,} params", teacher_test.errors, 67),
    ("student on labels", f"{student_desc}, {count_parameters(scratch):,} params", scratch_test.errors, 146),
    (f"student distilled (T = {P.distill_temperature:g})", f"{student_desc}, {count_parameters(distilled):,} params",
     distilled_test.errors, 74),
]
print(f"{'':28} {'network':34} {'test errors (ours)':>19} {'Hinton et al. 2015 (published)':>31}")
for name, net, ours, published in rows:
    print(f"{name:28} {net:34} {ours:>19} {published:>31}")
print(f"\nOurs: {len(y_transfer):,} transfer images, {P.student_epochs} epochs, alpha = {P.distill_alpha}, profile '{P.name}'.")
print("Published: 784-1200-1200-10 teacher with dropout and jitter, 784-800-800-10 student, all 60,000 images, T = 20.")

assert distilled_test.errors <= 0.9 * scratch_test.errors, "distillation should clearly beat training on labels"


# %% [markdown]
# The distilled student makes clearly fewer test errors than the identical student trained on the labels (C3):
# the teacher's soft outputs tell it more than the one-hot labels do. Our numbers are larger than the published ones
# because our students are far smaller and see fewer images (run with `LECTURE_PROFILE=full` for the published setting).

# %% [markdown]
# ### Exercise 2 · Write the distillation loss
#
# Implement the loss above. `student_logits` and `teacher_logits` are `(batch, 10)`, `labels` is `(batch,)`. The check
# compares the gradient your loss gives the student with the reference, and names the usual mistakes (a missing
# $T^2$, swapped weights, a sum instead of a mean).

# %%
def my_distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):
    ### BEGIN SOLUTION
    log_p_student = F.log_softmax(student_logits / temperature, dim=-1)
    p_teacher = F.softmax(teacher_logits / temperature, dim=-1)
    soft = F.kl_div(log_p_student, p_teacher, reduction="batchmean") * temperature**2
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1 - alpha) * hard
    ### END SOLUTION


check_distillation_loss(my_distillation_loss)

# %% [markdown]
# ## C2 · The student copies the teacher's mistakes
#
# The lecture: if the teacher is wrong, the student learns the wrong answer too. On the test images the teacher gets
# wrong, how often does each student give *the same wrong answer*?

# %%
teacher_pred = teacher_logits_test.argmax(1)
wrong = teacher_pred != y_test
for name, result in [("student on labels", scratch_test), ("distilled student", distilled_test)]:
    same_mistake = (result.predictions[wrong] == teacher_pred[wrong]).float().mean().item()
    agree = (result.predictions == teacher_pred).float().mean().item()
    print(f"{name:18}: repeats the teacher's wrong answer on {100 * same_mistake:4.1f}% of the teacher's "
          f"{int(wrong.sum())} mistakes; agrees with the teacher on {100 * agree:.2f}% of all test images")

# %% [markdown]
# Both rates are high because many of the teacher's mistakes are on images that are genuinely ambiguous, which any
# network tends to get wrong. The student that learns *from the teacher* is pulled towards the teacher's answers,
# right and wrong: compare its rates with the label-trained student's above.

# %% [markdown]
# ## C4 · Why it works: which digits look alike
#
# The teacher's average softened output (T = 4) for each true digit. Off the diagonal is the "dark knowledge": which
# classes the teacher finds similar (colour on a log scale).

# %%
import matplotlib.colors as colors

soft = softmax_with_temperature(teacher_logits_test, 4.0)
mean_soft = torch.stack([soft[y_test == d].mean(0) for d in range(10)])
fig, ax = plt.subplots(figsize=(4.6, 3.8))
im = ax.imshow(mean_soft, cmap="viridis", norm=colors.LogNorm(vmin=1e-3, vmax=1))
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("teacher's output class")
ax.set_ylabel("true digit")
fig.colorbar(im, ax=ax, label="mean probability (T = 4)")
plt.show()
off = mean_soft.clone().fill_diagonal_(0)
for d in (1, 7, 9, 4):
    top = off[d].argsort(descending=True)[:2].tolist()
    print(f"a {d} is most often taken for {top[0]} ({off[d, top[0]]:.3f}) or {top[1]} ({off[d, top[1]]:.3f})")

# %% [markdown]
# ## C8 · Too small, too large: a temperature sweep
#
# The lecture warns: as $T \to \infty$ every class gets the same probability and the student can learn nothing.
# That is true of the soft targets themselves (their entropy climbs to $\log 10$):

# %%
temperatures = torch.logspace(-0.3, 3, 40)
mean_entropy = [entropy(softmax_with_temperature(teacher_logits_transfer, t.item())).mean().item() for t in temperatures]
fig, ax = plt.subplots(figsize=(5.5, 2.8))
ax.semilogx(temperatures, mean_entropy, label="teacher's soft targets")
ax.axhline(math.log(10), color="gray", ls="--", label="uniform: log 10")
ax.set_xlabel("temperature T")
ax.set_ylabel("mean entropy (nats)")
ax.legend()
plt.show()
assert abs(mean_entropy[-1] - math.log(10)) < 0.01

# %% [markdown]
# But the soft targets do not become *useless* as $T$ grows: the differences between them shrink like $1/T$, and the
# gradient of the soft loss shrinks like $1/T^2$. Hinton et al. therefore multiply the soft loss by $T^2$; with that
# factor, at high $T$ distillation tends to **matching the logits** (C9), which still teaches. Without it the gradient
# vanishes and the student stops learning, which is the lecture's point.
#
# We train the student on the soft targets alone ($\alpha = 1$) at each temperature, with and without $T^2$. We use
# plain SGD here: Adam divides each step by the gradient's running size and would hide the $1/T^2$ shrinkage.
# Expected run time: about 25 s on a CPU.

# %%
kd_loader = make_loader(x_transfer, teacher_logits_transfer, y_transfer, seed=setup.seed)
sweep = {True: {}, False: {}}
for scale_by_t2 in (True, False):
    for T in P.sweep_temperatures:
        if T == 1 and not scale_by_t2:  # T^2 = 1: the same run as with the factor
            sweep[False][T] = sweep[True][T]
            continue
        student = make_student()
        loss = functools.partial(distillation_loss, temperature=T, alpha=1.0, scale_by_t2=scale_by_t2)
        fit(student, kd_loader, loss, epochs=P.sweep_epochs, lr=P.sweep_lr, optimizer="sgd",
            name=f"T = {T:g}, {'with' if scale_by_t2 else 'without'} T^2")
        sweep[scale_by_t2][T] = evaluate(student, x_test, y_test).errors

# %%
fig, ax = plt.subplots(figsize=(5.5, 3))
for scale_by_t2, style in ((True, "o-"), (False, "s--")):
    ax.semilogx(list(sweep[scale_by_t2]), list(sweep[scale_by_t2].values()), style,
                label=f"{'with' if scale_by_t2 else 'without'} $T^2$")
ax.set_yscale("log")
ax.set_xlabel("temperature T")
ax.set_ylabel("student test errors")
ax.legend()
plt.show()
print(f"{'T':>6} {'with T^2':>9} {'without T^2':>12}")
for T in P.sweep_temperatures:
    print(f"{T:>6g} {sweep[True][T]:>9} {sweep[False][T]:>12}")

with_t2 = sweep[True]
best_T = min(with_t2, key=with_t2.get)
print(f"\nbest temperature here: T = {best_T:g} ({with_t2[best_T]} errors)")
# What holds, asserted: T = 1 (nearly one-hot targets) is beaten by a moderate temperature;
# without T^2 the student stops learning at very high T; with T^2 it still learns there.
assert with_t2[1] > with_t2[best_T]
assert sweep[False][max(P.sweep_temperatures)] > 0.5 * len(y_test)
assert with_t2[max(P.sweep_temperatures)] < 2 * with_t2[best_T]

# %% [markdown]
# What we measured, against the lecture and the paper:
#
# * **T = 1** is close to training on labels: the teacher's outputs are nearly one-hot.
# * A **moderate temperature** is best for this small (30-unit) student. Hinton et al. (published) found T between 2.5
#   and 4 clearly best with 30 units per layer, and all T above 8 about equal with 300 or more.
# * **Without $T^2$** the student stops learning at high temperature: the lecture's warning (C8), caused by the
#   vanishing gradient, not only by the targets becoming uniform.
# * **With $T^2$** the error rises only mildly at high T: distillation tends to logit matching. So T is a
#   hyperparameter to tune, like the learning rate.
