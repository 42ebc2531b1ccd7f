# %% [markdown]
# # 09 · Low-rank factorization
#
# Covers: C25, C26
#
# The lecture: a layer from $N$ to $M$ neurons has $N \cdot M$ parameters. Insert a layer of $K$ neurons between
# them, with no activation, so $W$ becomes $U V$ with $V$: $N \to K$ and $U$: $K \to M$: $K (N + M)$ parameters, far
# fewer when $K$ is small. The price: $W = UV$ can only have rank at most $K$. And depthwise + pointwise convolution
# (notebook 08) is the same move, one layer split into two (C26).
#
# Expected run time: about 20 s on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import copy

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils import (SeedStack, Spread, claim, count_parameters, evaluate, fit, load_mnist, make_loader,
                           stacked_loss, verdict)
from lecture_utils.architecture import (DepthwiseSeparableConv2d, low_rank_factorize, low_rank_model,
                                        low_rank_parameter_counts, separable_filters)
from lecture_utils.exercises import check_rank_budget, check_rank_for_energy, check_separable_approximation
from lecture_utils.pretrained import load_teacher
from lecture_utils.widgets import RankSlider

x_train, y_train = load_mnist(train=True)
x_test, y_test = load_mnist(train=False)

# %% [markdown]
# ## C25 · The lecture's numbers: N = M = 1000

# %%
# NBVAL_CHECK_OUTPUT
full = nn.Linear(1000, 1000, bias=False)
print(f"W: 1000 x 1000 -> {count_parameters(full):,} parameters")
for K in (20, 50):
    split = nn.Sequential(nn.Linear(1000, K, bias=False), nn.Linear(K, 1000, bias=False))  # V, then U
    print(f"V (1000 -> {K}) and U ({K} -> 1000): {count_parameters(split):,} parameters, "
          f"{count_parameters(full) / count_parameters(split):.0f}x fewer")
    claim("C25", count_parameters(split) == K * (1000 + 1000) == low_rank_parameter_counts(1000, 1000, K)[1]
          and count_parameters(full) == 1_000_000,
          f"N = M = 1000, K = {K}: K(N + M) = {count_parameters(split):,} parameters instead of N M = 1,000,000")


# %% [markdown]
# ## Factorizing a trained layer
#
# The first layer of the trained LeNet-300-100 maps 784 pixels to 300 units. The best rank-$K$ approximation of its
# weight matrix is the **truncated SVD**: keep the $K$ largest singular values (Eckart-Young). How fast they fall
# tells how much a low rank can keep:

# %%
model, _ = load_teacher("lenet_300_100")
layer = model[1]
singular_values = torch.linalg.svdvals(layer.weight.detach())
energy = (singular_values**2).cumsum(0) / (singular_values**2).sum()
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 2.8))
ax1.semilogy(singular_values)
ax1.set_xlabel("index")
ax1.set_ylabel("singular value")
ax2.plot(range(1, len(energy) + 1), 100 * energy)
ax2.set_xlabel("rank K")
ax2.set_ylabel("% of squared norm kept")
plt.show()
for K in (10, 20, 50, 100):
    print(f"rank {K:>3}: keeps {100 * energy[K - 1]:.1f}% of the layer's squared Frobenius norm")

# %% [markdown]
# ### Move the rank
#
# The slider replaces the first layer by its rank-$K$ factorization (the SVD is computed once) and measures test
# accuracy and the layer's parameters.

# %%
# NBVAL_IGNORE_OUTPUT
RankSlider(model, "1", x_test, y_test, rank=20)

# %% [markdown]
# ### The price: rank at most K

# %%
for K in (5, 20, 50):
    factors = low_rank_factorize(layer, K)
    product = factors[1].weight.double() @ factors[0].weight.double()  # U V: 300 x 784
    rank = torch.linalg.matrix_rank(product).item()
    print(f"K = {K:>2}: U V is {tuple(product.shape)}, its rank is {rank} (the original's: "
          f"{torch.linalg.matrix_rank(layer.weight.double()).item()})")
    claim("C25", rank <= K, f"the price: the rank-{K} factorization's U V has rank {rank}, at most K = {K}")


