# %% [markdown]
# # 06 · Weight clustering and Huffman coding
#
# Covers: C14, C15, C17, C19
#
# The lecture: cluster the weights by value into a preset number of groups (its example: 4). Every weight of a group
# is represented by one value, the **mean** of the group (C19). The layer is then stored as a table of the group
# values (the *codebook*) plus, per weight, the index of its group: with 4 groups, 2 bits per weight (C14). Then
# **Huffman coding** gives frequent groups short codes and rare ones long codes, so the average goes below the fixed
# length (C15, measured below with 16 clusters). Clustering can be done after training, or made part of training so that the network adapts to it (C17).
#
# Expected run time: about 40 s on a laptop CPU.

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

from lecture_utils import (Spread, balanced_subset, claim, clearly_below, count_parameters, evaluate, fit, load_mnist,
                           make_loader, verdict)
from lecture_utils.clustering import (cluster_in_training, cluster_model, cluster_weights, clustered_layers,
                                      clustered_model_bytes, clustering_error, error_by_magnitude,
                                      evaluate_clustered_layer, settle_clusters)
from lecture_utils.exercises import check_centroid_gradients, check_cluster_count, check_prefix_free
from lecture_utils.huffman import (average_code_length, entropy_bits, fixed_length_bits, huffman_code, huffman_decode,
                                   huffman_encode)
from lecture_utils.quantization import (pack_bits, quantize_codes, quantize_model, quantized_model_bytes,
                                        state_dict_bytes)
from lecture_utils.pretrained import load_teacher
from lecture_utils.widgets import cluster_slider

x_train, y_train = load_mnist(train=True)
x_test, y_test = load_mnist(train=False)
model, _ = load_teacher("lenet_300_100")
float_accuracy = evaluate(model, x_test, y_test).accuracy
print(f"LeNet-300-100: {count_parameters(model):,} parameters, test accuracy {100 * float_accuracy:.2f}%")

# %% [markdown]
# ## The lecture's example: 4 clusters
#
# A 4x4 block of real weights from the first layer, clustered into 4 groups by k-means (in one dimension: by value).
# On the left each weight coloured by its cluster, with its 2-bit index; on the right the codebook.

# %%
block = model[1].weight.detach()[:4, 100:104] * 10  # scaled by 10 to read like the lecture's numbers
codebook, indices = cluster_weights(block, 4)

fig, (ax_w, ax_table) = plt.subplots(1, 2, figsize=(7.5, 2.8), gridspec_kw={"width_ratios": [1.2, 1]})
colours = plt.cm.tab10(range(4))
ax_w.imshow(colours[indices.numpy()])
for i in range(4):
    for j in range(4):
        ax_w.text(j, i, f"{block[i, j]:.2f}\n→ {indices[i, j].item():02b}", ha="center", va="center", fontsize=8)
ax_w.set_title("weights (x10) and their 2-bit index", fontsize=10)
ax_w.axis("off")
ax_table.axis("off")
table = ax_table.table(cellText=[[f"{k:02b}", f"{v:.3f}"] for k, v in enumerate(codebook.tolist())],
                       colLabels=["index", "value = group mean"], cellColours=[[c, "white"] for c in colours],
                       loc="center")
table.auto_set_font_size(False)
table.set_fontsize(9)
table.scale(1.2, 1.8)
plt.show()
for k in range(4):
    members = block[indices == k]
    print(f"cluster {k:02b}: {len(members)} weights, mean {members.mean():.3f} = codebook value {codebook[k]:.3f}")
claim("C19", all(torch.isclose(block[indices == k].mean(), codebook[k], atol=1e-5) for k in range(4)),
      "each of the 4 codebook values is the mean of the weights in its cluster: "
      + ", ".join(f"{codebook[k]:.3f}" for k in range(4)))

