# %% [markdown]
# # 05 · Parameter quantization: fewer bits per weight
#
# Covers: C13, C18, C20
#
# The lecture: 32 or 64 bits per parameter are rarely needed; store each one in 16, 8, 6 bits or fewer. Halving the
# bits halves the size, accuracy barely drops, and sometimes it is even slightly better. How far to go is the
# application's decision (C18). And because the course homework limits the *number* of parameters, not bytes,
# quantization does not help there (C20).
#
# We quantize a trained LeNet-300-100 (the network Deep Compression used on MNIST) and measure, for every bit width,
# the stored size in bytes (the codes really packed into bytes and counted) and the test accuracy.
# Expected run time: about 10 s on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%
import io

import matplotlib.pyplot as plt
import torch

from lecture_utils import Spread, claim, count_parameters, evaluate, load_mnist, verdict
from lecture_utils.binary import binarize_trained
from lecture_utils.exercises import check_bit_budget, check_quantize_uniform, check_sqnr
from lecture_utils.quantization import (model_in_dtype, quantization_params, quantize_model, quantize_uniform,
                                        quantized_model_bytes, state_dict_bytes)
from lecture_utils.pretrained import load_teacher
from lecture_utils.widgets import bits_slider

x_test, y_test = load_mnist(train=False)
model, _ = load_teacher("lenet_300_100")
float_bytes = state_dict_bytes(model)
float_accuracy = evaluate(model, x_test, y_test).accuracy
print(f"LeNet-300-100: {count_parameters(model):,} parameters, {float_bytes:,} bytes in float32, "
      f"test accuracy {100 * float_accuracy:.2f}%")

# %% [markdown]
# ## Uniform quantization
#
# With $b$ bits a weight can take $2^b$ values, evenly spaced over the layer's range (which is widened to include 0,
# so that 0 stays exactly 0):
#
# $$\text{scale} = \frac{\max - \min}{2^b - 1}, \quad \text{code} = \text{round}(w / \text{scale}) + \text{zero point}, \quad w' = (\text{code} - \text{zero point}) \cdot \text{scale}$$
#
# Each weight moves by at most half a step. The same formula is PyTorch's `torch.fake_quantize_per_tensor_affine`
# (our tests compare the two). *Per output channel* gives every row of a weight matrix its own scale.

# %%
# NBVAL_CHECK_OUTPUT
w = torch.tensor([-0.4, -0.1, 0.0, 0.25, 0.3, 0.9])
for bits in (1, 2, 3):
    scale, zero_point = quantization_params(w, bits)
    print(f"{bits} bit(s): scale {scale.item():.4f}, levels {2**bits}: {[round(v, 3) for v in quantize_uniform(w, bits).tolist()]}")


# %% [markdown]
# ### Exercise 1 · Quantize a tensor
#
# Write `my_quantize_uniform(weights, bits)` with the formula above (per tensor; include 0 in the range).

# %%
def my_quantize_uniform(weights, bits):
    ### BEGIN SOLUTION
    lo, hi = min(weights.min().item(), 0.0), max(weights.max().item(), 0.0)
    scale = (hi - lo) / (2**bits - 1)
    zero_point = round(-lo / scale)
    codes = torch.clamp(torch.round(weights / scale) + zero_point, 0, 2**bits - 1)
    return (codes - zero_point) * scale
    ### END SOLUTION


check_quantize_uniform(my_quantize_uniform)

# %% [markdown]
# ## Every bit width, measured
#
# For each $b$ from 16 down to 1: the weight matrices as packed $b$-bit codes plus a float32 scale and zero point per
# matrix (or per output channel), the biases in float32. Also the real 16-bit float types of PyTorch.

# %%
rows = [("float32", 32.0, float_bytes, float_accuracy, float_accuracy)]
for dtype in (torch.float16, torch.bfloat16):
    rows.append((str(dtype).replace("torch.", ""), 16.0, state_dict_bytes(model, dtype),
                 evaluate(model_in_dtype(model, dtype), x_test, y_test).accuracy, None))
