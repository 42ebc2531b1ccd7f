"""The names the issues promise later work can rely on."""
import inspect

import lecture_utils


def test_promised_names_exist_with_their_signatures():
    promised = {
        "softmax_with_temperature": ["logits", "temperature"],
        "distillation_loss": ["student_logits", "teacher_logits", "labels", "temperature", "alpha"],
        "count_parameters": ["model"],
        "drop_digit": None, "ensemble_probabilities": ["models", "images"], "average_state_dicts": ["state_dicts"],
        "quantize_uniform": ["tensor", "bits"], "cluster_weights": ["tensor", "num_clusters"],
        "huffman_code": ["symbols"], "binarize": ["tensor", "stochastic"],
        "conv_parameter_counts": ["in_channels", "out_channels", "kernel_size"],
        "DepthwiseSeparableConv2d": ["in_channels", "out_channels", "kernel_size"],
        "low_rank_factorize": ["linear", "rank"],
        "EarlyExitNet": None, "early_exit_predict": ["model", "images", "threshold"],
    }
    for name, params in promised.items():
        obj = getattr(lecture_utils, name)
        if params:
            assert list(inspect.signature(obj).parameters)[: len(params)] == params, name
    assert callable(lecture_utils.data.load_mnist)


def test_everything_exported_is_importable_and_listed():
    """``__all__`` names exactly what the package's top level offers, and each name resolves."""
    for name in lecture_utils.__all__:
        assert getattr(lecture_utils, name) is not None, name
    public = {n for n, v in vars(lecture_utils).items()
              if not n.startswith("_") and not inspect.ismodule(v)}
    assert public == set(lecture_utils.__all__), public ^ set(lecture_utils.__all__)
