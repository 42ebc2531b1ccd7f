"""Several seeds of one network trained together, by the one training loop.

A claim about a recipe needs the recipe run with several seeds (see ``lecture_utils.evidence``).
For small networks, one after another wastes the machine: each step is a few tiny matrix
products. ``SeedStack`` holds the copies' weights stacked along a new first dimension
(``torch.func.stack_module_state``) and runs every copy on the same batch in one call
(``torch.func.vmap`` over ``torch.func.functional_call``)::

    stack = SeedStack.from_builder(lambda: MLP(hidden=(30, 30)), seeds=[0, 1, 2])
    fit(stack, loader, stacked_loss(F.cross_entropy), epochs=5)   # the same fit as always
    errors = Spread([evaluate(m, test_x, test_y).errors for m in stack.unstack()])

Why this is the same as training them one after another: the stacked loss is the sum of the
copies' losses, and copy k's weights appear only in copy k's loss, so the gradient on copy k's
slice is exactly copy k's own gradient. Adam and SGD update each number from its own gradient
(and its own moments), so each slice takes the steps it would have taken alone.

What the copies share: the loader, so every copy sees the same batches in the same order, and
``fit``'s ``seed`` (jitter). The seeds vary the starting weights (and, with dropout, the masks:
each copy draws its own), so the spread over a stack is the spread due to initialisation.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


def _architecture_mismatch(first: nn.Module, other: nn.Module) -> str | None:
    """Why ``other`` cannot be stacked with ``first``, or None when it can."""
    if repr(first) != repr(other):
        lines = [(a, b) for a, b in zip(repr(first).splitlines(), repr(other).splitlines()) if a != b]
        where = f"first difference: {lines[0][0].strip()!r} vs {lines[0][1].strip()!r}" if lines else "different depth"
        return f"different layers ({where})"
    for kind, a, b in (("parameters", first.named_parameters(), other.named_parameters()),
                       ("buffers", first.named_buffers(), other.named_buffers())):
        shapes_a = [(n, tuple(t.shape), t.dtype, t.device) for n, t in a]
        shapes_b = [(n, tuple(t.shape), t.dtype, t.device) for n, t in b]
        if shapes_a != shapes_b:
            diff = next((f"{x} vs {y}" for x, y in zip(shapes_a, shapes_b) if x != y),
                        f"{len(shapes_a)} vs {len(shapes_b)} tensors")
            return f"different {kind} (name, shape, dtype, device): {diff}"
    return None


class SeedStack(nn.Module):
    """Copies of one architecture (different seeds) as one module that ``fit`` trains at once.

    ``SeedStack(models)`` takes networks of the same architecture; their weights and buffers
    are copied into stacked tensors (the stack owns them; the networks given are left as they
    were). ``forward(x)`` runs every copy on the same batch and returns ``(copies, batch,
    ...)``: logits ``(copies, batch, classes)`` for a classifier. Train it with
    ``fit(stack, loader, stacked_loss(loss_fn), ...)``, then take the trained networks back
    with ``unstack()``, ordinary modules for ``evaluate`` and ``predict_logits`` (which expect
    one network, so give them the unstacked copies, not the stack).

    Batch norm works (each copy keeps its own running statistics, updated in place under
    vmap) except with ``momentum=None`` (a cumulative average, which reads the batch count
    as a Python number: refused with a ValueError). Dropout draws a separate mask per copy
    (vmap's ``randomness="different"``), so a stack with dropout trains correctly but not
    bit-for-bit like the same networks trained one after another; without dropout it does,
    up to float rounding. (Rounding differs in a stack, and Adam scales a gradient that should
    be 0, such as a bias just before batch norm, up to full steps: such a weight drifts apart.)

    ``fit``'s ``after_step`` hooks that look for layers (BinaryConnect's ``clip_weights`` looks
    for ``BinaryLinear``) find none in a stack and silently do nothing: train such recipes one
    network at a time.
    """

    def __init__(self, models: Sequence[nn.Module], seeds: Sequence[int] | None = None):
        super().__init__()
        models = list(models)
        if not models or not all(isinstance(m, nn.Module) for m in models):
            raise TypeError(f"SeedStack needs a non-empty list of networks (nn.Module), got {models!r}")
        for i, other in enumerate(models[1:], start=1):
            why = _architecture_mismatch(models[0], other)
            if why:
                raise ValueError(f"SeedStack needs networks of one architecture; network {i} differs from "
                                 f"network 0: {why}")
        for name, module in models[0].named_modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats \
                    and module.momentum is None:
                raise ValueError(
                    f"SeedStack cannot train batch norm layer {name!r} with momentum=None: its cumulative "
                    "average divides by the batch count as a Python number, which vmap cannot read per copy. "
                    "Give the layer a momentum (the default 0.1), or train the networks one at a time."
                )
        if seeds is not None and len(seeds) != len(models):
            raise ValueError(f"{len(seeds)} seeds for {len(models)} networks")
        self.seeds = list(seeds) if seeds is not None else None
        self._copies = len(models)
        params, buffers = stack_module_state(models)
        self._param_names, self._buffer_names = list(params), list(buffers)
        # Parameter and buffer names cannot contain dots: "1.weight" is registered as "1__weight".
        keys = [n.replace(".", "__") for n in self._param_names + self._buffer_names]
        if len(set(keys)) != len(keys):
            raise ValueError(f"SeedStack cannot name the stacked tensors uniquely: {keys}")
        for name, key in zip(self._param_names, keys):
            self.register_parameter(key, nn.Parameter(params[name].detach().clone()))
        for name, key in zip(self._buffer_names, keys[len(self._param_names):]):
            self.register_buffer(key, buffers[name].detach().clone())
        # The architecture without weights ("meta" tensors take no memory), kept outside the
        # module's children so that parameters(), state_dict() and .to() see only the stacked tensors.
        object.__setattr__(self, "_base", copy.deepcopy(models[0]).to("meta"))

    @classmethod
    def from_builder(cls, build: Callable[[], nn.Module], seeds: Iterable[int]) -> "SeedStack":
        """``torch.manual_seed(seed)`` then ``build()``, for each seed: the same networks as
        building them one after another with those seeds."""
        seeds = list(seeds)
        models = []
        for seed in seeds:
            torch.manual_seed(seed)
            models.append(build())
        return cls(models, seeds)

    def __len__(self) -> int:
        """The number of copies."""
        return self._copies

    def _stacked(self, names: list[str]) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name.replace(".", "__")) for name in names}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every copy on the same batch ``x``: outputs stacked as ``(copies, batch, ...)``."""
        self._base.train(self.training)  # dropout and batch norm follow the stack's mode
        params = self._stacked(self._param_names)
        buffers = self._stacked(self._buffer_names)

        def one_copy(p, b, inputs):
            return functional_call(self._base, (p, b), (inputs,))

        return vmap(one_copy, in_dims=(0, 0, None), randomness="different")(params, buffers, x)

    @torch.no_grad()
    def unstack(self) -> list[nn.Module]:
        """The copies as ordinary networks (in eval mode, on the stack's device), each holding
        its slice of the stacked weights and buffers."""
        stacked = {**self._stacked(self._param_names), **self._stacked(self._buffer_names)}
        device = next(iter(stacked.values())).device
        models = []
        for k in range(len(self)):
            model = copy.deepcopy(self._base).to_empty(device=device)
            # The same names stack_module_state stacked (tied weights once, non-persistent buffers too).
            for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
                tensor.copy_(stacked[name][k])
            models.append(model.eval())
        return models

    def extra_repr(self) -> str:
        seeds = f", seeds {self.seeds}" if self.seeds is not None else ""
        return f"{len(self)} copies{seeds} of\n{self._base!r}"


