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
# Expected run time: about 30 s on a laptop CPU.

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

from lecture_utils import count_parameters, evaluate, fit, load_mnist, make_loader, seed_everything
from lecture_utils.architecture import DepthwiseSeparableConv2d, low_rank_factorize, low_rank_parameter_counts
from lecture_utils.exercises import check_low_rank_parameters, check_truncated_svd
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
    assert count_parameters(split) == K * (1000 + 1000) == low_rank_parameter_counts(1000, 1000, K)[1]
assert count_parameters(full) == 1_000_000


# %% [markdown]
# ### Exercise 1 · Count them
#
# Write `my_low_rank_parameters(N, M, K)` returning `(N*M, K*(N+M))`, the counts without biases.

# %%
def my_low_rank_parameters(N, M, K):
    ### BEGIN SOLUTION
    return N * M, K * (N + M)
    ### END SOLUTION


check_low_rank_parameters(my_low_rank_parameters)

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
    assert rank <= K


# %% [markdown]
# ### Exercise 2 · Truncated SVD
#
# Write `my_truncated_svd(W, K)` returning `(A, B)`: A is $K \times N$ (the first new layer's weight), B is
# $M \times K$ (the second's), and $BA$ the best rank-$K$ approximation of $W$ ($M \times N$). Use
# `torch.linalg.svd(W, full_matrices=False)`.

# %%
def my_truncated_svd(W, K):
    ### BEGIN SOLUTION
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    return S[:K, None] * Vh[:K], U[:, :K]
    ### END SOLUTION


check_truncated_svd(my_truncated_svd)

# %% [markdown]
# ## SVD, SVD then fine-tuning, or training the factorized network from scratch
#
# At rank $K = 20$: (a) the SVD of the trained layer as it is; (b) the same, then fine-tuned on the training set
# (`P.low_rank_tune_epochs` epochs: one in the lecture profile); (c) the same factorized architecture trained from
# scratch (`P.low_rank_scratch_epochs` epochs: four in the lecture profile). Expected run time: about 20 s.

# %%
K = 20
loader = make_loader(x_train, y_train, seed=setup.seed)


def with_factorized_first_layer(net, factors):
    net = copy.deepcopy(net)
    net[1] = factors
    return net


svd_net = with_factorized_first_layer(model, low_rank_factorize(layer, K))
tuned = copy.deepcopy(svd_net)
fit(tuned, loader, F.cross_entropy, epochs=P.low_rank_tune_epochs, lr=3e-4, name=f"fine-tune the rank-{K} network")
seed_everything(setup.seed)
scratch = with_factorized_first_layer(model, nn.Sequential(nn.Linear(784, K, bias=False), nn.Linear(K, 300)))
for m in scratch.modules():
    if isinstance(m, nn.Linear):
        m.reset_parameters()  # every weight new: nothing kept from the trained network
fit(scratch, loader, F.cross_entropy, epochs=P.low_rank_scratch_epochs, lr=1e-3, name=f"rank-{K} network from scratch")

print(f"\n{'':36} {'parameters':>10} {'test accuracy':>14}")
for name, net in [("LeNet-300-100 (trained)", model), (f"rank {K}: SVD", svd_net),
                  (f"rank {K}: SVD + {P.low_rank_tune_epochs}-epoch fine-tuning", tuned),
                  (f"rank {K}: from scratch, {P.low_rank_scratch_epochs} epochs", scratch)]:
    print(f"{name:36} {count_parameters(net):>10,} {100 * evaluate(net, x_test, y_test).accuracy:>13.2f}%")

# %% [markdown]
# ## C26 · Depthwise + pointwise is low rank too
#
# A depthwise separable convolution *is* a normal convolution whose kernel is restricted: the kernel for output $o$
# and input channel $i$ is $P_{oi} D_i$ (a pointwise weight times that channel's depthwise filter). Written as a matrix
# of $O$ rows and $I k^2$ columns it factors as $P$ ($O \times I$) times a block-diagonal $D$ ($I \times I k^2$): rank
# at most $I$, exactly like $UV$ with $K = I$.

# %%
torch.manual_seed(0)
I, O, k = 4, 16, 3
separable = DepthwiseSeparableConv2d(I, O, k)
D = separable.depthwise.weight.detach()[:, 0]        # (I, k, k)
Pw = separable.pointwise.weight.detach()[:, :, 0, 0]  # (O, I)
equivalent = nn.Conv2d(I, O, k, bias=False)
with torch.no_grad():
    equivalent.weight.copy_(Pw[:, :, None, None] * D[None])  # W[o, i] = P[o, i] * D[i]
x = torch.randn(2, I, 9, 9)
same = torch.allclose(separable(x), equivalent(x), atol=1e-5)
kernel = Pw.double()[:, :, None, None] * D.double()[None]  # the same kernel, computed exactly enough to see its rank
rank = torch.linalg.matrix_rank(kernel.reshape(O, -1)).item()
general = torch.linalg.matrix_rank(torch.randn(O, I * k * k).double()).item()
print(f"the separable block and the normal convolution built from it give the same output: {same}")
print(f"its kernel as an {O} x {I * k * k} matrix has rank {rank} (at most I = {I}); a general one has rank {general}")
print(f"parameters: separable {count_parameters(separable)} = k*k*I + I*O, normal {count_parameters(equivalent)} = k*k*I*O")
assert same and rank <= I
