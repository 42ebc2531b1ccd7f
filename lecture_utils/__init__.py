"""lecture_utils: the helpers behind the network-compression notebooks.

One small module per idea of the lecture; the names below are the ones notebooks and
later work rely on, importable as ``from lecture_utils import ...``.
"""
from .architecture import DepthwiseSeparableConv2d, conv_parameter_counts, low_rank_factorize
from .binary import binarize
from .clustering import cluster_weights
from .config import get_profile, pick_device, seed_everything
from .data import balanced_subset, drop_digit, load_mnist, make_loader, train_val_split
from .dynamic import EarlyExitNet, early_exit_predict
from .distillation import distillation_loss, entropy, soft_target_loss, softmax_with_temperature
from .ensembles import average_state_dicts, ensemble_probabilities
from .evidence import Spread, claim, clearly_below, no_difference, verdict
from .huffman import huffman_code
from .models import MLP, SmallCNN, build_model, count_parameters
from .quantization import quantize_uniform
from .seeds import SeedStack, stacked_loss, train_recipes
from .training import Evaluation, evaluate, fit, predict_logits

__all__ = [
    "DepthwiseSeparableConv2d", "conv_parameter_counts", "low_rank_factorize",
    "binarize", "cluster_weights", "huffman_code", "quantize_uniform",
    "get_profile", "pick_device", "seed_everything",
    "balanced_subset", "drop_digit", "load_mnist", "make_loader", "train_val_split",
    "EarlyExitNet", "early_exit_predict",
    "distillation_loss", "entropy", "soft_target_loss", "softmax_with_temperature",
    "average_state_dicts", "ensemble_probabilities",
    "MLP", "SmallCNN", "build_model", "count_parameters",
    "Evaluation", "evaluate", "fit", "predict_logits",
    "Spread", "claim", "clearly_below", "no_difference", "verdict",
    "SeedStack", "stacked_loss", "train_recipes",
]
