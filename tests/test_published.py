"""`make published` keeps the lines that carry notebooks 01 and 02's comparisons: read here from the
committed (lecture-profile) notebooks, which print the same lines as the full profile."""
import nbformat

from benchmarks.published import NOTEBOOKS, summary_lines
from tools.notebooks import NOTEBOOK_DIR


def test_the_summary_keeps_the_result_tables_and_every_claim_check():
    lines = {name: summary_lines(nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)) for name in NOTEBOOKS}
    first, second = lines["01_knowledge_distillation"], lines["02_unseen_digit"]
    for claim_id in ("C1", "C2", "C3", "C4", "C7", "C8"):
        assert any(line.startswith(f"✓ {claim_id} ") for line in first), claim_id
    assert any(line.startswith("student on labels") and "146" in line for line in first)  # ours beside published
    assert any(line.startswith("shift chosen on validation") for line in second)
    assert any(line.startswith("✓ C5 ") for line in second)
    assert not any(line.startswith("✓ softmax") for line in first)  # the exercises' ticks are left out