# %% [markdown]
# ### Exercise 1 · How many ranks does a layer need?
#
# By Eckart-Young, the rank-$K$ truncated SVD keeps the $K$ largest squared singular values of the squared norm
# $\sum_i \sigma_i^2$ and loses the rest. Write `my_rank_for_energy(W, share)`: the smallest rank $K$ whose truncated
# SVD keeps at least `share` (a fraction) of $W$'s squared norm (`torch.linalg.svdvals` gives the singular values,
# largest first). The cell then factorizes the first two layers at the ranks that keep a share of each, and measures
# the network on the 5,000 training images that the design task below gives you.

# %%
def my_rank_for_energy(W, share):
    ### BEGIN SOLUTION
    squared = torch.linalg.svdvals(W).pow(2)
    kept = squared.cumsum(dim=0) / squared.sum()  # kept[K - 1]: the share that rank K keeps
    return int((kept < share).sum()) + 1
    ### END SOLUTION


check_rank_for_energy(my_rank_for_energy)
x_given, y_given = x_train[-5000:], y_train[-5000:]
print(f"{'share kept':>10} {'rank of 1':>10} {'rank of 3':>10} {'parameters':>11} {'accuracy (given images)':>24}")
print(f"{'(whole)':>10} {'-':>10} {'-':>10} {count_parameters(model):>11,} "
      f"{100 * evaluate(model, x_given, y_given).accuracy:>23.2f}%")
for share in (0.5, 0.8, 0.9, 0.95, 0.99):
    ranks = {name: my_rank_for_energy(model.get_submodule(name).weight.detach(), share) for name in ("1", "3")}
    factorized = low_rank_model(model, ranks)
    print(f"{share:>10} {ranks['1']:>10} {ranks['3']:>10} {count_parameters(factorized):>11,} "
          f"{100 * evaluate(factorized, x_given, y_given).accuracy:>23.2f}%")
for name in ("1", "3"):
    M, N = model.get_submodule(name).weight.shape
    print(f"a rank of layer {name} costs N + M = {N + M:,} parameters; above rank {N * M // (N + M)} its two factors "
          f"hold more than its N x M = {N * M:,} weights")

# %% [markdown]
# Keeping 80% of each layer's squared norm gives back nearly all of the accuracy on the given images, and 90% all of
# it; below that, accuracy falls fast (the table). These are training images, which flatter the network: the design
# task's check measures on the test images. The parameters grow faster than the share kept: the ranks that keep 99%
# make a network larger than the whole one, because both layers' ranks are then past the ranks printed last, where a
# layer's factors outweigh the layer. A share of the norm is a rule of thumb for where to cut; the design task below
# asks for a parameter budget instead, which is the same tool with another stopping rule.

# %% [markdown]
# ### Exercise 2 · A depthwise separable convolution is a low-rank factorization too
#
# Notebook 08 (C26) showed that depthwise filters $D_i$ ($k \times k$, one per input channel) followed by pointwise
# weights $P$ ($O \times I$) compute a normal convolution whose filters are $W'_{o,i} = P_{o,i} D_i$. So for each input
# channel $i$, the $O \times k^2$ matrix of filters $W'_{:,i}$ has rank one. Given the filters $W$ ($O \times I \times k
# \times k$) of a trained normal convolution, write `my_separable_approximation(W)`: return `(D, P)`, `D` of shape
# $I \times k \times k$ and `P` of shape $O \times I$, whose $P_{o,i} D_i$ is as close to $W$ as any depthwise
# separable convolution's filters can be (in the sum of squared differences). The cell then tries it on the second
# convolution of notebook 01's teacher.

# %%
def my_separable_approximation(W):
    ### BEGIN SOLUTION
    O, I = W.shape[:2]
    D, P = torch.empty(I, *W.shape[2:], dtype=W.dtype), torch.empty(O, I, dtype=W.dtype)
    for i in range(I):  # each input channel alone: its O x k² filters, best at rank one
        U, S, Vh = torch.linalg.svd(W[:, i].reshape(O, -1), full_matrices=False)
        P[:, i], D[i] = U[:, 0] * S[0], Vh[0].reshape(W.shape[2:])
    return D, P
    ### END SOLUTION


