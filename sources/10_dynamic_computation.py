# %% [markdown]
# # 10 · Dynamic computation
#
# Covers: C28, C29, C30, C31
#
# The lecture's last part: one network that adjusts its computation to the resources at hand (a phone, a server, a
# low battery) without retraining, and without storing one network per budget (C28). Two ways: **dynamic depth**, an
# extra classifier ("exit") after each block, trained by summing the cross-entropy of every exit (C29); and
# **dynamic width**, one network run at several widths with shared weights (C30). Finally the network can **decide**
# its own depth per image: easy images stop early, hard ones go to the last layer (C31).
#
# Computation is counted as multiply-accumulates (MACs) by PyTorch's `FlopCounterMode`.
# Expected run time: about 50 s on a laptop CPU.

# %%
# %matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile

# %%

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from lecture_utils import balanced_subset, count_parameters, fit, load_mnist, make_loader, seed_everything
from lecture_utils import claim, train_val_split
from lecture_utils.dynamic import (EarlyExitNet, SlimmableMLP, early_exit_predict, exit_table, sum_of_exit_losses)
from lecture_utils.exercises import check_first_confident_exit, check_sum_of_exit_losses
from lecture_utils.widgets import ExitBudget, ThresholdSlider

x_train, y_train = load_mnist(train=True)
x_test, y_test = load_mnist(train=False)
(x_rest, y_rest), (x_val, y_val) = train_val_split(x_train, y_train, val_size=P.dynamic_val_size, seed=setup.seed)
x_small, y_small = balanced_subset(x_rest, y_rest, P.exit_size, seed=setup.seed)
print(f"training on {len(y_small):,} images; {len(y_val):,} held out for choosing the threshold")

# %% [markdown]
# ## Dynamic depth (C29): an exit after every block
#
# Four convolution blocks, widening as they go, each followed by a small classifier. Trained, as the lecture says, by
# summing the cross-entropy of every exit against the label. Expected run time: about 25 s.

# %%
seed_everything(setup.seed)
net = EarlyExitNet()
fit(net, make_loader(x_small, y_small, seed=setup.seed), sum_of_exit_losses, epochs=P.exit_epochs, lr=3e-3,
    name="all exits trained")
net.eval()
macs = net.exit_macs()
with torch.no_grad():
    test_probs = [torch.softmax(z, dim=1) for z in net(x_test)]
    val_probs = [torch.softmax(z, dim=1) for z in net(x_val)]
exit_accuracy = [(p.argmax(1) == y_test).double().mean().item() for p in test_probs]
print(f"{count_parameters(net):,} parameters")
print(f"{'exit':>4} {'MACs per image':>15} {'share of all':>13} {'test accuracy':>14}")
for k in range(net.num_exits):
    print(f"{k + 1:>4} {macs[k]:>15,} {100 * macs[k] / macs[-1]:>12.0f}% {100 * exit_accuracy[k]:>13.2f}%")
claim("C29", all(a < b for a, b in zip(exit_accuracy, exit_accuracy[1:])) and exit_accuracy[0] > 0.5,
      "one network trained by summing every exit's cross-entropy answers from each exit: "
      + ", ".join(f"exit {k + 1} {100 * a:.2f}% at {100 * m / macs[-1]:.0f}% of the MACs"
                  for k, (a, m) in enumerate(zip(exit_accuracy, macs))))

# %% [markdown]
# With few resources, answer from an early exit. The budget control runs nothing again: it shows what each exit
# costs and how accurate it is.

# %%
# NBVAL_IGNORE_OUTPUT
ExitBudget(exit_accuracy, macs)


# %% [markdown]
# ### Exercise 1 · The loss of a network with exits
#
# Write `my_sum_of_exit_losses(outputs, labels)`: `outputs` is the list of every exit's logits.

# %%
def my_sum_of_exit_losses(outputs, labels):
    ### BEGIN SOLUTION
    return sum(F.cross_entropy(logits, labels) for logits in outputs)
    ### END SOLUTION


check_sum_of_exit_losses(my_sum_of_exit_losses)

# %% [markdown]
# ### Or: train the last exit only, attach the early classifiers afterwards
#
# The same network trained on its last exit alone; then, with the blocks frozen, the early classifiers are trained on
# the features it learned. Expected run time: about 25 s.

