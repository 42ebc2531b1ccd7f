"""What nbval cannot see: a committed notebook must have been built from its text source,
executed in order without errors, and open the way every notebook does. (nbval passes a
never-executed cell unchecked.)"""
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from tools.notebooks import (NOTEBOOK_DIR, SOURCE_DIR, cell_sources, claims_covered, execute, notebook_paths,
                             read_source, source_path)

REPO = NOTEBOOK_DIR.parent
CLAIMS = REPO.parent / "shared" / "lecture" / "CLAIMS.md"
NOTEBOOKS = notebook_paths()
SETUP_CELL = """%matplotlib inline
from lecture_utils.config import setup_notebook

setup = setup_notebook()  # seed, profile (LECTURE_PROFILE), device, and which data
P = setup.profile"""


def _read(path):
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_knowledge_distillation.ipynb"


def test_every_source_is_a_notebook_and_every_notebook_has_one():
    sources = sorted(p.relative_to(SOURCE_DIR).with_suffix("") for p in SOURCE_DIR.rglob("*.py"))
    assert sources == sorted(p.relative_to(NOTEBOOK_DIR).with_suffix("") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_the_cells_of_its_source(path):
    """The pair is in sync: edit sources/NAME.py and run `make notebooks`, or edit the notebook in
    `make lab` (which saves both)."""
    committed, source = cell_sources(_read(path)), cell_sources(read_source(path))
    for i, (a, b) in enumerate(zip(committed, source)):
        assert a == b, f"{path.name} cell {i} differs from {source_path(path).name}:\n{a[1][:300]}\n---\n{b[1][:300]}"
    assert len(committed) == len(source), f"{path.name}: {len(committed)} cells, its source {len(source)}"


def test_saving_in_jupyterlab_updates_the_source(tmp_path):
    """What `make lab` runs: JupyterLab on the repository with jupytext's contents manager; saving a
    notebook writes its text source too, and the pair stays equal."""
    from jupytext import TextFileContentsManager

    name = "04_distillation_variants"
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "sources").mkdir()
    shutil.copy(REPO / "jupytext.toml", tmp_path)
    shutil.copy(NOTEBOOK_DIR / f"{name}.ipynb", tmp_path / "notebooks")
    shutil.copy(SOURCE_DIR / f"{name}.py", tmp_path / "sources")
    manager = TextFileContentsManager(root_dir=str(tmp_path))
    nb = manager.get(f"notebooks/{name}.ipynb")["content"]
    nb.cells[0].source += "\n\nA sentence a teacher added in JupyterLab."
    manager.save({"type": "notebook", "content": nb}, f"notebooks/{name}.ipynb")
    source = (tmp_path / "sources" / f"{name}.py").read_text()
    assert "# A sentence a teacher added in JupyterLab." in source
    assert source.startswith("# %% [markdown]"), "no metadata header: the source diffs as plain text"
    saved = nbformat.read(tmp_path / "notebooks" / f"{name}.ipynb", as_version=4)
    built = _read(NOTEBOOK_DIR / f"{name}.ipynb")
    assert saved.metadata["jupytext"] == built.metadata["jupytext"], "a save in JupyterLab adds no metadata to a built notebook"
    code = [i for i, c in enumerate(built.cells) if c.cell_type == "code" and c.outputs]
    assert code and all(saved.cells[i].outputs == built.cells[i].outputs for i in code), "the outputs survive a save"


def test_a_cells_printing_is_one_output_however_the_kernel_split_it():
    """Consecutive outputs of one stream are joined (the kernel's split depends on timing), others kept apart."""
    from tools.notebooks import merge_streams

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1); print(2)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                           nbformat.v4.new_output("stream", name="stdout", text=["b\n", "c\n"]),
                           nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
                           nbformat.v4.new_output("display_data", data={"text/plain": "figure"}),
                           nbformat.v4.new_output("stream", name="stdout", text="d\n")]
    merge_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in nb.cells[0].outputs] == [
        ("stream", "stdout", "a\nb\nc\n"), ("stream", "stderr", "warning\n"), ("display_data", None, None),
        ("stream", "stdout", "d\n")]
    for path in notebook_paths():  # and the committed notebooks are built so
        for cell in nbformat.read(path, as_version=4).cells:
            outputs = cell.get("outputs", [])
            assert not any(a.get("output_type") == b.get("output_type") == "stream" and a.get("name") == b.get("name")
                           for a, b in zip(outputs, outputs[1:])), f"{path.name}: a split stream"