check_separable_approximation(my_separable_approximation)
cnn_teacher, _ = load_teacher()
conv = cnn_teacher[3]  # the second convolution: 16 -> 32 channels, 5 x 5
depthwise, pointwise = my_separable_approximation(conv.weight.detach())
separable = separable_filters(depthwise, pointwise)
kept = 1 - ((conv.weight.detach() - separable).pow(2).sum() / conv.weight.detach().pow(2).sum()).item()
replaced = copy.deepcopy(cnn_teacher)
with torch.no_grad():
    replaced[3].weight.copy_(separable)
print(f"the teacher's second convolution, {tuple(conv.weight.shape)}: its best separable approximation keeps "
      f"{100 * kept:.1f}% of the filters' squared norm")
print(f"test accuracy: {100 * evaluate(cnn_teacher, x_test, y_test).accuracy:.2f}% as trained, "
      f"{100 * evaluate(replaced, x_test, y_test).accuracy:.2f}% with that convolution made separable (no retraining)")

# %% [markdown]
# How much of a trained normal convolution survives being made separable is the pair of lines above: a network
# trained with normal convolutions has no reason to keep each input channel's filters rank one, which is why notebook
# 08 (C27) trains its separable networks as such from the start instead of converting a trained one.

# %% [markdown]
# ### Exercise 3 · Design: ranks for a budget
#
# LeNet-300-100 has 266,610 parameters; the device has room for 100,000, and the application allows at most 0.5 points
# of test accuracy lost. Write `my_ranks(model, images, labels)`: return the rank of each linear layer you factorize,
# as a dict (`{"1": K1}` factorizes the first layer only; the layers are `"1"`, `"3"` and `"5"`). A rank costs
# N + M parameters (C25 above), so where to spend the budget is yours to decide. Choose with the 5,000 training
# images you are given; the check measures the whole factorized network (`low_rank_model`) on the test images.

# %%
def my_ranks(model, images, labels):
    ### BEGIN SOLUTION
    full = evaluate(model, images, labels).accuracy
    best = None
    for second in (None, 60, 40, 20):  # the second layer whole or factorized; the first gets the rest of the budget
        kept = 30_100 if second is None else second * 400 + 100
        first = (100_000 - 1_010 - kept - 300) // 1_084
        ranks = {"1": first} if second is None else {"1": first, "3": second}
        lost = full - evaluate(low_rank_model(model, ranks), images, labels).accuracy
        print(f"ranks {ranks}: {100 * lost:+.2f} points lost on the given images")
        if best is None or lost < best[0]:
            best = (lost, ranks)
    return best[1]
    ### END SOLUTION


check_rank_budget(my_ranks, model, (x_train[-5000:], y_train[-5000:]), (x_test, y_test))

# %% [markdown]
# **What did you see?** Which split of the budget lost least, and why does the first layer deserve most of it?
#
# ### BEGIN SOLUTION
# The first layer holds 235,500 of the 266,610 parameters, so it must be cut hard in any split; what is left to decide
# is whether the second layer should give up parameters so that the first keeps a higher rank. A rank of the first
# layer costs 1,084 parameters, one of the second 400, so only a deep cut of the second layer buys the first many more
# ranks. On the given images the loss fell the deeper the second layer was cut (0.14, 0.06, 0.04, 0.00 points), and
# the deepest cut, ranks 83 and 20, lost nothing on the test images either (the check's line): the second layer's
# 100 units need far fewer ranks than the first layer's 300.
# ### END SOLUTION

# %% [markdown]
# ## SVD, SVD then fine-tuning, or training the factorized network from scratch
#
# At rank $K = 20$: (a) the SVD of the trained layer as it is; (b) the same, then fine-tuned on the training set
# (`P.low_rank_tune_epochs` epochs: one in the lecture profile); (c) the same factorized architecture trained from
# scratch (`P.low_rank_scratch_epochs` epochs: four in the lecture profile). Expected run time: about 10 s.