def _per_copy(outputs) -> list:
    """A stack's outputs split into one output per copy: a tensor ``(copies, batch, ...)`` into its
    slices; a tuple or list of them (a network returning ``(logits, [hints])``) into one such tuple
    per copy, each element sliced alike."""
    if isinstance(outputs, torch.Tensor):
        if outputs.dim() < 2:
            raise ValueError(f"stacked_loss expects outputs of shape (copies, batch, ...) from a SeedStack, "
                             f"got shape {tuple(outputs.shape)}")
        return list(outputs.unbind(0))
    if isinstance(outputs, (tuple, list)) and outputs:
        return [type(outputs)(parts) for parts in zip(*(_per_copy(o) for o in outputs))]
    raise TypeError(f"stacked_loss expects a SeedStack's outputs (a tensor, or a tuple or list of them), "
                    f"got {type(outputs).__name__}")


def stacked_loss(loss_fn) -> Callable[..., torch.Tensor]:
    """Turn a loss for one network, ``loss_fn(logits, *targets)``, into one for a ``SeedStack``:
    the sum over the copies of ``loss_fn(stacked_logits[k], *targets)``, every copy judged on the
    same targets (labels, a teacher's logits...). A network that returns a tuple (FitNets'
    ``HintStudent``: logits and hints) gives ``loss_fn`` its own tuple, sliced for copy k.

    ``loss_fn`` may also be a list with one loss per copy: copy k is then trained with
    ``loss_fn[k]``, so different recipes (labels, distillation, ...) train in one stack, each on
    what the loader hands every copy (use ``train_recipes``, which builds that list).

    The sum, not the mean: the gradient on each copy is then exactly its own loss's gradient
    (SGD's steps scale with it). The loss ``fit`` reports is therefore the sum over the copies.
    """
    per_copy = list(loss_fn) if isinstance(loss_fn, (list, tuple)) else None
    if per_copy is not None and not all(callable(f) for f in per_copy):
        raise TypeError(f"stacked_loss needs a loss function or a list of them, one per copy, got {loss_fn!r}")

    def loss(stacked_outputs, *targets: torch.Tensor) -> torch.Tensor:
        copies = _per_copy(stacked_outputs)
        if per_copy is not None and len(per_copy) != len(copies):
            raise ValueError(f"stacked_loss was given {len(per_copy)} losses for a stack of {len(copies)} copies")
        losses = per_copy or [loss_fn] * len(copies)
        return torch.stack([f(logits, *targets) for f, logits in zip(losses, copies)]).sum()

    name = "recipes" if per_copy is not None else getattr(loss_fn, "__name__", "loss")
    loss.__name__ = f"stacked_{name}"
    loss.__qualname__ = loss.__name__
    return loss


