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
# We train the same MLP (with batch normalisation, as in the paper) three ways and compare test errors, the gap between
# training and test error, and the storage. Expected run time: about 45 s on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from lecture_utils import balanced_subset, count_parameters, evaluate, fit, load_mnist, make_loader, seed_everything
from lecture_utils.binary import BinaryLinear, binarize, binary_mlp, clip_weights
from lecture_utils.exercises import check_binarize, check_straight_through
from lecture_utils.quantization import pack_bits, state_dict_bytes

x_train, y_train = load_mnist(train=True)
x_test, y_test = load_mnist(train=False)
x_small, y_small = balanced_subset(x_train, y_train, P.transfer_size, seed=setup.seed)

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
# `w` as if the function were the identity. (Hint: `w + (sign - w).detach()`.)

# %%
def my_straight_through(w):
    ### BEGIN SOLUTION
    sign = torch.where(w >= 0, 1.0, -1.0)
    return w + (sign - w).detach()
    ### END SOLUTION


check_straight_through(my_straight_through)


# %% [markdown]
# ## Float against binary, trained alike
#
# The same MLP (784-256-256-10, batch normalisation after every layer), the same seed, data and epochs: with float
# weights, and with BinaryConnect weights, deterministic and stochastic. After each epoch we measure the error on
# 5,000 of the training images and on the test set, to see the gap between them.
# Expected run time: about 35 s.

# %%
def curve(epoch, model):
    return (1 - evaluate(model, x_small[:5000], y_small[:5000]).accuracy, 1 - evaluate(model, x_test, y_test).accuracy)


runs = {}
for mode in ("float", "deterministic", "stochastic"):
    seed_everything(setup.seed)
    model = binary_mlp(hidden=(256, 256), mode=mode)
    history = fit(model, make_loader(x_small, y_small, seed=setup.seed), F.cross_entropy, epochs=P.binary_epochs, lr=3e-3,
                  after_step=None if mode == "float" else clip_weights, on_epoch_end=curve, name=mode)
    runs[mode] = (model, history.extras)

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 2.8), sharey=True)
for ax, (mode, (_, errors)) in zip(axes, runs.items()):
    epochs = range(1, len(errors) + 1)
    ax.plot(epochs, [100 * e[0] for e in errors], label="training")
    ax.plot(epochs, [100 * e[1] for e in errors], label="test")
    ax.set_title(mode, fontsize=10)
    ax.set_xlabel("epoch")
axes[0].set_ylabel("error (%)")
axes[0].set_ylim(0, 10)
axes[0].legend()
plt.show()

print(f"{'weights':14} {'train err':>9} {'test err':>9} {'gap':>6} {'weight storage':>15}   BinaryConnect, MNIST test error (published)")
published = {"float": "1.30% (no regulariser)", "deterministic": "1.29%", "stochastic": "1.18%"}
for mode, (model, errors) in runs.items():
    weights = [m.weight for m in model.modules() if isinstance(m, (torch.nn.Linear, BinaryLinear))]
    if mode == "float":
        size = sum(w.numel() * 4 for w in weights)
    else:  # one bit per weight, really packed
        size = sum(len(pack_bits((binarize(w.detach() / m.H) > 0).long(), 1))
                   for w, m in zip(weights, [m for m in model.modules() if isinstance(m, BinaryLinear)]))
    train_err, test_err = errors[-1]
    print(f"{mode:14} {100 * train_err:>8.2f}% {100 * test_err:>8.2f}% {100 * (test_err - train_err):>5.2f} {size:>9,} bytes   {published[mode]}")

# The text below rests on these numbers: checked here, so a rerun that changes them fails this cell.
final = {mode: errors[-1] for mode, (_, errors) in runs.items()}  # (training error, test error)
assert all(test < 0.10 for _, test in final.values()), "every network learns: test error far below chance (90%)"
assert all(final[m][0] > final["float"][0] for m in ("deterministic", "stochastic")), \
    "the binary networks' training error stays above the float network's"
assert all(final[m][1] > final["float"][1] for m in ("deterministic", "stochastic")), \
    "in this short run the binary networks do not match float on the test set"

# %% [markdown]
# What this run shows, against the paper:
#
# * The binary networks learn: one bit per weight, 32 times less weight storage, and most of the float network's
#   accuracy.
# * Their **training** error stays above the float network's: the binary constraint limits what the network can fit,
#   the capacity limit the paper credits with the regularising effect.
# * In this short, small, CPU-sized run the binary networks do not (yet) *match* the float one on the test set. The
#   paper's equal-or-better numbers (published) come from much larger networks (three hidden layers of 1024 units)
#   trained for hundreds of epochs on all 60,000 images, with the float baseline trained without any regulariser.
#   Raise the epochs and the width in the training cell (on a GPU) and watch how the gap moves.
