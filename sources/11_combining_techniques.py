# %% [markdown]
# # 11 · All techniques combined
#
# Covers: C32
#
# The lecture's closing point: the techniques are not rivals. Architecture design, knowledge distillation, pruning and
# quantization can all be applied to one network, one after another, and the savings multiply (C32). This notebook
# does exactly that to LeNet-300-100, the network Deep Compression compressed 40x (published, REFERENCES.md), and measures every
# step:
#
# 1. **a smaller architecture**: the 784 -> 300 layer made low rank (notebook 09);
# 2. **knowledge distillation** from the lecture's teacher, to win back what that cost (notebook 01);
# 3. **magnitude pruning** with fine-tuning (the previous lecture; recapped below);
# 4. **weight clustering** with fine-tuned centroids (notebook 06);
# 5. **Huffman coding** of the cluster indices and of the gaps between kept weights (notebook 06).
#
# Every size below is the size of a real file on disk: `torch.save` for the float32 networks, and for the compressed
# ones a compact format of our own (`lecture_utils/deep_compression.py`), which is read back into a working PyTorch model
# whose accuracy is measured again.
#
# Expected run time: about 30 s on a laptop CPU. The settings (rank 64, each layer's share kept, 16 clusters) are
# fixed in advance, after Deep Compression's published per-layer choices where it gives them; none is tuned here.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import copy
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from lecture_utils import claim, count_parameters, distillation_loss, evaluate, fit, load_mnist, make_loader, predict_logits
from lecture_utils.architecture import low_rank_factorize
from lecture_utils.clustering import cluster_model
from lecture_utils.deep_compression import (kept_fraction, load_compressed, make_pruning_permanent, plain_weights, prune_to,
                                           save_compressed, save_state_dict, weight_layers)
from lecture_utils.exercises import check_coded_sizes, check_file_budget, check_gap_bits
from lecture_utils.measure import fixed_length_bits
from lecture_utils.pretrained import load_teacher

x_train, y_train = load_mnist(train=True)
x_test, y_test = load_mnist(train=False)
baseline, _ = load_teacher("lenet_300_100")
teacher, _ = load_teacher("teacher")
files = Path(tempfile.mkdtemp(prefix="lecture11_"))  # every size below is a file written here

steps = []  # (step, file bytes, test accuracy)


def record(step, size, model):
    accuracy = evaluate(model, x_test, y_test).accuracy
    steps.append((step, size, accuracy))
    print(f"{step:<34} {size:>10,} bytes   test error {100 * (1 - accuracy):.2f}%")


record("baseline LeNet-300-100, float32", save_state_dict(files / "baseline.pt", baseline), baseline)
print(f"({count_parameters(baseline):,} parameters; files in {files})")

# %% [markdown]
# ## 1 · A smaller architecture: the first layer made low rank
#
# The 784 -> 300 layer holds 235,200 of the 266,200 weights (266,610 parameters with the biases). Replaced by 784 -> 64 -> 300 with no activation between
# (the truncated SVD of the trained matrix, notebook 09), it has 64 x (784 + 300) = 69,376.

# %%
RANK = 64
CONFIG = {"arch": "mlp", "hidden": [300, 100], "ranks": [RANK, 0, 0]}  # how build_model() rebuilds the student

student = copy.deepcopy(baseline)
student[1] = low_rank_factorize(baseline[1], RANK)
record(f"rank {RANK} first layer (SVD)", save_state_dict(files / "low_rank.pt", student), student)
print(f"{count_parameters(student):,} parameters")

# %% [markdown]
# ## 2 · Knowledge distillation from the teacher
#
# The low-rank student is fine-tuned on the teacher's soft targets (T = 4, 90% soft / 10% labels, notebook 01). The
# teacher's logits for the 60,000 training images are computed once and travel with the images through the loader;
# every later fine-tuning step uses the same loss, so the teacher keeps teaching while the student is pruned and
# clustered. Expected run time: about 15 s.

# %%
TEMPERATURE, ALPHA = 4.0, 0.9


def kd_loss(student_logits, teacher_logits, labels):
    return distillation_loss(student_logits, teacher_logits, labels, TEMPERATURE, ALPHA)


