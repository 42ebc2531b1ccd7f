"""Notebook 11's pieces: pruning, the canonical Huffman code, and the compact file format."""
import copy

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from lecture_utils.architecture import low_rank_factorize
from lecture_utils.clustering import cluster_model
from lecture_utils.deep_compression import (CompressedFileError, gaps_with_escape, kept_fraction, load_compressed,
                                       make_pruning_permanent, positions_from_gaps, prune_to, save_compressed)
from lecture_utils.exercises import ExerciseError, check_coded_sizes, check_gap_bits
from lecture_utils.huffman import average_code_length, canonical_code, huffman_code, kraft_sum
from lecture_utils.measure import fixed_length_bits
from lecture_utils.models import MLP, build_model

CONFIG = {"arch": "mlp", "hidden": [30, 20], "ranks": [8, 0, 0]}
X = torch.randn(7, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def pruned_model(seed=0):
    torch.manual_seed(seed)
    model = build_model(**CONFIG)
    prune_to(model, {"1.0": 0.5, "1.1": 0.5, "3": 0.3, "5": 0.8})
    prune_to(model, {"1.0": 0.2, "1.1": 0.25, "3": 0.1, "5": 0.5})
    return make_pruning_permanent(model)


def test_low_rank_mlp_takes_the_weights_of_low_rank_factorize():
    dense = MLP(hidden=(30, 20))
    factorized = copy.deepcopy(dense)
    factorized[1] = low_rank_factorize(dense[1], 8)
    rebuilt = build_model(**CONFIG)
    rebuilt.load_state_dict(factorized.state_dict())  # same names and shapes
    assert torch.equal(rebuilt(X), factorized(X))
    with pytest.raises(ValueError, match="one entry per linear layer"):
        MLP(hidden=(30, 20), ranks=(8, 0))
    with pytest.raises(ValueError, match="rank of layer 0"):
        MLP(hidden=(30, 20), ranks=(31, 0, 0))


def test_prune_to_keeps_the_largest_weights_and_pruned_stay_pruned():
    torch.manual_seed(0)
    model = build_model(**CONFIG)
    original = model[3].weight.detach().clone()
    prune_to(model, {"3": 0.5})
    kept = model[3].weight != 0
    assert kept.sum() == 300
    assert original.abs()[kept].min() >= original.abs()[~kept].max()  # magnitude pruning
    prune_to(model, {"3": 0.1})
    assert (model[3].weight != 0).sum() == 60
    assert not ((model[3].weight != 0) & ~kept).any()
    # fine-tuning never revives a pruned weight: the mask multiplies the weight
    loss = model(X).sum()
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    assert (model[3].weight != 0).sum() == 60
    make_pruning_permanent(model)
    assert kept_fraction(model)["3"] == pytest.approx(0.1)
    assert not hasattr(model[3], "weight_mask")


@pytest.mark.parametrize("keep,match", [({"9": 0.5}, "no layer '9'"), ({"3": 0.0}, r"\(0, 1\]"), ({"3": 1.5}, r"\(0, 1\]")])
def test_prune_to_refuses_bad_input(keep, match):
    with pytest.raises(ValueError, match=match):
        prune_to(build_model(**CONFIG), keep)


def test_clustering_a_pruned_model_keeps_its_zeros():
    model = pruned_model()
    zeros = {name: (w == 0) for name, w in model.state_dict().items() if name.endswith("weight")}
    cluster_model(model, 4)
    torch.optim.SGD(model.parameters(), lr=1.0).zero_grad()
    model(X).sum().backward()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0).step()
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            w = module.weight
            assert torch.equal(w == 0, zeros[f"{name}.weight"]), name
            assert torch.unique(w[w != 0]).numel() <= 4


@given(st.lists(st.integers(0, 400), unique=True, max_size=60), st.integers(1, 20))
@settings(max_examples=200, deadline=None)
def test_gaps_round_trip(positions, max_gap):
    positions = sorted(positions)
    gaps = gaps_with_escape(positions, max_gap)
    assert all(0 <= g <= max_gap for g in gaps)
    assert positions_from_gaps(gaps, max_gap) == positions


def test_gaps_example_from_the_notebook():
    assert gaps_with_escape([2, 20], 8) == [2, 8, 8, 1]
    assert gaps_with_escape([0, 1, 5], 8) == [0, 0, 3]


