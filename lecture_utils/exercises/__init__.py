"""Checks for the notebooks' exercises: ``from lecture_utils.exercises import check_...``.

Each ``check_...`` runs the student's function on small fixed inputs, compares the results with
the right ones, and either prints a line saying it is right or raises ``ExerciseError`` with one
hint that says what is wrong. Every exercise is declared as data (its cases, catalogue of known
mistakes and hints) and graded by the one harness in ``harness.py``; the right results, and those
of the known mistakes, are stored in ``expected.pt`` (the answers that give them stay with the
teachers, in ``tools/answers.py``). The modules follow the lecture:

* ``distillation``: notebooks 01-04 (the temperature for a top probability, what soft targets say
  beyond the label ... the soft-target gradient);
* ``quantization``: notebooks 05-07 (quantization and its noise, clustering, prefix codes, binary weights);
* ``architecture``: notebooks 08-09 (separable convolutions, low-rank factorization);
* ``dynamic``: notebook 10 (early exits, accuracy by confidence);
* ``combining``: notebook 11 (what a cap on the gaps costs, where the bytes of the file go);
* ``homework``: the homework (counting parameters, the model, a recipe).

Each module also holds its notebooks' design tasks (``DesignTask``: a decision with a measurable
goal, checked by measuring what the student's function chose), gathered in ``DESIGN_TASKS``.
"""
from . import architecture, combining, distillation, dynamic, homework, quantization
from .architecture import (check_conv_costs, check_rank_budget, check_separable_approximation, check_separable_block,
                           check_separable_widths, check_rank_for_energy)
from .combining import check_coded_sizes, check_file_budget, check_gap_bits
from .distillation import (check_cascade_threshold, check_costly_false_alarms, check_dark_knowledge, check_digit_mass,
                           check_distillation_temperature, check_error_overlap, check_flip_shifts,
                           check_logit_agreement, check_mimic_temperature, check_soft_target_gradient,
                           check_temperature_for, check_unit_match)
from .dynamic import check_accuracy_by_confidence, check_exit_gradients, check_exit_threshold
from .harness import Case, DesignTask, Exercise, ExerciseError, Mistake
from .homework import check_demo_recipe, check_homework_model, check_parameter_count
from .quantization import (check_binarize, check_binary_budget, check_bit_budget, check_centroid_gradients, check_cluster_count,
                           check_prefix_free, check_quantize_uniform, check_sqnr, check_straight_through)

# Every exercise, in the lecture's order: the tests grade each one's answers, catalogue and errors.
EXERCISES = (*distillation.EXERCISES, *quantization.EXERCISES, *architecture.EXERCISES, *dynamic.EXERCISES,
             *combining.EXERCISES, *homework.EXERCISES)
# Every design task: a decision whose check measures what the student's function chose.
DESIGN_TASKS = (*distillation.DESIGN_TASKS, *quantization.DESIGN_TASKS, *architecture.DESIGN_TASKS, *dynamic.DESIGN_TASKS,
                *combining.DESIGN_TASKS, *homework.DESIGN_TASKS)

__all__ = [
    "Case", "DesignTask", "Exercise", "ExerciseError", "Mistake", "EXERCISES", "DESIGN_TASKS",
    # notebooks 01-04
    "check_temperature_for", "check_dark_knowledge", "check_distillation_temperature",
    "check_digit_mass", "check_flip_shifts", "check_costly_false_alarms",
    "check_error_overlap", "check_cascade_threshold", "check_unit_match",
    "check_soft_target_gradient", "check_logit_agreement", "check_mimic_temperature",
    # notebooks 05-07
    "check_quantize_uniform", "check_sqnr", "check_bit_budget",
    "check_centroid_gradients", "check_cluster_count", "check_prefix_free",
    "check_binarize", "check_straight_through", "check_binary_budget",
    # notebooks 08-09
    "check_conv_costs", "check_separable_block", "check_separable_widths",
    "check_rank_for_energy", "check_separable_approximation", "check_rank_budget",
    # notebooks 10-11 and the homework
    "check_exit_gradients", "check_exit_threshold", "check_accuracy_by_confidence",
    "check_gap_bits", "check_coded_sizes", "check_file_budget",
    "check_parameter_count", "check_homework_model", "check_demo_recipe",
]