def train_recipes(build: Callable[[], nn.Module], recipes: Mapping[str, Callable[..., torch.Tensor]],
                  seeds: Sequence[int], loader, **fit_kwargs) -> dict[str, list[nn.Module]]:
    """Train every recipe with every seed, all in one ``SeedStack``, by ``fit``.

    ``recipes`` maps a name to a loss ``loss(logits, *targets)`` for one network, where
    ``targets`` is everything the loader hands out after the inputs (so a recipe on labels
    ignores a teacher's logits it does not need). Copy (recipe r, seed s) starts from
    ``torch.manual_seed(s); build()``, so every recipe starts from the same weights for a
    given seed: the comparison differs only in the loss. Returns ``{name: [network per seed]}``.
    ``fit_kwargs`` go to ``fit`` (epochs, lr, optimizer, ...).
    """
    from .training import fit  # here: training imports nothing from seeds, and stays that way

    names, seeds = list(recipes), list(seeds)
    if not names or not seeds:
        raise ValueError(f"train_recipes needs at least one recipe and one seed, got {names} and {seeds}")
    stack = SeedStack.from_builder(build, [s for _ in names for s in seeds])
    fit_kwargs.setdefault("name", f"{len(names)} recipes x {len(seeds)} seeds")
    fit(stack, loader, stacked_loss([recipes[n] for n in names for _ in seeds]), **fit_kwargs)
    trained = stack.unstack()
    return {n: trained[i * len(seeds):(i + 1) * len(seeds)] for i, n in enumerate(names)}