# %%
seed_everything(setup.seed)
late = EarlyExitNet()
fit(late, make_loader(x_small, y_small, seed=setup.seed), lambda outputs, y: F.cross_entropy(outputs[-1], y),
    epochs=P.exit_epochs, lr=3e-3, name="last exit only")
for p in late.blocks.parameters():
    p.requires_grad_(False)
for m in late.blocks.modules():  # keep the frozen blocks' batch-norm statistics as they are (fit puts the model in
    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):  # training mode every epoch: momentum 0 leaves them unchanged)
        m.momentum = 0.0
fit(late, make_loader(x_small, y_small, seed=setup.seed), lambda outputs, y: sum_of_exit_losses(outputs[:-1], y),
    epochs=P.attached_exit_epochs, lr=3e-3, name="early exits attached afterwards")
late.eval()
with torch.no_grad():
    late_accuracy = [(z.argmax(1) == y_test).double().mean().item() for z in late(x_test)]
print(f"{'exit':>4} {'trained together':>17} {'attached afterwards':>20}")
for k in range(net.num_exits):
    print(f"{k + 1:>4} {100 * exit_accuracy[k]:>16.2f}% {100 * late_accuracy[k]:>19.2f}%")

# %% [markdown]
# One seed each, and the attached exits trained for `P.attached_exit_epochs` epochs against `P.exit_epochs`: this table
# does not show which way is better (issue for a later version: seeds and equal epochs). The lecture's reason to call
# training together "not the best way": the early blocks must serve two masters, features good for their own
# classifier *and* for the deeper blocks. MSDNet (Huang et al. 2018) keeps features at
# several scales so that early classifiers get coarse, classifier-ready features without spoiling later ones.
#
# ## C28 · One dynamic network against one network per budget

# %%
separate = []
for k in range(net.num_exits):  # a network that stops after block k, with its own classifier
    one = EarlyExitNet()
    separate.append(count_parameters(one.blocks[: k + 1]) + count_parameters(one.exits[k]))
print(f"one network per budget: {' + '.join(f'{s:,}' for s in separate)} = {sum(separate):,} parameters "
      f"({4 * sum(separate):,} bytes in float32), and {net.num_exits} trainings")
print(f"one dynamic network:    {count_parameters(net):,} parameters ({4 * count_parameters(net):,} bytes), one training")

# %% [markdown]
# ## C31 · The network decides: stop at the first confident exit
#
# Each image goes through the blocks until an exit's largest softmax probability reaches a threshold. Confident
# images stop early; the others go on. Every exit's output on the test images is computed once above, so moving the slider
# only re-decides where each image stops.

# %%
# NBVAL_IGNORE_OUTPUT
ThresholdSlider(test_probs, y_test, macs, threshold=0.9)

# %% [markdown]
# ### Choosing the threshold, on the validation split
#
# The smallest threshold (the most savings) whose validation accuracy is within 0.05 points of always using the last
# exit. Then, once, on the test set:

# %%
last_val = (val_probs[-1].argmax(1) == y_val).double().mean().item()
candidates = [t / 200 for t in range(100, 201)]
chosen = min(t for t in candidates if (exit_table(val_probs, t)[0] == y_val).double().mean().item() >= last_val - 0.0005)
predictions, exits = early_exit_predict(net, x_test, chosen)  # the real thing: undecided images go on, the rest stop
assert torch.equal((predictions, exits)[1], exit_table(test_probs, chosen)[1])
accuracy = (predictions == y_test).double().mean().item()
average_macs = torch.tensor(macs, dtype=torch.double)[exits].mean().item()
saving = 1 - average_macs / macs[-1]
loss = 100 * (exit_accuracy[-1] - accuracy)
print(f"threshold chosen on validation: {chosen:.3f}")
print(f"test: accuracy {100 * accuracy:.2f}% (always the last exit: {100 * exit_accuracy[-1]:.2f}%, {loss:+.2f} points lost), "
      f"{average_macs:,.0f} MACs per image on average instead of {macs[-1]:,}: {100 * saving:.0f}% saved")