bit_widths = list(range(16, 0, -1))
per_tensor, per_channel = {}, {}
for bits in bit_widths:
    per_tensor[bits] = evaluate(quantize_model(model, bits), x_test, y_test).accuracy
    per_channel[bits] = evaluate(quantize_model(model, bits, per_channel=True), x_test, y_test).accuracy
    rows.append((f"{bits}-bit uniform", bits, len(quantized_model_bytes(model, bits)), per_tensor[bits], per_channel[bits]))

print(f"{'storage':16} {'bits/weight':>11} {'bytes':>9} {'x smaller':>9} {'acc. per tensor':>16} {'per channel':>12}")
for name, bits, size, acc, acc_channel in rows:
    channel = f"{100 * acc_channel:.2f}%" if acc_channel is not None else "-"
    print(f"{name:16} {bits:>11g} {size:>9,} {float_bytes / size:>9.1f} {100 * acc:>15.2f}% {channel:>12}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3))
ax1.plot(bit_widths, [100 * per_tensor[b] for b in bit_widths], "o-", label="per tensor")
ax1.plot(bit_widths, [100 * per_channel[b] for b in bit_widths], "s--", label="per output channel")
ax1.axhline(100 * float_accuracy, color="gray", ls=":", label="float32")
ax1.set_xlabel("bits per weight")
ax1.set_ylabel("test accuracy (%)")
ax1.set_ylim(0, 100)
ax1.legend()
sizes = [len(quantized_model_bytes(model, b)) for b in bit_widths]
ax2.semilogx(sizes, [100 * per_tensor[b] for b in bit_widths], "o-")
for b, s in zip(bit_widths, sizes):
    if b in (1, 2, 3, 4, 8, 16):
        ax2.annotate(f"{b} b", (s, 100 * per_tensor[b]), textcoords="offset points", xytext=(4, -10), fontsize=8)
ax2.semilogx([float_bytes], [100 * float_accuracy], "k*", label="float32")
ax2.set_xlabel("stored bytes (log scale)")
ax2.set_ylabel("test accuracy (%)")
ax2.set_ylim(0, 100)
ax2.legend()
plt.show()

tolerance = 0.005
fewest = min(b for b in bit_widths if all(per_tensor[c] >= float_accuracy - tolerance for c in range(b, 17)))
better = [b for b in bit_widths if per_tensor[b] > float_accuracy]
print(f"down to {fewest} bits (per tensor) accuracy stays within {100 * tolerance:.1f} points of float32: "
      f"{float_bytes / len(quantized_model_bytes(model, fewest)):.1f}x smaller.")
print(f"below that it falls: {fewest - 1} bits give {100 * per_tensor[fewest - 1]:.2f}%, 1 bit {100 * per_tensor[1]:.2f}%.")
print("above float32, rounding to nearest: " + (", ".join(f"{b} bits ({100 * per_tensor[b]:.2f}%)" for b in better)
                                                 if better else "no bit width"))
f16 = rows[1]  # (name, bits, bytes, accuracy, -)
bytes_8 = len(quantized_model_bytes(model, 8))
claim("C13", f16[2] * 2 == float_bytes and abs(f16[3] - float_accuracy) <= 0.0005
      and per_tensor[8] >= float_accuracy - 0.002,
      f"float16 stores {f16[2]:,} bytes, exactly half of float32's {float_bytes:,}, at {100 * f16[3]:.2f}% "
      f"(float32 {100 * float_accuracy:.2f}%); 8 bits: {float_bytes / bytes_8:.1f}x smaller at "
      f"{100 * per_tensor[8]:.2f}%")

# Some information is always lost (C18): every weight moves, and more as the bits fall.
weight_change = {b: sum((quantize_uniform(p, b) - p).pow(2).sum().item() for name, p in model.named_parameters()
                        if name.endswith("weight")) for b in bit_widths}
claim("C18", all(weight_change[b] > 0 for b in bit_widths)
      and all(weight_change[b] < weight_change[b - 1] for b in bit_widths[:-1]),
      f"the squared change of the weights grows at every step down: {weight_change[16]:.2e} at 16 bits, "
      f"{weight_change[8]:.2e} at 8, {weight_change[4]:.2e} at 4, {weight_change[1]:.2e} at 1; never 0")

# %% [markdown]
# How far to compress is the application's call (C18): every step down loses a little information (the check above),
# and below a few bits the network breaks. Per-channel scales can hold up better at low bit widths, because one row's
# range no longer depends on the largest weight of the whole matrix: compare the two accuracy columns at 2 to 4 bits.
#
# ## "Sometimes even slightly better"?
#
# The line "above float32" lists the bit widths, if any, whose network quantized per tensor and rounded to nearest beat
# float32 on the test set (the per-channel column has its own: compare it with float32's row). Is that
# a gain or luck? Rounding to the nearest level is one particular way to land on the grid; rounding *stochastically*
# (up with probability equal to the fraction of a step, so each weight keeps its value on average: the "noise" of a
# student's question in the lecture) gives a different quantized network for every draw. Ten draws at 6, 5 and 4 bits
# show how far rounding luck alone moves the test errors. Expected run time: about 5 s.

# %%
float_errors = evaluate(model, x_test, y_test).errors
draws = {b: Spread([evaluate(quantize_model(model, b, generator=torch.Generator().manual_seed(s)), x_test, y_test).errors
                    for s in range(10)]) for b in (6, 5, 4)}
print(f"float32: {float_errors} test errors")
for b in better:
    print(f"{b} bits rounded to nearest: {round((1 - per_tensor[b]) * len(y_test))} errors, "
          f"{float_errors - round((1 - per_tensor[b]) * len(y_test))} fewer than float32")
for b, spread in draws.items():
    nearest = round((1 - per_tensor[b]) * len(y_test))
    above = sum(e < float_errors for e in spread.values)
    print(f"{b} bits: rounded to nearest {nearest} errors; 10 stochastic roundings {spread} "
          f"(range {min(spread.values):.0f} to {max(spread.values):.0f}), {above} of 10 with fewer errors than float32; "
          f"against float32: {verdict(spread, float_errors, spread_of='draws')}")

# %% [markdown]
# Read the lines above: how many of the ten roundings at each width beat float32, and whether their average differs
# from float32 beyond their spread. Where some roundings beat float32 by a few images while the verdict says "no
# difference", the lecture's "sometimes slightly better" is rounding noise landing well, not a reliable gain. Compare
# the spreads across widths too: where the spread grows, the noise starts to matter.
#
# ## One bit: why uniform quantization collapses, and what 1 bit can be instead
#
# The 1-bit row above is at chance. With the range widened to include 0, one bit gives two levels: 0 and one step of
# size max - min, on the side of zero that the zero point leaves (the cell at the top shows it on six numbers: 0 and
# 1.3). A step that large is far from almost every weight, so nearly every weight rounds to 0 (the line below counts
# them) and the network is left with its biases. One bit per weight can be kept far better by the **sign**:
# $w' = \alpha\,\mathrm{sign}(w)$, with $\alpha$ the layer's mean $|w|$: BinaryConnect's binarization (notebook 07),
# with one scale per layer.

# %%
sign_accuracy = evaluate(binarize_trained(model), x_test, y_test).accuracy
one_bit = quantize_model(model, 1)
weights = [p for name, p in one_bit.named_parameters() if name.endswith("weight")]
nonzero = sum(int((w != 0).sum()) for w in weights) / sum(w.numel() for w in weights)
print(f"uniform 1 bit: {100 * nonzero:.2f}% of the weights are not 0")
print("1 bit per weight, LeNet-300-100 trained in float, binarized afterwards:")
print(f"  uniform levels (0 and one large step):   {100 * per_tensor[1]:6.2f}%")
print(f"  sign times the layer's mean |w|:          {100 * sign_accuracy:6.2f}%   (float32 {100 * float_accuracy:.2f}%)")

# %% [markdown]
# The sign keeps far more of the network than uniform levels do, yet much is still lost: this network never learned
# to work with binary weights. Notebook 07 trains with them from the start (BinaryConnect), on another network, and
# measures how close to float one bit per weight gets there.
#
# ### Move the bits
#
# The slider quantizes every weight matrix to the chosen number of bits and shows the histogram of the first layer's
# weights with the levels they are rounded to (drawn up to 6 bits), the test accuracy and the stored size.

# %%
# NBVAL_IGNORE_OUTPUT
bits_slider(model, "1", x_test, y_test, bits=3)

# %% [markdown]
# ### Exercise 2 · How much noise does rounding add?
#
# Rounding moves each weight by at most half a step $\Delta$; if the weights fall anywhere within their steps, the
# error is spread evenly over $[-\Delta/2, \Delta/2]$. Work out the mean square of such an error, then write
# `my_sqnr_db(weights, bits)`: the signal-to-quantization-noise ratio it predicts, in decibels,
# $10 \log_{10}(\text{mean}(w^2) / \text{noise})$, with noise that mean square and $\Delta$ the scale of the formula
# above (per tensor, the range widened to include 0). The cell then sets it beside the noise that quantizing the
# first layer really adds.

# %%
def my_sqnr_db(weights, bits):
    ### BEGIN SOLUTION
    lo, hi = min(weights.min().item(), 0.0), max(weights.max().item(), 0.0)
    step = (hi - lo) / (2**bits - 1)
    signal = weights.double().pow(2).mean()
    return (10 * torch.log10(signal / (step**2 / 12))).item()
    ### END SOLUTION


check_sqnr(my_sqnr_db)
layer = model[1].weight.detach()
print(f"first layer, {layer.numel():,} weights: signal-to-noise ratio (dB), your prediction and the measurement")
print(f"{'bits':>4} {'predicted':>10} {'measured':>9} {'weights rounded to 0':>21}")
measured_db = {}
for bits in range(1, 9):
    rounded = quantize_uniform(layer, bits)
    noise = (rounded - layer).double().pow(2).mean()
    measured_db[bits] = (10 * torch.log10(layer.double().pow(2).mean() / noise)).item()
    print(f"{bits:>4} {my_sqnr_db(layer, bits):>10.2f} {measured_db[bits]:>9.2f} {(rounded == 0).double().mean().item():>21.1%}")
print(f"from 4 to 8 bits: {(measured_db[8] - measured_db[4]) / 4:.2f} dB per bit measured, "
      f"{(my_sqnr_db(layer, 8) - my_sqnr_db(layer, 4)) / 4:.2f} predicted")

# %% [markdown]
# From 4 bits up, the evenly-spread model of the rounding error and the measurement agree to within a few hundredths
# of a decibel, and each bit adds about 6 dB: one more bit halves the step, which divides the noise's mean square by
# four ($10 \log_{10} 4 \approx 6.02$; the slope is a little above it because the step divides the range by
# $2^b - 1$). At 1 and 2 bits the model fails: most weights round to the level 0 (the last column), so the error of
# each is the weight itself rather than a spread over a step. Since 0 is always a level, no weight moves by more than
# its own size, so the measured ratio is never below 0 dB, while the model goes negative; at 1 bit the measurement is 0
# dB, the noise as large as the signal. The one-bit section above shows what that does to accuracy.

# %% [markdown]
# ### Exercise 3 · Design: bits per layer for a byte budget
#
# How far to compress is the application's decision (C18). Here the device has room for **110,000 bytes** of
# LeNet-300-100 (packed codes, scales and zero points, float32 biases: `quantized_model_bytes`, counted with `len`),
# and the application allows at most **0.3 points** of test accuracy below float32. One bit width for every layer
# does not have to be the answer: `quantize_model` and `quantized_model_bytes` also take a dict `{layer: bits}`, one
# width per weight matrix (`"1"`: 784 x 300, `"3"`: 300 x 100, `"5"`: 100 x 10), and `per_channel=True`.
#
# Write `my_bit_widths(model, images, labels)`: return a pair `(bits, per_channel)`. Choose with the images you are
# given (5,000 training images, which the network has seen, so they may flatter it), not with the test images, which
# the check uses to measure your choice.

# %%
x_train, y_train = load_mnist(train=True)


def my_bit_widths(model, images, labels):
    ### BEGIN SOLUTION
    full = evaluate(model, images, labels).accuracy
    tried = {}
    for first in (2, 3, 4):
        for middle in (3, 4, 8):
            for last in (4, 8):
                for per_channel in (False, True):
                    bits = {"1": first, "3": middle, "5": last}
                    size = len(quantized_model_bytes(model, bits, per_channel))
                    if size <= 110_000:
                        lost = full - evaluate(quantize_model(model, bits, per_channel), images, labels).accuracy
                        tried[(first, middle, last, per_channel)] = (100 * lost, size)
    for choice, (lost, size) in sorted(tried.items(), key=lambda item: item[1]):
        print(f"bits {choice[:3]}, per channel {choice[3]!s:5}: {size:,} bytes, {lost:+.2f} points lost on the given images")
    first, middle, last, per_channel = min(tried, key=tried.get)  # within the budget, the least lost here
    return {"1": first, "3": middle, "5": last}, per_channel
    ### END SOLUTION


check_bit_budget(my_bit_widths, model, (x_train[-5000:], y_train[-5000:]), (x_test, y_test))

# %% [markdown]
# **What did you see?** Where do the bytes go, and what buys accuracy back cheaply?
#
# ### BEGIN SOLUTION
# The first layer holds 784 x 300 = 235,200 of the 266,200 weights, so its width decides the bytes: at 4 bits the whole network
# already takes 134,764 bytes (the table of every bit width), over the budget, and at 2 bits it fits easily but loses
# from about 2.6 points (per channel) to over 30 (per tensor) on the given images. So the first layer gets 3 bits,
# and the question is how to spend what is left. One width for all layers misses the goal: 3 bits everywhere lose
# 0.92 points per tensor and 0.33 per channel on the test set (the same table; 0.33 misses the 0.3 by three test
# images). Per-channel scales are what buys the accuracy back (about 0.6 points lost per tensor, within about 0.1 per
# channel, on the given images), and bits in the small layers are cheap: one more in the middle layer costs 3,750
# bytes (104,870 against 108,620 in the printed list), 8 bits instead of 4 in the last layer 500. Which of the per-channel choices is best is within a
# few images here; the check's line says what the test images make of the one chosen.
# ### END SOLUTION

# %% [markdown]
# ## The same with a real library: torchao
#
# `torch.ao.quantization` is deprecated in current PyTorch; its successor is [torchao](https://github.com/pytorch/ao).
# Its int8 weight-only quantization stores each weight in 8 bits with a scale per output channel.

# %%
import copy
import logging
import warnings

logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)  # a deprecation notice torchao triggers
try:
    from torchao.quantization import Int8WeightOnlyConfig, quantize_
