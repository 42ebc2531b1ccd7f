# %% [markdown]
# # 07 · Binary weights: one bit per weight
#
# Covers: C16
#
# The limit of quantization is 1 bit: every weight +1 or -1. BinaryConnect (Courbariaux, Bengio & David 2015) trains
# such networks: it keeps real-valued weights and updates them, but the forward and backward passes use their
# **sign** (deterministic), or a **random sign** that is +1 with probability $\text{hard\_sigmoid}(w) =
# \text{clip}(\frac{w+1}{2}, 0, 1)$ (stochastic). The sign has zero derivative almost everywhere, so the gradient is
# passed **straight through** to the real weights, which are clipped after every step. The paper reports binary
# networks as good as or better than float ones on MNIST, CIFAR-10 and SVHN, and suggests the binary constraint acts
# as a regulariser against overfitting.
#
# The paper's argument is about overfitting, so we test it where a float network overfits: few training images, a
# wide MLP (with batch normalisation, as in the paper), many epochs. The same MLP is trained three ways, three seeds
# each, and we compare test errors, the gap between training and test error, and the storage. Expected run time:
# about 45 s on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import matplotlib.pyplot as plt
import torch

from lecture_utils import (Spread, balanced_subset, claim, clearly_below, evaluate, load_mnist, no_difference,
                           train_val_split, verdict)
from lecture_utils.binary import binarize, binary_mlp, train_binary_mlp, weight_bytes
from lecture_utils.exercises import check_binarize, check_binary_budget, check_straight_through

x_train, y_train = load_mnist(train=True)
x_test, y_test = load_mnist(train=False)
(x_rest, y_rest), (x_val, y_val) = train_val_split(x_train, y_train, val_size=5000, seed=setup.seed)  # as 01 and 02: the held-out 5,000 stay unseen
x_small, y_small = balanced_subset(x_rest, y_rest, P.binary_size, seed=setup.seed)

# %% [markdown]
# ## The sign, deterministic and stochastic

# %%
# NBVAL_CHECK_OUTPUT
w = torch.tensor([-1.5, -0.6, -0.1, 0.0, 0.2, 0.7, 1.2])
print("w:            ", [round(v, 2) for v in w.tolist()])
print("deterministic:", binarize(w).tolist())
g = torch.Generator().manual_seed(0)
samples = torch.stack([binarize(w, stochastic=True, generator=g) for _ in range(10_000)])
print("P(+1), measured:", [round(p, 2) for p in (samples == 1).float().mean(0).tolist()])
print("hard_sigmoid(w):", [round(p, 2) for p in ((w + 1) / 2).clamp(0, 1).tolist()])


# %% [markdown]
# ### Exercise 1 · Binarize
#
# Write `my_binarize(w, stochastic)`: deterministic, +1 where $w \ge 0$ and -1 elsewhere (careful: `torch.sign(0)` is
# 0); stochastic, +1 with probability $\text{clip}(\frac{w+1}{2}, 0, 1)$.

# %%
def my_binarize(w, stochastic):
    ### BEGIN SOLUTION
    if not stochastic:
        return torch.where(w >= 0, 1.0, -1.0)
    p = ((w + 1) / 2).clamp(0, 1)
    return torch.where(torch.rand_like(w) < p, 1.0, -1.0)
    ### END SOLUTION


check_binarize(my_binarize)


# %% [markdown]
# ### Exercise 2 · The straight-through estimator
#
# Write `my_straight_through(w)`: a tensor whose *value* is the deterministic sign of `w` and whose *gradient* flows to
# `w` as if the function were the identity. (Hint: `x.detach()` has the value of `x` but passes no gradient back.
# Which expression has the value of the sign and the derivative 1 with respect to `w`?)

# %%
def my_straight_through(w):
    ### BEGIN SOLUTION
    sign = torch.where(w >= 0, 1.0, -1.0)
    return w + (sign - w).detach()
    ### END SOLUTION


check_straight_through(my_straight_through)