print(f"images leaving at each exit: {torch.bincount(exits, minlength=net.num_exits).tolist()}")
claim("C31", saving >= 0.50 and loss <= 0.30,
      f"each image stops at the first exit confident beyond {chosen:.3f} (chosen on validation): "
      f"{100 * saving:.0f}% of the multiply-accumulates saved while test accuracy moves by {-loss:+.2f} points "
      f"({100 * accuracy:.2f}% against {100 * exit_accuracy[-1]:.2f}% always at the last exit); "
      f"{torch.bincount(exits, minlength=net.num_exits).tolist()} images leave at exits 1-{net.num_exits}")

# %%
# The easiest: the most confident at the first exit. The hardest: of the images that went to the last exit, those on
# which the network stays least sure there (lowest top probability at the last exit): its own uncertainty picks them.
confidence_first, confidence_last = test_probs[0].max(1).values, test_probs[-1].max(1).values
easy = torch.nonzero(exits == 0).flatten()
easy = easy[confidence_first[easy].argsort(descending=True)][:6]
hard = torch.nonzero(exits == net.num_exits - 1).flatten()
hard = hard[confidence_last[hard].argsort()][:6]
fig, axes = plt.subplots(2, 6, figsize=(8, 3.2))
for row, (indices, label) in enumerate([(easy, "exit 1"), (hard, f"exit {net.num_exits}")]):
    for ax, i in zip(axes[row], indices.tolist()):
        ax.imshow(x_test[i, 0], cmap="gray_r")
        ax.set_title(f"{label}: {predictions[i].item()}", fontsize=9,
                     color="tab:green" if predictions[i] == y_test[i] else "tab:red")
        ax.axis("off")
fig.suptitle("the most confident images at exit 1 (top); the least confident at the last exit (bottom)", fontsize=10)
plt.show()


# %% [markdown]
# BranchyNet (Teerapittayanon et al. 2016, published) took side exits when the prediction was confident and reported
# faster inference on MNIST and CIFAR-10 at equal or better accuracy; ours is the same idea, measured in
# multiply-accumulates rather than time, on a 4-block CNN trained on a subset of MNIST.
#
# ### Exercise 2 · Which exit?
#
# Write `my_first_confident_exit(confidences, threshold)`: `confidences` is `(exits, images)`, each entry the largest
# softmax probability of that exit for that image. Return, per image, the index of the first exit whose confidence
# is at least the threshold, or the last exit if none is.

# %%
def my_first_confident_exit(confidences, threshold):
    ### BEGIN SOLUTION
    passes = confidences >= threshold
    passes[-1] = True  # the last exit always answers
    return passes.long().argmax(dim=0)  # argmax returns the first maximum: the first passing exit
    ### END SOLUTION


check_first_confident_exit(my_first_confident_exit)

# %% [markdown]
# ## C30 · Dynamic width, and the batch-norm problem
#
# An MLP with two hidden layers of 256 units that can run at 25%, 50%, 75% or 100% of its units; the first units are
# the ones kept (decided in advance), the weights are shared, and training sums the losses of every width. With **one
# shared set of batch-normalisation statistics**, the running means and variances are a mix of every width's, and the
# widths unlike the mix pay for it (the table says which, one seed each); Slimmable Networks (Yu et al. 2019) give
# **each width its own** (switchable batch norm).
# Expected run time: about 15 s.

# %%
slim = {}
for switchable in (False, True):
    seed_everything(setup.seed)
    model = SlimmableMLP(hidden=256, switchable_bn=switchable)
    fit(model, make_loader(x_small, y_small, seed=setup.seed), lambda outputs, y: sum(F.cross_entropy(z, y) for z in outputs),
        epochs=P.slimmable_epochs, lr=3e-3, name=f"{'switchable' if switchable else 'shared'} batch norm")
    model.eval()
    with torch.no_grad():
        slim[switchable] = [(model.forward_width(x_test, w).argmax(1) == y_test).double().mean().item() for w in model.widths]
width_macs = model.width_macs()
print(f"{'width':>6} {'MACs per image':>15} {'shared BN':>10} {'switchable BN':>14}")
for w, m, a, b in zip(model.widths, width_macs, slim[False], slim[True]):
    print(f"{100 * w:>5.0f}% {m:>15,} {100 * a:>9.2f}% {100 * b:>13.2f}%")
assert min(slim[True]) > min(slim[False])  # the shared statistics hurt some width; switchable ones fix it