except Exception as exc:  # not installed, or built for another PyTorch
    print(f"torchao is not available here ({type(exc).__name__}: {exc}); the rest of the notebook does not need it.")
else:
    ao_model = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_(ao_model, Int8WeightOnlyConfig())
        buffer = io.BytesIO()
        torch.save(ao_model.state_dict(), buffer)
        ao_accuracy = evaluate(ao_model, x_test, y_test).accuracy
    ours = len(quantized_model_bytes(model, 8, per_channel=True))
    float_file = io.BytesIO()
    torch.save(model.state_dict(), float_file)
    print(f"{'':32} {'bytes':>9} {'test accuracy':>14}")
    print(f"{'float32 (torch.save file)':32} {len(float_file.getvalue()):>9,} {100 * float_accuracy:>13.2f}%")
    print(f"{'torchao int8 (torch.save file)':32} {len(buffer.getvalue()):>9,} {100 * ao_accuracy:>13.2f}%")
    print(f"{'ours, 8 bits per channel (packed)':32} {ours:>9,} {100 * per_channel[8]:>13.2f}%")

# %% [markdown]
# (torchao's file also holds PyTorch's serialization overhead; the numbers that matter agree: a quarter of the size,
# and accuracies within a few hundredths of a point of float32's, one run each, as printed.)
#
# ## C20 · Quantization does not change the number of parameters

# %%
# NBVAL_CHECK_OUTPUT
before, after = count_parameters(model), count_parameters(quantize_model(model, 4))
claim("C20", before == after == 266_610 and len(quantized_model_bytes(model, 4)) < float_bytes / 7,
      f"parameters before: {before:,}; after 4-bit quantization: {after:,}, while the bytes fall from "
      f"{float_bytes:,} to {len(quantized_model_bytes(model, 4)):,}")

# %% [markdown]
# The bytes shrink, the count does not: a homework that limits the number of parameters (100,000 in the course's
# assignment) is not helped by quantization. It needs a smaller architecture (notebooks 08 and 09).