# %% [markdown]
# ## Float against binary, trained alike, where float overfits
#
# The same MLP (hidden layers `P.binary_hidden`, batch normalisation after every layer), the same data (`P.binary_size`
# training images: 1,000 in the lecture profile, few enough that a float network fits them perfectly), epochs and
# optimizer: with float weights, and with BinaryConnect weights, deterministic and stochastic; seeds 0, 1 and 2 of each.
# The claim check also verifies that the float network does overfit here (training error clearly below test error).
# At test time every binary network uses the deterministic sign, stochastic ones included (`BinaryLinear`). For seed 0
# we also follow the training and test error during training.
# Expected run time: about 40 s.

# %%
SEEDS = list(range(P.seeds))
curve_every = max(1, P.binary_epochs // 10)


def curve(epoch, model):
    if (epoch + 1) % curve_every:
        return None
    return (1 - evaluate(model, x_small, y_small).accuracy, 1 - evaluate(model, x_test, y_test).accuracy)


runs = {mode: [] for mode in ("float", "deterministic", "stochastic")}
curves = {}
for mode in runs:
    for seed in SEEDS:  # one at a time: BinaryConnect's clip looks for its layers, which a stack would hide
        model, history = train_binary_mlp(P.binary_hidden, mode, x_small, y_small, P.binary_epochs, seed=seed,
                                          data_seed=setup.seed, on_epoch_end=curve if seed == SEEDS[0] else None,
                                          name=f"{mode}, seed {seed}")
        runs[mode].append(model)
        if seed == SEEDS[0]:
            curves[mode] = [(e, errs) for e, errs in enumerate(history.extras, start=1) if errs is not None]

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 2.8), sharey=True)
for ax, (mode, points) in zip(axes, curves.items()):
    ax.plot([e for e, _ in points], [100 * errs[0] for _, errs in points], "o-", ms=3, label="training")
    ax.plot([e for e, _ in points], [100 * errs[1] for _, errs in points], "s-", ms=3, label="test")
    ax.set_title(f"{mode} (seed 0)", fontsize=10)
    ax.set_xlabel("epoch")
axes[0].set_ylabel("error (%)")
axes[0].set_ylim(0, 20)
axes[0].legend()
plt.show()

train_err = {mode: Spread([100 * (1 - evaluate(m, x_small, y_small).accuracy) for m in nets], ".2f") for mode, nets in runs.items()}
test_err = {mode: Spread([100 * (1 - evaluate(m, x_test, y_test).accuracy) for m in nets], ".2f") for mode, nets in runs.items()}
gap = {mode: Spread([t - s for s, t in zip(train_err[mode].values, test_err[mode].values)], ".2f") for mode in runs}
published = {"float": "1.30% (no regulariser)", "deterministic": "1.29%", "stochastic": "1.18%"}
print(f"{'weights':14} {'train err (%)':>14} {'test err (%)':>14} {'gap (points)':>14} {'weight storage':>15}   "
      f"BinaryConnect, MNIST test error (published)")
for mode, nets in runs.items():
    size = weight_bytes(nets[0])  # float32, or one bit per weight really packed
    print(f"{mode:14} {str(train_err[mode]):>14} {str(test_err[mode]):>14} {str(gap[mode]):>14} {size:>9,} bytes   "
          f"{published[mode]}")
print(f"\nOurs: {len(y_small):,} training images, hidden layers {P.binary_hidden}, {P.binary_epochs} epochs, "
      f"{len(SEEDS)} seeds, binary networks tested with the sign. Published: the paper's own, much larger setting.")
for mode in ("deterministic", "stochastic"):
    print(f"{mode} against float, test error: {verdict(test_err[mode], test_err['float'], 'test error', 'lower', 'higher')}; "
          f"training-test gap: {verdict(gap[mode], gap['float'], 'gap', 'smaller', 'larger')}")
claim("C16", no_difference(test_err["deterministic"], test_err["float"]) and clearly_below(train_err["float"], test_err["float"]),
      f"with one bit per weight (32 times less weight storage) the deterministic BinaryConnect network is as good as "
      f"float, within the seeds' spread: {test_err['deterministic']}% against {test_err['float']}% test error, "
      f"{len(SEEDS)} seeds, where float overfits (training error {train_err['float']}%, test {test_err['float']}%)")