@given(st.lists(st.integers(0, 12), min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_canonical_code_is_as_short_as_huffman_and_prefix_free(symbols):
    lengths = {s: len(c) for s, c in huffman_code(symbols).items()}
    code = canonical_code(lengths)
    assert {s: len(c) for s, c in code.items()} == lengths
    assert average_code_length(symbols, code) == average_code_length(symbols, huffman_code(symbols))
    words = sorted(code.values())
    assert not any(b.startswith(a) for a, b in zip(words, words[1:]))  # a prefix sorts right before its extension
    assert kraft_sum(code) <= 1


def test_canonical_code_refuses_impossible_lengths():
    with pytest.raises(ValueError, match="cannot make a prefix code"):
        canonical_code({0: 1, 1: 1, 2: 1})
    with pytest.raises(ValueError, match=">= 1"):
        canonical_code({0: 0})


@pytest.mark.parametrize("coding", ["fixed", "huffman"])
@pytest.mark.parametrize("clustered", [False, True])
def test_save_and_load_give_back_the_same_network(tmp_path, coding, clustered):
    model = pruned_model()
    if clustered:
        cluster_model(model, 4)
    size = save_compressed(tmp_path / "m.lcz", model, CONFIG, coding=coding, max_gap=16)
    assert size == (tmp_path / "m.lcz").stat().st_size
    restored = load_compressed(tmp_path / "m.lcz")
    assert torch.equal(restored(X), model(X).detach())
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically: nothing left over


def test_clustered_huffman_file_is_smaller_than_the_float_one(tmp_path):
    model = pruned_model()
    float_size = save_compressed(tmp_path / "a", model, CONFIG, coding="fixed")
    cluster_model(model, 4)
    fixed = save_compressed(tmp_path / "b", model, CONFIG, coding="fixed")
    huffman = save_compressed(tmp_path / "c", model, CONFIG, coding="huffman")
    assert huffman < fixed < float_size


def test_a_layer_pruned_to_nothing_round_trips(tmp_path):
    model = build_model(**CONFIG)
    with torch.no_grad():
        model[3].weight.zero_()
    for coding in ("fixed", "huffman"):
        save_compressed(tmp_path / "z", model, CONFIG, coding=coding)
        assert torch.equal(load_compressed(tmp_path / "z")(X), model(X).detach())


def test_bad_files_get_clear_errors(tmp_path):
    model = pruned_model()
    path = tmp_path / "m.lcz"
    save_compressed(path, model, CONFIG)
    blob = path.read_bytes()
    with pytest.raises(CompressedFileError, match="no compressed model"):
        load_compressed(tmp_path / "missing.lcz")
    (tmp_path / "bad").write_bytes(b"PK\x03\x04" + blob[4:])
    with pytest.raises(CompressedFileError, match="bad magic"):
        load_compressed(tmp_path / "bad")
    (tmp_path / "short").write_bytes(blob[:-10])
    with pytest.raises(CompressedFileError, match="truncated"):
        load_compressed(tmp_path / "short")
    save_compressed(tmp_path / "other", model, {"arch": "mlp", "hidden": [30, 21], "ranks": [8, 0, 0]})
    with pytest.raises(CompressedFileError, match="do not fit the network"):
        load_compressed(tmp_path / "other")


@pytest.mark.parametrize("kwargs,match", [({"coding": "zip"}, "coding must be"), ({"max_gap": 0}, "max_gap"),
                                          ({"max_gap": 300}, "max_gap")])
def test_save_refuses_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_compressed(tmp_path / "m", pruned_model(), CONFIG, **kwargs)


def _sizes_from_the_file(weights, max_gap):
    """What save_compressed writes with fixed-length codes, read from its own header: each layer's gap and
    index sections."""
    import json
    import struct
    import tempfile
    from pathlib import Path

    from lecture_utils.deep_compression import MAGIC

    model = torch.nn.Module()
    for name, w in weights.items():
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        layer.weight.data.copy_(w)
        model.add_module(name.removesuffix(".weight"), layer)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.lcz"
        save_compressed(path, model, CONFIG, coding="fixed", max_gap=max_gap)
        blob = path.read_bytes()
    header = json.loads(blob[len(MAGIC) + 4:len(MAGIC) + 4 + struct.unpack("<I", blob[len(MAGIC):len(MAGIC) + 4])[0]])
    # sections of a sparse layer: gaps, then the codebook, then the indices
    return {t["name"]: (t["sections"][0], t["sections"][2]) for t in header["tensors"]}


def _gap_bits_as_the_file_writes_them(positions, caps):
    """Exercise 1 of notebook 11 answered with the file's own symbols: its count is the file's."""
    return {m: len(gaps_with_escape(list(positions), m)) * fixed_length_bits(m + 1) for m in caps}


def test_exercise_checks_of_11(capsys):
    check_gap_bits(_gap_bits_as_the_file_writes_them)  # the exercise's count is the file format's
    check_coded_sizes(_sizes_from_the_file)  # the exercise's numbers are the file's own
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("check,fn,hint", [
    (check_gap_bits, lambda p, caps: {m: len(p) * fixed_length_bits(m + 1) for m in caps}, "one escape per cap"),
    (check_gap_bits, lambda p, caps: {m: len(gaps_with_escape(list(p), m)) * fixed_length_bits(m) for m in caps},
     "m \\+ 1 different symbols"),
    (check_gap_bits, lambda p, caps: (_ for _ in ()).throw(NotImplementedError), "NotImplementedError"),
    (check_coded_sizes, lambda w, m: {k: (0, 0) for k in w}, "expected"),
    (check_coded_sizes, lambda w, m: list(w), "return a dict"),
])
def test_exercise_hints_of_11(check, fn, hint):
    with pytest.raises(ExerciseError, match=hint):
        check(fn)