# %%
K = 20
loader = make_loader(x_train, y_train, seed=setup.seed)


def with_factorized_first_layer(net, factors):
    net = copy.deepcopy(net)
    net[1] = factors
    return net


svd_net = with_factorized_first_layer(model, low_rank_factorize(layer, K))
SEEDS = list(range(P.seeds))
tuned = []  # the same start (the SVD) for each seed: only the order of the training images differs
for seed in SEEDS:
    tuned.append(copy.deepcopy(svd_net))
    fit(tuned[-1], make_loader(x_train, y_train, seed=seed), F.cross_entropy, epochs=P.low_rank_tune_epochs, lr=3e-4,
        seed=seed, name=f"fine-tune the rank-{K} network, seed {seed}")


def from_scratch():  # the same factorized architecture, every weight new: nothing kept from the trained network
    net = with_factorized_first_layer(model, nn.Sequential(nn.Linear(784, K, bias=False), nn.Linear(K, 300)))
    for m in net.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    return net


scratch = SeedStack.from_builder(from_scratch, SEEDS)  # the seeds trained together: they differ in their start
fit(scratch, loader, stacked_loss(F.cross_entropy), epochs=P.low_rank_scratch_epochs, lr=1e-3,
    name=f"rank-{K} network from scratch, {len(SEEDS)} seeds")

accuracy = {"LeNet-300-100 (trained)": [model], f"rank {K}: SVD": [svd_net],
            f"rank {K}: SVD + {P.low_rank_tune_epochs}-epoch fine-tuning": tuned,
            f"rank {K}: from scratch, {P.low_rank_scratch_epochs} epochs": scratch.unstack()}
accuracy = {name: (count_parameters(nets[0]), Spread([100 * evaluate(n, x_test, y_test).accuracy for n in nets], ".2f"))
            for name, nets in accuracy.items()}
print(f"\n{'':40} {'parameters':>10} {'test accuracy (%)':>18}")
for name, (params, acc) in accuracy.items():
    shown = str(acc) if acc.n > 1 else f"{acc.mean:.2f}"
    print(f"{name:40} {params:>10,} {shown:>18}" + ("" if acc.n > 1 else "   (no training: one network)"))
names = list(accuracy)
print(f"\nfine-tuned SVD against from scratch: "
      f"{verdict(accuracy[names[2]][1], accuracy[names[3]][1], 'test accuracy', 'lower', 'higher')}")

# %% [markdown]
# Which of the two trained ways does better is the verdict line (note the epochs: fine-tuning starts from a trained
# network and gets fewer of them).

# %% [markdown]
# ## C26 · Depthwise + pointwise is low rank too, and exactly how
#
# A depthwise separable convolution *is* a normal convolution whose kernel is restricted: the kernel for output $o$
# and input channel $i$ is $P_{oi} D_i$ (a pointwise weight times that channel's depthwise filter). Two ways to see the
# restriction:
#
# * **The whole kernel** as a matrix of $O$ rows and $I k^2$ columns factors as $P$ ($O \times I$) times a
#   block-diagonal $D$ ($I \times I k^2$): rank at most $I$, like $UV$ with $K = I$. But a general kernel has rank at
#   most $\min(O, I k^2)$ anyway, so this says something only when $I < O$; with $I \ge O$ the bound is no
#   restriction at all.
# * **Each input channel's slice** $W_{:, i}$ ($O$ outputs by $k^2$ kernel positions) is $P_{:, i}\,D_i^\top$: rank 1,
#   whatever $I$ and $O$ are. That is the real restriction: every output sees input channel $i$ through the *same*
#   $k \times k$ filter, only scaled. The lecture's "18 inputs, 2 values, 1 value" is this, per channel.

# %%
def separable_kernel(I, O, k, seed=0):
    """The normal-convolution kernel (O, I, k, k) that a random depthwise separable block computes."""
    torch.manual_seed(seed)
    block = DepthwiseSeparableConv2d(I, O, k)
    D, Pw = block.depthwise.weight.detach()[:, 0].double(), block.pointwise.weight.detach()[:, :, 0, 0].double()
    return Pw[:, :, None, None] * D[None], block  # W[o, i] = P[o, i] * D[i]