# %% [markdown]
# What this run shows, against the paper (the verdict lines above carry the comparisons):
#
# * One bit per weight, 32 times less weight storage, and the deterministic binary network is as good as the float one
#   on the test set where the float network overfits (the claim check): the part of C16 that reproduces at this size.
# * Whether binary weights *regularise*, the paper's explanation, is the gap verdict: a smaller gap between training
#   and test error than float's would show it; "no difference" means this run does not show it, whatever the test
#   errors do. The paper's "as good as or better than float" (published) comes from its own, much larger setting,
#   with the float baseline trained without any regulariser.
# * **Stochastic binarization is stochastic rounding** (notebook 05's dither, at one bit): each weight becomes +1 with
#   probability hard_sigmoid(w), so on average it keeps the real weight's value, and every forward pass sees another
#   binary network. That noise is what the paper credits with regularising; its verdict above says what it does at
#   this size (tested, like the others, with the deterministic sign). And notebook 05's 1-bit *uniform* quantization
#   collapsed because its two levels are 0 and one large step, so nearly every weight became 0: BinaryConnect keeps
#   the sign instead, and trains with it from the start.

# %% [markdown]
# ### Exercise 3 · Design: a binary network for a chip with 16 KB
#
# One bit per weight buys width. Suppose a chip holds **16,384 bytes** of weights (`weight_bytes` counts them: the
# signs packed, one bit each; the batch-norm numbers are not counted) and the application needs at most **10% test
# error**. Write `my_binary_widths(images, labels)`: return the hidden widths (one to three layers) of a deterministic
# BinaryConnect MLP. The check trains it as above (seed 0, `P.binary_epochs` epochs on the same 1,000 images) and
# measures it on the test set. `images, labels` are the 5,000 held-out validation images, to choose with: train your
# candidates on `x_small, y_small` as the cell above does (`train_binary_mlp`). A training takes about
# a second at these widths.

# %%
def my_binary_widths(images, labels):
    ### BEGIN SOLUTION
    tried = {}
    for hidden in [(64, 64), (128, 128), (144, 64)]:
        candidate, _ = train_binary_mlp(hidden, "deterministic", x_small, y_small, P.binary_epochs)  # as the check does
        tried[hidden] = 100 * (1 - evaluate(candidate, images, labels).accuracy)
        print(f"hidden {hidden}: {weight_bytes(candidate):,} bytes, validation error {tried[hidden]:.2f}%")
    fits = [h for h in tried if weight_bytes(binary_mlp(hidden=h, mode="deterministic")) <= 16_384]
    return min(fits, key=tried.get)
    ### END SOLUTION


check_binary_budget(my_binary_widths, (x_small, y_small), (x_val, y_val), (x_test, y_test), P.binary_epochs)
float_same_bytes = binary_mlp(hidden=(5,), mode="float")
print(f"for comparison, a float MLP in the same memory: hidden (5,), {weight_bytes(float_same_bytes):,} bytes")

# %% [markdown]
# **What did you see?** How do the bytes split between the layers, and what does one bit per weight buy here?
#
# ### BEGIN SOLUTION
# The first layer takes 85% of the bytes: 784 inputs times its width (for hidden (128, 128), 784 x 128 = 100,352
# of the 14,752 x 8 = 118,016 weights). So the first width decides whether a network fits, and the layers after it
# cost little (15% here). Widening the first layer at the second's expense, (144, 64), is no better on the validation
# images (9.78% against 9.52%). At one bit per weight,
# 16 KB holds a network with two hidden layers of 128 that makes under 10% test errors; in float32 the same memory
# holds one hidden layer of 5 units (the last line). Against the 512-wide binary networks above, under a fifth of the
# memory (14,752 against 83,584 bytes) costs about two points of test error (9.75%, one seed, against 7.75 ± 0.09%),
# on these 1,000 training images.
# ### END SOLUTION