# %%
# NBVAL_CHECK_OUTPUT
# Weights gathered around the lecture's four values: k-means finds them back.
g = torch.Generator().manual_seed(0)
lecture_values = torch.tensor([-4.2, -0.4, 0.4, 2.9])
weights = lecture_values[torch.randint(0, 4, (1000,), generator=g)] + 0.05 * torch.randn(1000, generator=g)
found, found_indices = cluster_weights(weights, 4)
print("codebook:", [round(v, 1) for v in found.tolist()])
stored_bits = 8 * len(pack_bits(found_indices, 2)) + 4 * 32
claim("C14", torch.allclose(found, lecture_values, atol=0.02) and stored_bits == len(weights) * 2 + 4 * 32,
      f"1,000 weights around the lecture's -4.2, -0.4, 0.4, 2.9 in 4 groups: codebook "
      f"{[round(v, 2) for v in found.tolist()]}; stored as {len(weights)} x 2-bit indices + 4 x 32-bit values = "
      f"{stored_bits} bits, against {len(weights) * 32} bits in float32")


# %% [markdown]
# ### Exercise 1 · The gradient of a shared weight
#
# Once clustered, the weights of a cluster are one number, its centre, and Deep Compression fine-tunes the centres
# (C17 below; the lecture's figure groups the block's gradients by colour). Write
# `my_centroid_gradients(weight_grad, indices, num_clusters)`: `weight_grad` is the gradient of the loss with respect
# to each weight, as if every weight were free; `indices` holds each weight's cluster. Return the gradient of the loss
# with respect to each centre, a tensor of `num_clusters` numbers, 0 for a centre that no weight uses (think about
# what moving one centre does to the weights). The cell then compares your answer with autograd on the first layer of the trained network.

# %%
def my_centroid_gradients(weight_grad, indices, num_clusters):
    ### BEGIN SOLUTION
    grads = torch.zeros(num_clusters, dtype=weight_grad.dtype)
    return grads.index_add(0, indices.reshape(-1), weight_grad.reshape(-1))  # every weight of a centre moves with it
    ### END SOLUTION


check_centroid_gradients(my_centroid_gradients)
codebook4, indices4 = cluster_weights(model[1].weight, 4)
x_batch, y_batch = x_train[:256], y_train[:256]


def loss_with_first_layer(weight):
    return F.cross_entropy(torch.func.functional_call(model, {"1.weight": weight}, (x_batch,)), y_batch)


shared = codebook4.detach().clone().requires_grad_(True)
loss_with_first_layer(shared[indices4]).backward()  # autograd through codebook[indices]
free = codebook4[indices4].detach().clone().requires_grad_(True)
loss_with_first_layer(free).backward()  # the same weights, each one free
mine = my_centroid_gradients(free.grad, indices4, 4)
print(f"{'centre':>8} {'weights':>8} {'yours':>11} {'autograd':>11}")
for k in range(4):
    print(f"{codebook4[k].item():>8.4f} {int((indices4 == k).sum()):>8,} {mine[k].item():>11.6f} {shared.grad[k].item():>11.6f}")
assert torch.allclose(mine, shared.grad, atol=1e-6, rtol=1e-4)

# %% [markdown]
# Your centre gradients and autograd's, taken through `codebook[indices]`, agree to five significant digits (float32
# sums, added in another order): in backward,
# indexing adds up the gradients of every weight that shares a value. That is all `SharedWeights`
# (`lecture_utils.clustering`) needs to fine-tune the centres in C17 below, with the indices held fixed.

# %% [markdown]
# ## Where the centres start
#
# k-means needs starting centres, and where it ends depends on them. `cluster_weights` starts them **evenly spaced**
# between the smallest and the largest weight: Deep Compression's *linear initialisation*. The common alternative,
# **k-means++** (scikit-learn's default), draws them from the weights themselves, each next one far from those
# already drawn, so the centres go where the weights are dense. On the first layer (235,200 weights): the squared
# error $\sum (w - c(w))^2$ that k-means makes small, the test accuracy with this layer clustered (the rest in
# float32), and how far the 1% largest weights move against the other 99% (mean $|w - c(w)|$). k-means++ is random:
# three seeds. Expected run time: about 3 s.

# %%
first = model[1].weight.detach()
init_seeds = range(P.seeds)
init_results = {}
print(f"{'clusters':>8} {'start':>9} {'squared error':>14} {'test accuracy (%)':>18} "
      f"{'|change|, 1% largest':>21} {'|change|, the rest':>19}")