k = 3
rank_of = torch.linalg.matrix_rank
slices_rank_1 = True
print(f"{'I':>3} {'O':>3} {'rank of the O x I k^2 kernel':>30} {'bound min(O, I k^2)':>20} {'ranks of the I slices':>24} "
      f"{'a general kernel: whole, slices':>33}")
for I, O in ((4, 16), (16, 4)):
    W, _ = separable_kernel(I, O, k)
    general = torch.randn(O, I, k, k, dtype=torch.float64)
    slices = {rank_of(W[:, i].reshape(O, -1)).item() for i in range(I)}
    general_slices = {rank_of(general[:, i].reshape(O, -1)).item() for i in range(I)}
    slices_rank_1 &= slices == {1}
    print(f"{I:>3} {O:>3} {rank_of(W.reshape(O, -1)).item():>30} {min(O, I * k * k):>20} {str(sorted(slices)):>24} "
          f"{str(rank_of(general.reshape(O, -1)).item()) + ', ' + str(sorted(general_slices)):>33}")

same = True
for I, O in ((4, 16), (16, 4)):
    W, separable = separable_kernel(I, O, k)
    equivalent = nn.Conv2d(I, O, k, bias=False)
    with torch.no_grad():
        equivalent.weight.copy_(W.float())
    x = torch.randn(2, I, 9, 9)
    same &= torch.allclose(separable(x), equivalent(x), atol=1e-5)
    print(f"the separable block (I = {I}, O = {O}) and the normal convolution built from it give the same output: "
          f"{torch.allclose(separable(x), equivalent(x), atol=1e-5)}")
W, separable = separable_kernel(4, 16, k)
equivalent = nn.Conv2d(4, 16, k, bias=False)
print(f"parameters: separable {count_parameters(separable)} = k*k*I + I*O, normal {count_parameters(equivalent)} = k*k*I*O")
claim("C26", same and slices_rank_1 and rank_of(W.reshape(16, -1)).item() <= 4,
      "a depthwise separable block is a normal convolution whose every input-channel slice has rank 1 (with I = 4 and "
      "with I = 16); with I < O its whole kernel also has rank at most I, like U V with K = I")

# %% [markdown]
# What rank 1 per channel means for real filters: the teacher CNN's second convolution (trained, not separable), its
# filters on one input channel, and the best rank-1 and rank-3 approximations of that channel's slice. Rank 1 is what a
# depthwise separable layer could express there: one filter shape, a different scale per output.

# %%
cnn, _ = load_teacher("teacher", profile="lecture")  # the small CNN (committed), whatever the profile
conv = [m for m in cnn.modules() if isinstance(m, nn.Conv2d)][1]
slice_0 = conv.weight.detach()[:, 0].double()  # (O, k, k): every output's filter on input channel 0
O2, k2 = slice_0.shape[0], slice_0.shape[-1]
U_, S_, Vh_ = torch.linalg.svd(slice_0.reshape(O2, -1), full_matrices=False)
shown = 6
fig, axes = plt.subplots(3, shown, figsize=(7, 3.6))
for row, (label, r) in enumerate((("trained", None), ("rank 1", 1), ("rank 3", 3))):
    approx = slice_0.reshape(O2, -1) if r is None else (U_[:, :r] * S_[:r]) @ Vh_[:r]
    kept = 1.0 if r is None else (S_[:r] ** 2).sum().item() / (S_ ** 2).sum().item()
    for col in range(shown):
        ax = axes[row, col]
        ax.imshow(approx[col].reshape(k2, k2), cmap="RdBu", vmin=-slice_0.abs().max(), vmax=slice_0.abs().max())
        ax.set_xticks([])
        ax.set_yticks([])
        if col == 0:
            ax.set_ylabel(f"{label}\n{100 * kept:.0f}%", fontsize=8)
fig.suptitle(f"filters of outputs 0-{shown - 1} on input channel 0 of the teacher's second convolution "
             f"(% of the slice's squared norm kept)", fontsize=9)
plt.show()
