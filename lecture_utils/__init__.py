"""lecture_utils: the helpers behind the network-compression notebooks.

Every notebook starts with ``from lecture_utils import *``-free, explicit imports
of what it uses; the names below are the ones later notebooks rely on.
"""
from .config import get_profile, pick_device, seed_everything
from .data import balanced_subset, drop_digit, load_mnist, make_loader, train_val_split
from .distillation import distillation_loss, entropy, soft_target_loss, softmax_with_temperature
from .models import MLP, SmallCNN, build_model, count_parameters
from .training import Evaluation, evaluate, fit, predict_logits

__all__ = [
    "get_profile", "pick_device", "seed_everything",
    "balanced_subset", "drop_digit", "load_mnist", "make_loader", "train_val_split",
    "distillation_loss", "entropy", "soft_target_loss", "softmax_with_temperature",
    "MLP", "SmallCNN", "build_model", "count_parameters",
    "Evaluation", "evaluate", "fit", "predict_logits",
]