for k in (4, 8, 16, 32):
    linear = evaluate_clustered_layer(model, "1", k, x_test, y_test)
    plus = [evaluate_clustered_layer(model, "1", k, x_test, y_test, init="k-means++",
                                     generator=torch.Generator().manual_seed(s)) for s in init_seeds]
    moves = [error_by_magnitude(first, r["codebook"], r["indices"]) for r in [linear] + plus]
    init_results[k] = {
        "linear": linear, "k-means++": plus,
        "error": (linear["squared_error"], Spread([r["squared_error"] for r in plus], ".2f")),
        "accuracy": (100 * linear["accuracy"], Spread([100 * r["accuracy"] for r in plus], ".2f")),
        "largest": (moves[0]["largest"], Spread([m["largest"] for m in moves[1:]], ".4f")),
        "rest": (moves[0]["rest"], Spread([m["rest"] for m in moves[1:]], ".4f")),
    }
    r = init_results[k]
    print(f"{k:>8} {'linear':>9} {r['error'][0]:>14.2f} {r['accuracy'][0]:>18.2f} {r['largest'][0]:>21.4f} "
          f"{r['rest'][0]:>19.4f}")
    print(f"{'':>8} {'k-means++':>9} {str(r['error'][1]):>14} {str(r['accuracy'][1]):>18} {str(r['largest'][1]):>21} "
          f"{str(r['rest'][1]):>19}")
print()
for k, r in init_results.items():
    print(f"{k:>2} clusters: squared error linear / k-means++ = {r['error'][0] / r['error'][1].mean:.2f}; "
          f"test accuracy, k-means++ against linear: "
          f"{verdict(r['accuracy'][1], round(r['accuracy'][0], 2), 'accuracy', 'lower', 'higher')}")
linear_better = [k for k, r in init_results.items() if clearly_below(r["accuracy"][1], r["accuracy"][0])]
plus_better = [k for k, r in init_results.items() if clearly_below(r["accuracy"][0], r["accuracy"][1])]
largest_gap = max(abs(r["accuracy"][1].mean - r["accuracy"][0]) for r in init_results.values())
print(f"accuracy: the linear start clearly higher at {linear_better or 'no'} cluster counts, k-means++ clearly higher "
      f"at {plus_better or 'no'}, no difference at the others; the mean accuracies differ by at most "
      f"{largest_gap / 100 * len(y_test):.0f} of the {len(y_test):,} test images")
# The markdown below, at 32 clusters: k-means++ leaves less squared error; the linear start reaches further into
# the tails, moves the largest weights less, and the others more. Up to 16 clusters, the same squared error.
r32 = init_results[32]
assert r32["error"][1].mean < 0.8 * r32["error"][0] and r32["largest"][0] < r32["largest"][1].mean \
    and r32["rest"][0] > r32["rest"][1].mean
assert r32["linear"]["codebook"].min() < r32["k-means++"][0]["codebook"].min() \
    and r32["linear"]["codebook"].max() > r32["k-means++"][0]["codebook"].max()
assert all(0.98 < r["error"][0] / r["error"][1].mean < 1.02 for k, r in init_results.items() if k <= 16)

means_hold = all(torch.allclose(res["codebook"][j].double(), first[res["indices"] == j].double().mean(), atol=1e-6)
                 for r in init_results.values() for res in [r["linear"]] + r["k-means++"]
                 for j in torch.unique(res["indices"]).tolist())