teacher_logits = predict_logits(teacher, x_train)
loader = make_loader(x_train, teacher_logits, y_train, seed=setup.seed)
fit(student, loader, kd_loss, epochs=P.pipeline_distill_epochs, lr=1e-3, seed=setup.seed, name="distillation")
record("+ distillation from the teacher", save_state_dict(files / "distilled.pt", student), student)

# %% [markdown]
# ## 3 · Magnitude pruning with fine-tuning (recap of the previous lecture)
#
# A trained network has many weights near zero; the previous lecture's point (published, not measured here) is that
# removing them costs little, that fine-tuning the rest repairs it, and that repeating *prune a little, fine-tune* goes
# further than pruning all at once. `torch.nn.utils.prune` keeps
# a 0/1 mask beside each weight (`weight = weight_orig * weight_mask`), so a pruned weight gets no gradient and stays
# zero while the others are fine-tuned. `prune_to(model, {layer: fraction})` keeps, in each layer, the given fraction
# of its weights with the largest magnitude.
#
# Like Deep Compression, each layer keeps its own share (`KEEP` below): the low-rank factors of the first layer keep
# a quarter, the middle 300 -> 100 layer 9% and the last layer 26% (fixed in advance, after Deep Compression's choices
# for LeNet-300-100, which kept 8% of the weights overall, published). Three rounds, each pruning the same fraction of what is left, each followed by fine-tuning
# (`P.prune_round_epochs`: one epoch after each, two after the last, in the lecture profile). Expected run time: about 15 s.

# %%
KEEP = {"1.0": 0.25, "1.1": 0.25, "3": 0.09, "5": 0.26}  # fraction of each layer's weights kept at the end
ROUNDS = len(P.prune_round_epochs)

for r in range(1, ROUNDS + 1):
    prune_to(student, {name: keep ** (r / ROUNDS) for name, keep in KEEP.items()})
    fit(student, loader, kd_loss, epochs=P.prune_round_epochs[r - 1], lr=5e-4, seed=setup.seed + r, name=f"pruning round {r}")
make_pruning_permanent(student)

print("weights kept:", {name: f"{100 * f:.1f}%" for name, f in kept_fraction(student).items()})
nonzero = sum(int((w != 0).sum()) for n, w in student.state_dict().items() if n.endswith("weight"))
baseline_weights = sum(p.numel() for name, p in baseline.named_parameters() if name.endswith("weight"))
print(f"{nonzero:,} non-zero weights, of {baseline_weights:,} weights in the baseline")
record("+ pruning (sparse, float32 values)",
       save_compressed(files / "pruned.lcz", student, CONFIG, coding="fixed"), student)


# %% [markdown]
# The pruned network is already stored in the compact format: per layer, the **gap** before each kept weight (how many
# zeros it skips) and the weight's float32 value. A gap is a small number, so it needs far fewer bits than an absolute
# position (in the 64 x 784 factor, 0 to 50,175, needs 16 bits). Deep Compression caps the gap: one that does not fit is written as the largest
# symbol, meaning "skip that many zeros, no weight here", then the rest.
#
# ### Exercise 1 · What the cap on a gap costs
#
# The gap before a weight at position `p`, after one at `q`, is `g = p - q - 1` (for the first weight `q = -1`).
# With a cap `m`, every symbol is one of the `m + 1` values `0..m`: a gap `g >= m` is written as the symbol `m`
# (skip `m` zeros, no weight here) as often as needed, then what remains. Example: positions `[2, 20]` with `m = 8`
# give the symbols `[2, 8, 8, 1]`. A small cap makes short symbols but many escapes; a large one, few escapes but
# long symbols. Write `my_gap_bits(positions, caps)`: for each cap `m` in `caps`, the bits that the symbols of these
# sorted positions take in a fixed-length code (a code for `n` symbols needs $\lceil \log_2 n \rceil$ bits), as a
# dict `{m: bits}`, counted without writing the symbols out. The cell then measures every layer of the pruned network.

