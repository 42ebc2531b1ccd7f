# %% [markdown]
# # 06 · Weight clustering and Huffman coding
#
# Covers: C14, C15, C17, C19
#
# The lecture: cluster the weights by value into a preset number of groups (its example: 4). Every weight of a group
# is represented by one value, the **mean** of the group (C19). The layer is then stored as a table of the group
# values (the *codebook*) plus, per weight, the index of its group: with 4 groups, 2 bits per weight (C14). Then
# **Huffman coding** gives frequent groups short codes and rare ones long codes, so the average goes below 2 bits
# (C15). Clustering can be done after training, or made part of training so that the network adapts to it (C17).
#
# Expected run time: about 30 s on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import copy
import functools
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from lecture_utils import balanced_subset, count_parameters, evaluate, fit, load_mnist, make_loader
from lecture_utils.clustering import cluster_model, cluster_weights, clustered_layers
from lecture_utils.exercises import check_huffman_decode, check_kmeans_step
from lecture_utils.huffman import (average_code_length, entropy_bits, fixed_length_bits, huffman_code, huffman_decode,
                                   huffman_encode)
from lecture_utils.quantization import pack_bits, state_dict_bytes
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
    assert torch.isclose(members.mean(), codebook[k], atol=1e-5)  # C19: a cluster's value is its mean

# %%
# NBVAL_CHECK_OUTPUT
# Weights gathered around the lecture's four values: k-means finds them back.
g = torch.Generator().manual_seed(0)
lecture_values = torch.tensor([-4.2, -0.4, 0.4, 2.9])
weights = lecture_values[torch.randint(0, 4, (1000,), generator=g)] + 0.05 * torch.randn(1000, generator=g)
found, _ = cluster_weights(weights, 4)
print("codebook:", [round(v, 1) for v in found.tolist()])
assert torch.allclose(found, lecture_values, atol=0.02)
print(f"storage: {len(weights)} weights x 2 bits + 4 x 32-bit values = {len(weights) * 2 + 4 * 32} bits, "
      f"against {len(weights) * 32} bits in float32")


# %% [markdown]
# ### Exercise 1 · One step of k-means
#
# k-means alternates two steps: give each weight to its nearest centre, then move each centre to the mean of its
# weights. Write `my_kmeans_step(weights, centres)` returning `(new_centres, assignment)`.

# %%
def my_kmeans_step(weights, centres):
    ### BEGIN SOLUTION
    assignment = (weights[:, None] - centres[None, :]).abs().argmin(dim=1)
    new_centres = torch.stack([weights[assignment == k].mean() for k in range(len(centres))])
    return new_centres, assignment
    ### END SOLUTION


check_kmeans_step(my_kmeans_step)

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
print(f"\nbits per index: fixed-length {fixed}, Huffman {avg:.3f}, entropy {h:.3f} (no code can average less)")
print(f"the {len(symbols):,} indices: {len(pack_bits(indices16, fixed)):,} bytes fixed-length, {len(data):,} bytes Huffman-coded "
      f"({100 * (1 - len(data) / len(pack_bits(indices16, fixed))):.0f}% saved); decoded back exactly")
assert h <= avg < h + 1


# %% [markdown]
# Deep Compression (published) reports that Huffman coding saves 20-30% of the storage; how much it saves depends on
# how unequal the cluster sizes are.
#
# ### Exercise 2 · Decode a Huffman bit string
#
# Write `my_huffman_decode(bits, code)` where `bits` is a string like `'0101110'` and `code` maps symbols to their
# codes: read the bits one at a time and emit a symbol as soon as the bits read so far are one of the codes.

# %%
def my_huffman_decode(bits, code):
    ### BEGIN SOLUTION
    decode = {c: s for s, c in code.items()}
    out, current = [], ""
    for bit in bits:
        current += bit
        if current in decode:
            out.append(decode[current])
            current = ""
    return out
    ### END SOLUTION


check_huffman_decode(my_huffman_decode)

# %% [markdown]
# ## C17 · Clustering after training, or letting training adapt to it
#
# *After training*: cluster every layer and use the network as it is. *Clustering-aware*: keep the cluster of every
# weight fixed and fine-tune the shared centre values, each centre's gradient being the sum of the gradients of the
# weights that share it (Deep Compression); the network adapts to the constraint. `P.centroid_tune_epochs` epochs on
# `P.centroid_tune_size` training images (three epochs on 10,000 in the lecture profile). Expected run time: about 10 s.

# %%
x_tune, y_tune = balanced_subset(x_train, y_train, P.centroid_tune_size, seed=setup.seed)
results = {}
for k in (4, 16):
    clustered = cluster_model(copy.deepcopy(model), k)
    after_training = evaluate(clustered, x_test, y_test).accuracy
    fit(clustered, make_loader(x_tune, y_tune, seed=setup.seed), F.cross_entropy, epochs=P.centroid_tune_epochs, lr=3e-4,
        name=f"fine-tune {k} centroids per layer")
    aware = evaluate(clustered, x_test, y_test).accuracy
    distinct = max(torch.unique(getattr(clustered, name).weight).numel() for name, _, _ in clustered_layers(clustered))
    results[k] = (after_training, aware, clustered)
    assert distinct <= k  # still k values per layer after fine-tuning

print(f"{'clusters per layer':>18} {'after training':>15} {'centroids fine-tuned':>21}   (float32: {100 * float_accuracy:.2f}%)")
for k, (after_training, aware, _) in results.items():
    print(f"{k:>18} {100 * after_training:>14.2f}% {100 * aware:>20.2f}%")

# %% [markdown]
# ## Storage of the whole model
#
# Every weight matrix as packed indices (fixed-length, then Huffman-coded) plus its float32 codebook; biases in
# float32. All sizes are counted from the bytes actually written.

# %%
float_bytes = state_dict_bytes(model)
bias_bytes = sum(p.numel() * 4 for name, p in model.named_parameters() if name.endswith("bias"))
print(f"{'':24} {'bytes':>9} {'x smaller':>10} {'test accuracy':>14}")
print(f"{'float32':24} {float_bytes:>9,} {1.0:>10.1f} {100 * float_accuracy:>13.2f}%")
for k, (_, aware, clustered) in results.items():
    fixed_bytes = huffman_bytes = bias_bytes
    for _, codebook_k, idx in clustered_layers(clustered):
        fixed_bytes += len(pack_bits(idx, fixed_length_bits(k))) + 4 * k
        layer_code = huffman_code(idx.flatten().tolist())
        huffman_bytes += len(huffman_encode(idx.flatten().tolist(), layer_code)[0]) + 4 * k
        huffman_bytes += sum(1 + math.ceil(len(c) / 8) for c in layer_code.values())  # the code table itself
    for name, size in ((f"{k} clusters, fixed", fixed_bytes), (f"{k} clusters, Huffman", huffman_bytes)):
        print(f"{name:24} {size:>9,} {float_bytes / size:>10.1f} {100 * aware:>13.2f}%")
print("\nDeep Compression, LeNet-300-100 (published): 1070 KB -> 27 KB, 40x, error 1.64% -> 1.58%, "
      "with pruning to 8% of the weights first (notebook 11 combines them); 32x without Huffman.")

# %% [markdown]
# Clustering alone takes a float32 network to about $32 / \log_2 k$ times smaller, Huffman coding a little more;
# Deep Compression's 40x also prunes 92% of the weights first. Combining the techniques is notebook 11.