claim("C19", means_hold,
      f"with either start, every centre ends as the mean of its weights (layer 1; 4, 8, 16 and 32 clusters; "
      f"linear and k-means++ with {len(init_seeds)} seeds)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for ax, k in zip(axes, (16, 32)):
    ax.hist(first.flatten().numpy(), bins=200, color="lightgray", log=True)
    ax.vlines(init_results[k]["linear"]["codebook"], 0.5, 1, transform=ax.get_xaxis_transform(), colors="tab:red",
              lw=0.9, label="linear start")
    ax.vlines(init_results[k]["k-means++"][0]["codebook"], 0, 0.5, transform=ax.get_xaxis_transform(),
              colors="tab:blue", lw=0.9, label="k-means++ start (seed 0)")
    ax.set_title(f"layer 1, {k} clusters: final centres", fontsize=10)
    ax.set_xlabel("weight value")
axes[0].set_ylabel("weights (log scale)")
axes[1].legend(fontsize=8, loc="upper right")
plt.show()
for k in (16, 32):
    lin, pp = init_results[k]["linear"]["codebook"], init_results[k]["k-means++"][0]["codebook"]
    print(f"{k} clusters: outermost centres {lin.min():.3f} and {lin.max():.3f} from the linear start, "
          f"{pp.min():.3f} and {pp.max():.3f} from k-means++ (seed 0); weights from {first.min():.3f} to "
          f"{first.max():.3f}")

# %% [markdown]
# Read the table and the pictures together. Up to 16 clusters both starts end with nearly the same squared error
# (the ratios printed). At 32 they part: the linear start leaves centres out among the rare large weights (the red
# lines reach further into the tails), so the 1% largest weights move less than under k-means++, and pays for it in
# the dense middle: the other 99% move more, and the squared error is higher. k-means++ spends its centres where the
# weights are. Squared error counts every weight alike; the network may not.
# Deep Compression (published) found the linear start more accurate than the random and density-based starts it
# compared (k-means++ was not among them), with the network fine-tuned afterwards. Here, with one
# layer clustered and nothing fine-tuned, the accuracy line above sums up where the two starts differ beyond the
# spread of k-means++'s seeds, and by how many test images at most, on this network.

# %% [markdown]
# ## Move the number of clusters
#
# The slider re-clusters the first layer (235,200 weights) of the trained network into k groups, redraws its weight
# histogram with the centres, and measures the test accuracy; the other layers stay in float32. Bits per weight in
# this layer: $\lceil \log_2 k \rceil$ for the index, plus the codebook's share.

# %%
# NBVAL_IGNORE_OUTPUT
cluster_slider(model, "1", x_test, y_test, num_clusters=4)

# %% [markdown]
# ### Exercise 2 · Design: clusters for a 3-bit index
#
# How far to compress is the application's decision. Here the device stores the first layer's index in at most
# **3 bits per weight** (fixed length, $\lceil \log_2 k \rceil$ bits), and the application allows at most
# **0.3 points** of test accuracy below the float network. Write `my_cluster_count(model, layer, images, labels)`:
# return the number of clusters for the first layer. Choose with the images you are given (5,000 training images: the
# network has seen them, so they may flatter it), not with the test images, which the check uses to measure your
# choice. `evaluate_clustered_layer` (behind the slider above) measures one number of clusters.

# %%
def my_cluster_count(model, layer, images, labels):
    ### BEGIN SOLUTION
    full = evaluate(model, images, labels).accuracy
    lost = {k: full - evaluate_clustered_layer(model, layer, k, images, labels)["accuracy"] for k in range(5, 9)}
    print("points lost on the given images:", {k: round(100 * v, 2) for k, v in lost.items()})
    return min(lost, key=lost.get)  # 5 to 8 clusters all cost a 3-bit index: keep the one that loses least here
    ### END SOLUTION


check_cluster_count(my_cluster_count, model, "1", (x_train[-5000:], y_train[-5000:]), (x_test, y_test))

# %% [markdown]
# **What did you see?** How does accuracy depend on the number of clusters within the same index width, and what does
# that say about choosing k?
#
# ### BEGIN SOLUTION
# From 5 to 8 clusters the index costs the same 3 bits, so within that width the choice is free: take the number that
# loses least on the images you may use (the printed losses). They fall from 5 clusters to 7, then 8 clusters lose a
# little more than 7: once the dense middle of the weights is covered, another centre changes little, and which of two
# such choices wins on 5,000 images is partly chance. The real choice is the width: one cluster past
# a power of two costs a whole bit per weight. The given images are training images, so they may flatter the
# clustered network; the check's line says what the test images make of the choice.
# ### END SOLUTION

# %% [markdown]
# ## C14 · Two bits per weight, and the same two bits spent on uniform levels
#
# Every weight matrix in 4 clusters: per weight a 2-bit index, per layer 4 float32 values. 2-bit uniform quantization
# (notebook 05) stores the same 2-bit codes, with a scale and a zero point per layer instead of a codebook: equal bytes
# but for a few. The difference is where the 4 values sit.

# %%
clustered_4 = cluster_model(copy.deepcopy(model), 4)
after_training_4 = evaluate(clustered_4, x_test, y_test).accuracy
_, codebook_1, indices_1 = next(clustered_layers(clustered_4))
index_bytes = len(pack_bits(indices_1, 2))
uniform_codes, scale, zero_point = quantize_codes(first, 2)
uniform_levels = (torch.arange(4) - zero_point) * scale
bytes_4 = clustered_model_bytes(clustered_4)["fixed"]
rows = [("4 clusters, after training", bytes_4, after_training_4, codebook_1,
         (codebook_1[indices_1] == 0).float().mean()),
        ("2-bit uniform, per tensor", len(quantized_model_bytes(model, 2)),
         evaluate(quantize_model(model, 2), x_test, y_test).accuracy, uniform_levels,
         (uniform_codes == zero_point.long()).float().mean()),
        ("2-bit uniform, per channel", len(quantized_model_bytes(model, 2, per_channel=True)),
         evaluate(quantize_model(model, 2, per_channel=True), x_test, y_test).accuracy, None, None)]
print(f"{'':28} {'bytes':>9} {'test accuracy':>14}   layer 1: its 4 values, share of weights set to 0")
for name, size, acc, values, zeros in rows:
    layer = "(a scale per row)" if values is None else \
        f"[{', '.join(f'{v:.3f}' for v in values.tolist())}], {100 * zeros:.0f}% at 0"
    print(f"{name:28} {size:>9,} {100 * acc:>13.2f}%   {layer}")
print(f"{'float32':28} {state_dict_bytes(model):>9,} {100 * float_accuracy:>13.2f}%")
# The markdown below: equal bytes but for the codebooks; 2-bit uniform sends most of layer 1 to 0; per channel
# costs a few more bytes and stays below the clusters.
assert abs(rows[0][1] - rows[1][1]) <= 3 * 4 * 4 and rows[1][4] > 0.9
assert rows[2][1] > rows[0][1] and rows[1][2] < rows[2][2] < rows[0][2]
claim("C14", index_bytes * 8 == 2 * first.numel() and torch.unique(codebook_1[indices_1]).numel() == 4
      and len(pack_bits(uniform_codes, 2)) == index_bytes,
      f"layer 1 ({first.numel():,} weights) in 4 groups: {index_bytes:,} bytes of indices = 2 bits per weight, "
      f"as many as 2-bit uniform codes take, plus a 4-value codebook of 16 bytes, against {4 * first.numel():,} bytes "
      f"in float32; the whole model "
      f"{bytes_4:,} bytes at {100 * after_training_4:.2f}% (float32 {100 * float_accuracy:.2f}%)")

# %% [markdown]
# Same bits, very different networks. The uniform levels span the whole range (widened to hold 0), so with only 4 of
# them almost every weight of the first layer rounds to 0 (the share in the table); k-means puts its 4 values where
# the weights are. Per-channel scales help uniform quantization, at the cost of one scale and zero point per row
# (the bytes column), and still stay below the clusters here.

# %% [markdown]
# ## C15 · Huffman coding of the indices
#
# Cluster the first layer into 16 groups. A fixed-length code needs 4 bits per index; but the groups near zero are
# much more frequent than those in the tails, so a Huffman code does better. The code table:

# %%
codebook16, indices16 = cluster_weights(model[1].weight, 16)
symbols = indices16.flatten().tolist()
code = huffman_code(symbols)
counts = torch.bincount(indices16.flatten(), minlength=16)
print(f"{'index':>5} {'centre':>8} {'count':>7} {'Huffman code':>14} {'bits':>5}")
for k in range(16):
    print(f"{k:>5} {codebook16[k]:>8.4f} {counts[k].item():>7,} {code[k]:>14} {len(code[k]):>5}")

data, n_bits = huffman_encode(symbols, code)
assert huffman_decode(data, n_bits, code) == symbols  # exact round trip
fixed = fixed_length_bits(16)
avg, h = average_code_length(symbols, code), entropy_bits(symbols)
fixed_bytes = len(pack_bits(indices16, fixed))
print(f"\nbits per index: fixed-length {fixed}, Huffman {avg:.3f}, entropy {h:.3f} (no code can average less)")
print(f"the {len(symbols):,} indices: {fixed_bytes:,} bytes fixed-length, {len(data):,} bytes Huffman-coded "
      f"({100 * (1 - len(data) / fixed_bytes):.0f}% saved); decoded back exactly")
frequent, rare = int(counts.argmax()), int(counts.argmin())
lengths = [len(code[k]) for k in range(16)]
claim("C15", len(code[frequent]) == min(lengths) and len(code[rare]) == max(lengths) and h <= avg < fixed
      and len(data) < fixed_bytes,
      f"16 clusters of layer 1: the most frequent index ({counts[frequent]:,} weights) gets {len(code[frequent])} "
      f"bits, "
      f"the rarest ({counts[rare]:,}) {len(code[rare])}; on average {avg:.3f} bits per index against {fixed} "
      f"fixed-length (entropy {h:.3f}): {len(data):,} bytes instead of {fixed_bytes:,}")


# %% [markdown]
# Deep Compression (published) reports that Huffman coding saves 20-30% of the storage; how much it saves depends on
# how unequal the cluster sizes are (here, the saving printed above).
#
# ### Exercise 3 · Why a Huffman bit string needs no separators
#
# The Huffman-coded indices above are one long bit string, with nothing between the codes, and still decode exactly:
# no code is the beginning (a *prefix*) of another symbol's code, so the decoder knows a symbol is complete as soon
# as the bits it has read form a code. Write `my_is_prefix_free(code)`: `code` maps symbols to strings of '0' and
# '1'; return True if no symbol's code begins another symbol's code (a code equal to another's counts as its
# beginning), False otherwise. The cell then tests the code
# table above and a code that breaks the rule.

# %%
def my_is_prefix_free(code):
    ### BEGIN SOLUTION
    words = sorted(code.values())  # a code sorts just before the codes it begins
    return all(not later.startswith(earlier) for earlier, later in zip(words, words[1:]))
    ### END SOLUTION


check_prefix_free(my_is_prefix_free)
shorter = {0: "0", 1: "01", 2: "1"}  # shorter than a prefix code for three symbols can be: '0' begins '01'
print(f"the 16-cluster Huffman code above: prefix-free {my_is_prefix_free(code)}; {shorter}: prefix-free "
      f"{my_is_prefix_free(shorter)}, and its bits '01' read as [0, 2] or as [1]")

# %% [markdown]
# ## C17 · Clustering after training, or made part of training
#
# The lecture's answer to "do I have to re-cluster at every update?": the simple way is to train first and cluster
# afterwards, but the clustered weights may then be too far from the trained ones; or quantization is made part of
# training, so the network learns with it. Four ways, all from the trained LeNet-300-100:
#
# * **after training**: cluster every layer (k values per layer) and use the network as it is;
# * **centroids fine-tuned** (Deep Compression): cluster, then keep every weight's cluster fixed and train only the
#   shared values, each centre's gradient being the sum of the gradients of its weights;
# * **clustered in training**: the forward pass uses every weight's nearest centre (so the loss is the clustered
#   network's loss), the backward pass hands the gradient straight through to the float weight underneath, which
#   keeps learning and may change cluster; each step also moves the centres one k-means step to the mean of their
#   weights (`cluster_in_training`). At the end the float weights are clustered once more from those centres;
# * the **control**: the float network trained for the same extra epochs, then clustered after training. Without it,
#   a gain could just be the extra training.
#
# Every training run: `P.centroid_tune_epochs` epochs on `P.centroid_tune_size` training images (three epochs on
# 10,000 in the lecture profile; the network saw them all before), Adam at 3e-4, three seeds: the seed is the order of
# the images, since all start from the same trained network. Expected run time: about 20 s.

# %%
x_tune, y_tune = balanced_subset(x_train, y_train, P.centroid_tune_size, seed=setup.seed)
SEEDS = list(range(P.seeds))
CLUSTERS = (4, 16)
EPOCHS = P.centroid_tune_epochs


def train(net, seed, name):
    fit(net, make_loader(x_tune, y_tune, seed=seed), F.cross_entropy, epochs=EPOCHS, lr=3e-4, seed=seed, name=name,
        verbose=False)
    return net


def test_accuracy(net):
    return 100 * evaluate(net, x_test, y_test).accuracy


def relative_change(net, k):
    """The share of layer 1's squared norm that clustering its (float) weights into k values would change."""
    weight = net[1].weight.detach() if not hasattr(net[1], "parametrizations") else \
        net[1].parametrizations.weight.original.detach()
    return clustering_error(weight, *cluster_weights(weight, k)) / weight.pow(2).sum().item()


controls = [train(copy.deepcopy(model), seed, f"float32, seed {seed}") for seed in SEEDS]
control_name = f"float32 + {EPOCHS} epochs, then clustered"
accuracy = {"float32 as trained": {k: Spread([100 * float_accuracy]) for k in CLUSTERS},
            f"float32 + {EPOCHS} epochs": {k: Spread([test_accuracy(n) for n in controls], ".2f") for k in CLUSTERS},
            "after training": {k: Spread([test_accuracy(cluster_model(copy.deepcopy(model), k))]) for k in CLUSTERS},
            control_name: {k: Spread([test_accuracy(cluster_model(copy.deepcopy(n), k)) for n in controls], ".2f")
                           for k in CLUSTERS},
            "centroids fine-tuned": {}, "clustered in training": {}}
trained = {}  # (recipe, k): the networks of the seeds, as stored
for k in CLUSTERS:
    trained["centroids fine-tuned", k] = [train(cluster_model(copy.deepcopy(model), k), seed,
                                                f"centroids, k={k}, seed {seed}") for seed in SEEDS]
# Clustering in training only where clustering after training costs most (4 clusters): the notebook's time budget.
in_training = [train(cluster_in_training(copy.deepcopy(model), 4), seed, f"in training, k=4, seed {seed}")
               for seed in SEEDS]
latent_change = Spread([relative_change(net, 4) for net in in_training], ".3f")
trained["clustered in training", 4] = [settle_clusters(net) for net in in_training]
for (recipe, k), nets in trained.items():
    assert max(torch.unique(getattr(net, name).weight).numel() for net in nets
               for name, _, _ in clustered_layers(net)) <= k  # still k values per layer
    accuracy[recipe][k] = Spread([test_accuracy(net) for net in nets], ".2f")

print(f"{'test accuracy (%)':44}" + "".join(f"{f'{k} clusters per layer':>24}" for k in CLUSTERS))
for name, by_k in accuracy.items():
    cells = [("not run" if k not in by_k else f"{by_k[k].mean:.2f}" if by_k[k].n == 1 else str(by_k[k]))
             for k in CLUSTERS]
    note = "   (no training: one network)" if by_k[CLUSTERS[0]].n == 1 else f"   ({len(SEEDS)} seeds)"
    print(f"{name:44}" + "".join(f"{c:>24}" for c in cells) + note)

for k in CLUSTERS:
    print(f"\n{k} clusters per layer, test accuracy:")
    for a, b in (("clustered in training", control_name), ("clustered in training", "centroids fine-tuned"),
                 ("centroids fine-tuned", control_name), ("clustered in training", f"float32 + {EPOCHS} epochs"),
                 ("centroids fine-tuned", f"float32 + {EPOCHS} epochs")):
        if k in accuracy[a] and k in accuracy[b]:
            print(f"  {a} against {b}: {verdict(accuracy[a][k], accuracy[b][k], 'accuracy', 'lower', 'higher')}")
longer = accuracy[f"float32 + {EPOCHS} epochs"][4]
print(f"\nfloat32 + {EPOCHS} epochs against float32 as trained ({100 * float_accuracy:.2f}%): "
      f"{verdict(longer, round(100 * float_accuracy, 2), 'accuracy', 'lower', 'higher')}")
assert clearly_below(100 * float_accuracy, longer)  # the markdown below: the extra epochs alone help

# %%
change_4 = relative_change(model, 4)
k = 4
claim("C17", accuracy["after training"][k].mean < 100 * float_accuracy
      and clearly_below(accuracy[control_name][k], accuracy["clustered in training"][k])
      and clearly_below(accuracy["centroids fine-tuned"][k], accuracy["clustered in training"][k]),
      f"4 clusters per layer: clustered after training {accuracy['after training'][k].mean:.2f}% "
      f"(float32 {100 * float_accuracy:.2f}%; clustering changes {100 * change_4:.0f}% of layer 1's squared norm); "
      f"clustered in training {accuracy['clustered in training'][k]}% against {accuracy[control_name][k]}% for the "
      f"float network trained as long and then clustered, and {accuracy['centroids fine-tuned'][k]}% with the "
      f"centroids fine-tuned ({len(SEEDS)} seeds)")
print(f"layer 1's float weights under the clustered forward pass: clustering them into 4 values would change "
      f"{latent_change} of their squared norm after training in the loop, {change_4:.3f} before")
# The markdown below: the float weights do not gather; at 16 clusters the fine-tuned centroids beat float32 as
# trained, but not the control.
assert latent_change.mean > 0.9 * change_4
assert accuracy["centroids fine-tuned"][16].mean > 100 * float_accuracy
assert clearly_below(accuracy["centroids fine-tuned"][16], accuracy[control_name][16])

# %% [markdown]
# What the table says, row by row against the verdicts above:
#
# * The **control** matters. The extra epochs (`P.centroid_tune_epochs`: the "float32 + N epochs" row) make the float
#   network itself clearly better than it was (the line above the check): the network was not trained to the end. A clustered network that trained for those epochs must
#   be compared with a float network that trained for them too, then clustered the simple way.
# * With **4 clusters**, clustering after training costs accuracy (the weights move a lot: the share of the squared
#   norm printed with the check), and training with the clusters in the forward pass recovers clearly more of it than
#   the control or the fine-tuned centroids (the check), though not all of it: against the float network trained as
#   long, the verdict line. Training only the 4 shared values per layer is little freedom; letting every weight keep
#   learning, and change cluster, is much more.
# * With **16 clusters**, clustering after training loses little to begin with. Fine-tuned centroids end above the
#   float network as trained, which looks like a gain from clustering, but against the control they are clearly lower:
#   the gain was the extra training, and the float network gets more out of it.
# * The float weights underneath do not gather into tighter clusters here (the last line: clustering them would change
#   about as much as before): what the training changes is the network around the clusters, which learns to work with
#   the clustered values. The lecture's other way, a penalty in the loss pulling every weight toward its centre, would
#   make the weights themselves gather; it is not run here.
#
# ## Storage of the whole model
#
# Every weight matrix as packed indices (fixed-length, then Huffman-coded) plus its float32 codebook; biases in
# float32. All sizes are counted from the bytes actually written: with 4 clusters for the networks clustered in
# training, with 16 for those with fine-tuned centroids.

# %%
float_bytes = state_dict_bytes(model)
print(f"{'':26} {'bytes':>16} {'x smaller':>10} {'test accuracy (%)':>18}")
print(f"{'float32':26} {float_bytes:>16,} {1.0:>10.1f} {100 * float_accuracy:>18.2f}")
for recipe, k in (("clustered in training", 4), ("centroids fine-tuned", 16)):
    sizes = [clustered_model_bytes(net) for net in trained[recipe, k]]
    for kind in ("fixed", "huffman"):
        size = Spread([s[kind] for s in sizes])
        print(f"{f'{k} clusters, {kind}':26} {format(size, ',.0f'):>16} {float_bytes / size.mean:>10.1f} "
              f"{str(accuracy[recipe][k]):>18}   ({recipe})")
print(f"\n({len(SEEDS)} seeds: mean ± sd.) Deep Compression, LeNet-300-100 (published): 1070 KB -> 27 KB, 40x, "
      "error 1.64% -> 1.58%, with pruning to 8% of the weights first (notebook 11 combines them); 32x without Huffman.")

# %% [markdown]
# Clustering alone takes a float32 network to about $32 / \log_2 k$ times smaller, Huffman coding a little more;
# Deep Compression's 40x also prunes 92% of the weights first. Combining the techniques is notebook 11.