# %%
def my_gap_bits(positions, caps):
    ### BEGIN SOLUTION
    gaps = [p - q - 1 for q, p in zip([-1] + list(positions[:-1]), positions)]
    # g // m escapes, then the rest; m + 1 symbols need ceil(log2(m + 1)) bits, which is m.bit_length()
    return {m: sum(g // m + 1 for g in gaps) * max(1, m.bit_length()) for m in caps}
    ### END SOLUTION


check_gap_bits(my_gap_bits)
caps = [3, 7, 15, 31, 63, 64, 127, 255]
print(f"{'layer':>10} {'kept':>7} " + "".join(f"{f'cap {m}':>9}" for m in caps) + "   (bytes of the gaps)")
for name, module in weight_layers(student).items():
    positions = torch.nonzero(module.weight.detach().reshape(-1)).reshape(-1).tolist()
    cost = my_gap_bits(positions, caps)
    best = min(cost, key=cost.get)
    print(f"{name:>10} {len(positions):>7,} " + "".join(f"{-(-cost[m] // 8):>9,}" for m in caps)
          + f"   best: cap {best}, {-(-cost[best] // 8):,} bytes against {-(-cost[64] // 8):,} at the file's 64")

# %% [markdown]
# In fixed-length codes the file's cap of 64 is far from the cheapest (the table: bytes of each layer's gaps at each
# cap). In the layers that keep about a quarter of their weights (1.0, 1.1 and 5) most gaps are short, and a cap of 3,
# 2-bit symbols with all their escapes, takes about half the bytes of 64's 7-bit symbols; the 300 -> 100 layer, which
# keeps 9%, is cheapest at 15. Like the number of clusters, the cap is a choice per layer. The file keeps one cap for
# every layer and, in section 5, lets Huffman coding give the common short gaps short codes instead.

# %% [markdown]
# ## 4 · Weight clustering with fine-tuned centroids
#
# The kept weights of each layer are clustered into 16 values (a 4-bit index each, notebook 06); the zeros stay zeros.
# Then only the 16 centroids of each layer (and the biases) are fine-tuned: the gradient of a centroid is the sum of
# the gradients of the weights that share it. Expected run time: about 10 s.

# %%
NUM_CLUSTERS = 16

pruned = copy.deepcopy(student)  # kept for the design task at the end
cluster_model(student, NUM_CLUSTERS)
print(f"clustered, before fine-tuning: test error {100 * (1 - evaluate(student, x_test, y_test).accuracy):.2f}%")
fit(student, loader, kd_loss, epochs=P.pipeline_centroid_epochs, lr=3e-4, seed=setup.seed, name="centroid fine-tuning")
record("+ clustering (16 per layer), fixed bits",
       save_compressed(files / "clustered.lcz", student, CONFIG, coding="fixed"), student)


# %% [markdown]
# ## 5 · Huffman coding of the indices and the gaps
#
# With fixed-width codes every index takes 4 bits and every gap 7 (symbols 0 to 64). Where do the bytes of that file go?
#
# ### Exercise 2 · Where the bytes go
#
# Write `my_coded_sizes(weights, max_gap)`: for each layer of `weights` (a dict `{name: weight tensor}`, pruned: most
# entries exactly 0), the pair `(gap_bytes, index_bytes)` that fixed-length codes take in the file. The gaps take the
# bits that exercise 1 counts for the positions of the non-zero weights (in the flattened tensor), with the cap
# `max_gap`; each kept weight has an index into the layer's codebook of distinct non-zero values;
# `fixed_length_bits(n)` is the bits a fixed-length code for `n` symbols needs, and each part is packed into whole
# bytes. The cell then splits the notebook's own fixed-length file.

# %%
def my_coded_sizes(weights, max_gap):
    ### BEGIN SOLUTION
    def bits(n):  # a fixed-length code for n symbols: ceil(log2 n) bits, at least 1
        return max(1, (n - 1).bit_length())

    sizes = {}
    for name, w in weights.items():
        flat = w.reshape(-1)
        positions = torch.nonzero(flat).reshape(-1).tolist()
        gaps = [p - q - 1 for q, p in zip([-1] + positions[:-1], positions)]
        gap_bits = sum(g // max_gap + 1 for g in gaps) * bits(max_gap + 1)  # as in exercise 1
        codebook = len(torch.unique(flat[flat != 0]))
        sizes[name] = (-(-gap_bits // 8), -(-len(positions) * bits(codebook) // 8))  # rounded up
    return sizes
    ### END SOLUTION


check_coded_sizes(my_coded_sizes)
matrices = {name: w for name, w in plain_weights(student).items() if name.endswith("weight") and w.dim() == 2}
parts = my_coded_sizes(matrices, 64)
gap_bytes, index_bytes = sum(g for g, _ in parts.values()), sum(i for _, i in parts.values())
fixed_file = steps[-1][1]
print("fixed-length file, by layer (gap bytes, index bytes):", parts)
print(f"gaps {gap_bytes:,} bytes and indices {index_bytes:,} bytes of the file's {fixed_file:,}; the rest "
      f"({fixed_file - gap_bytes - index_bytes:,} bytes) is the codebooks, the biases and the header")

# %% [markdown]
# Where the symbols are not equally common, Huffman coding gives the common ones short codes; the file sizes before
# and after, in the table below, say how much that saved here. The file stores only each code's *lengths*, one byte per
# symbol: the **canonical** code is rebuilt from them (`huffman.canonical_code`: sort the symbols by length, then by
# symbol; count up in binary, adding a 0 bit whenever the length grows).

# %%
compressed_path = files / "compressed.lcz"
size = save_compressed(compressed_path, student, CONFIG, coding="huffman")

# Read the file back into a fresh PyTorch model and measure it again: this model, not `student`, is the result.
restored = load_compressed(compressed_path)
x_check = x_test[:256]
assert torch.equal(restored(x_check), student(x_check).detach()), "the file does not give back the same network"
record("+ Huffman coding (the file, read back)", size, restored)

# %% [markdown]
# ### Exercise 3 · Design: a file within a budget
#
# The file above is the notebook's choice: 16 clusters in every layer, then fine-tuned centroids. Suppose the device
# has room for **19,000 bytes** and the application allows at most **2.5% test error**. Starting from the pruned
# network (`pruned`, before any clustering), choose how many clusters each layer gets; the check clusters a copy with
# `cluster_model` (which also takes a dict `{layer: clusters}`, layers `"1.0"`, `"1.1"`, `"3"`, `"5"`), writes it with
# `save_compressed(..., coding="huffman")`, and measures the file and the test error. There is no fine-tuning here.
#
# Write `my_clusters(model, images, labels)`: return a number of clusters, or a dict per layer. Choose with the images
# you are given (5,000 training images the network was fine-tuned on, so they may flatter it), not with the test
# images, which the check uses.

# %%
def my_clusters(model, images, labels):
    ### BEGIN SOLUTION
    fits = {}
    for k in range(4, 17):
        clustered = cluster_model(copy.deepcopy(model), k)
        size = save_compressed(files / "try.lcz", clustered, CONFIG, coding="huffman")
        error = 100 * (1 - evaluate(clustered, images, labels).accuracy)
        print(f"{k:2} clusters per layer: {size:,} bytes, {error:.2f}% error on the given images")
        if size <= 19_000:
            fits[k] = error
    return max(fits)  # the given images flatter every choice: spend the whole budget on clusters
    ### END SOLUTION


check_file_budget(my_clusters, pruned, CONFIG, (x_train[-5000:], y_train[-5000:]), (x_test, y_test))

# %% [markdown]
# **What did you see?** How do the bytes and the errors move with the number of clusters, and what do the given images
# hide?
#
# ### BEGIN SOLUTION
# Each cluster more costs between about 110 and 700 bytes (the printed sizes), yet even with 4 clusters the file takes
# over 16,000 bytes: fewer values shorten only the indices, while the gaps, the biases and the header do not depend on
# the number of clusters. (With fixed-length codes the gaps took 17,833 of the file's 31,001 bytes and the indices
# 10,152, exercise 2; Huffman coding shrinks both, and no line here splits the Huffman-coded file.) On the given images the error falls steeply from 4 clusters (2.98%) to 7 (1.58%), then stays between 1.56
# and 1.76% up to 14 clusters: 1.58% against 1.76% is 9 images of 5,000, so past about 7 values per layer the budget,
# not the accuracy, decides, and the whole budget can go to clusters. The given images flatter the network: it was
# fine-tuned on them, and on the test images (the check's line) the same choice makes more errors (2.40% against
# 1.76%). The notebook's own file, with fine-tuned centroids, is more accurate but misses this budget; fine-tuning the
# centroids of the chosen clustering would be the next step.
# ### END SOLUTION

# %% [markdown]
# ## Every step, against Deep Compression
#
# The ratio is the float32 baseline file's size divided by each step's file size. Deep Compression's numbers are
# **published** (Han et al., 2016, REFERENCES.md), for their own baseline; ours are measured above.

# %%
base_size, base_accuracy = steps[0][1], steps[0][2]
print(f"{'step':<40}{'file bytes':>12}{'ratio':>8}{'test error':>12}")
for step, size, accuracy in steps:
    print(f"{step:<40}{size:>12,}{base_size / size:>7.1f}x{100 * (1 - accuracy):>11.2f}%")
print()
print("published, Deep Compression (Han et al. 2016):")
print(f"{'LeNet-300-100: 1070 KB -> 27 KB':<40}{'':>12}{40:>7.1f}x{'1.64% -> 1.58%':>16}")
print(f"{'LeNet-5:       1720 KB -> 44 KB':<40}{'':>12}{39:>7.1f}x{'0.80% -> 0.74%':>16}")

# %%
final_size, final_accuracy = steps[-1][1], steps[-1][2]
ratio = base_size / final_size
more_error = 100 * (base_accuracy - final_accuracy)
claim("C32", ratio >= 40 and more_error <= 0.5 and all(later[1] <= earlier[1] for earlier, later in zip(steps, steps[1:])),
      f"low rank, distillation, pruning, clustering and Huffman coding together: {ratio:.1f}x smaller than the float32 "
      f"file ({base_size:,} -> {final_size:,} bytes), test error {100 * (1 - base_accuracy):.2f}% -> "
      f"{100 * (1 - final_accuracy):.2f}% ({more_error:+.2f} points)")
for (step, size, accuracy), (_, previous, previous_accuracy) in zip(steps[1:], steps[:-1]):
    print(f"{step:40} file {previous / size:.2f}x smaller than the step before, test error "
          f"{100 * (previous_accuracy - accuracy):+.2f} points")
print(f"our baseline: {100 * (1 - base_accuracy):.2f}% test error; Deep Compression's (published): 1.64%")

fig, ax = plt.subplots(figsize=(7.5, 4.5))
sizes_kb = [size / 1000 for _, size, _ in steps]
errors = [100 * (1 - accuracy) for _, _, accuracy in steps]
ax.plot(sizes_kb, errors, "o-", color="C0", label="this notebook (measured)")
labels = ["baseline", "low rank", "distilled", "pruned", "clustered", "Huffman"]
for i, (label, s, e) in enumerate(zip(labels, sizes_kb, errors)):
    ax.annotate(label, (s, e), textcoords="offset points", xytext=(0, 8 if i % 2 == 0 else -14), ha="center", fontsize=8)
ax.plot([1070, 27], [1.64, 1.58], "s--", color="C1", label="Deep Compression, LeNet-300-100 (published)")
ax.plot([1720, 44], [0.80, 0.74], "^--", color="C2", label="Deep Compression, LeNet-5 (published)")
ax.set_xscale("log")
ax.invert_xaxis()
ax.set_ylim(0.5, max(errors) + 0.4)
ax.set_xlabel("file size (KB, log scale; smaller to the right)")
ax.set_ylabel("test error (%)")
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
ax.set_title("Size against error, one point per step")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the numbers say
#
# - The savings multiply (C32): the lines under the claim check give each step's share of the file and of the error.
#   The low-rank layer cuts the parameters; pruning stores a fraction of what is left; clustering replaces 32-bit values
#   by 4-bit indices; Huffman coding then takes off another part (its line gives our share; Deep Compression's,
#   published: 20-30%).
# - Training the low-rank network on the teacher's soft targets lowers its error (its line above), so pruning and
#   clustering have a margin to spend. One run of each step, and no label-only fine-tuning beside it: how much of that
#   is distillation rather than the extra training is not measured here (notebook 01 measures distillation against
#   labels, with seeds; notebook 09 shows what plain fine-tuning recovers after an SVD).
# - Our baseline makes more errors than the paper's (the last line above; it is trained for the few epochs of
#   `make checkpoints`), so the two lines do not start at the same point; the *ratio* is what compares.
# - Deep Compression's order: prune before clustering (clustering the zeros would waste a centroid on them) and code
#   last. Going further: fewer clusters in the first layer (Deep Compression's fully connected layers held up to 2 bits,
#   published), more pruning rounds with longer fine-tuning, or distilling from a stronger teacher.
#
# Temporary files are removed below.

# %%
import shutil

shutil.rmtree(files)
