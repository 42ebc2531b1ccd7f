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
    }
    for name, params in promised.items():
        obj = getattr(lecture_utils, name)
        if params:
            assert list(inspect.signature(obj).parameters)[: len(params)] == params, name
    assert callable(lecture_utils.data.load_mnist)