def test_rebuilding_a_notebook_gives_the_same_bytes(tmp_path):
    """`make notebooks` on an unchanged source leaves `git status` clean: no timestamps, no wall
    times, widget ids that do not change. Shown on the quickest notebook with widgets."""
    path = NOTEBOOK_DIR / "05_parameter_quantization.ipynb"
    rebuilt = tmp_path / path.name
    execute(path, save=True, out=rebuilt)
    new, old = rebuilt.read_bytes(), path.read_bytes()
    at = next((i for i, (a, b) in enumerate(zip(new, old)) if a != b), min(len(new), len(old)))
    assert new == old, ("rebuilding 05 changed it: something in it is not deterministic. Committed:\n"
                        f"{old[max(0, at - 300):at + 300].decode(errors='replace')}\nRebuilt:\n"
                        f"{new[max(0, at - 300):at + 300].decode(errors='replace')}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_executed_in_order_without_errors(path):
    nb = _read(path)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{path.name}: cells never executed: run `make notebooks` and commit"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not executed top to bottom in one kernel: {counts}"
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", f"{path.name}: a cell ended in {out.get('ename')}"
            assert out.get("name") != "stderr" or "Traceback" not in out.get("text", "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_with_the_shared_setup_cell_and_its_claims(path):
    nb = _read(path)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    claims = claims_covered(nb)
    assert claims, f"{path.name}: the first cell needs a 'Covers: C1, C2' line"
    known = set(re.findall(r"\*\*(C\d+)\*\*", CLAIMS.read_text())) if CLAIMS.exists() else None
    if known:
        assert set(claims) <= known, f"{path.name} names unknown claims {set(claims) - known}"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source.strip() == SETUP_CELL


def claims_checked(nb) -> set[str]:
    """The claims with an executed claim check: an output line ``✓ C3 ...`` (``lecture_utils.claim``)."""
    lines = (line for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
             if out.get("name") == "stdout" for line in out.get("text", "").splitlines())
    return {m.group(1) for line in lines if (m := re.match(r"✓ (C\d+) \S", line))}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_covered_claim_has_an_executed_claim_check(path):
    """Every claim in the 'Covers:' line is shown by at least one ✓ line that lecture_utils.claim printed
    in the committed notebook (a claim check that failed would have stopped the build)."""
    nb = _read(path)
    missing = set(claims_covered(nb)) - claims_checked(nb)
    assert not missing, f"{path.name} covers {sorted(missing)} without a claim check (lecture_utils.claim) for them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_light_and_has_checked_exercises(path):
    assert path.stat().st_size <= 1_500_000, f"{path.name} is over 1.5 MB: lower the figures' dpi"
    text = path.read_text()
    nb = _read(path)
    solutions = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    for cell in nb.cells:  # a "what did you see?" answer: a region in a markdown cell, balanced
        if cell.cell_type == "markdown":
            assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION")
    assert len(solutions) >= 2, f"{path.name}: needs at least two exercises"
    for i in solutions:
        cell = nb.cells[i]
        assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION")
        # the check ends the cell; a cell that writes a file (%%writefile) is checked by the next one
        checked = cell.source if not cell.source.startswith("%%writefile") else nb.cells[i + 1].source
        assert re.search(r"^(?:\w+ = )?check_\w+\(", checked, re.M), "each exercise ends with its check"
    assert "Error displaying widget" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_training_cell_has_no_pasted_loop(path):
    """One training loop (lecture_utils.fit) serves every notebook."""
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            assert not re.search(r"\.step\(\)|zero_grad\(", cell.source), cell.source[:200]


def test_readme_lists_every_notebook_with_its_claims():
    readme = (REPO / "README.md").read_text()
    for path in NOTEBOOKS:
        assert path.name in readme, f"README.md does not list {path.name}"
        line = next(l for l in readme.splitlines() if path.name in l)
        assert set(claims_covered(_read(path))) <= set(re.findall(r"C\d+", line)), line


def test_the_profile_sizes_every_training_run():
    """LECTURE_PROFILE=full changes every notebook: no training call hard-codes its epochs, and
    every size in the profile is used by some notebook (or by the teachers' recipes)."""
    from lecture_utils.config import SIZES

    texts = {p.name: p.read_text() for p in sorted(SOURCE_DIR.rglob("*.py"))}
    for name, text in texts.items():
        code = re.search(r"^[^#\n]*\bepochs=\d", text, re.M)  # in code, not in the prose
        assert not code, f"{name} hard-codes epochs ({code.group(0).strip()}): take them from the profile (P.*)"
    everything = "\n".join(texts.values())
    unused = [field for field in SIZES if f"P.{field}" not in everything]
    assert not unused, f"profile sizes no notebook reads: {unused}"
