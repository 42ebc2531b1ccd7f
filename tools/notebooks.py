"""The lecture's notebooks: built from their text sources, run headless, timed and checked.

Each notebook ``notebooks/NAME.ipynb`` has a plain-text source ``sources/NAME.py`` (jupytext's
percent format, paired by ``jupytext.toml``). ``python -m tools.notebooks`` (``make notebooks``)
reads each source, executes it top to bottom in a fresh kernel and saves the ``.ipynb`` with its
outputs and its widgets' state, so that sliders show in a static view. The saved file is the
same bytes on every rebuild of an unchanged source: no execution timestamps, widget ids derived
from the notebook's name (not random), closed progress bars dropped (their outputs point at
widgets that no longer exist and would show as "Error displaying widget").
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
SOURCE_DIR = REPO / "sources"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def notebook_paths() -> list[Path]:
    """Every lecture notebook, in lecture order (``NN_name.ipynb``), homework included."""
    return sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def source_path(notebook: Path) -> Path:
    """The text source of ``notebook``: ``sources/<same relative path>.py``."""
    return SOURCE_DIR / Path(notebook).resolve().relative_to(NOTEBOOK_DIR).with_suffix(".py")


def read_source(notebook: Path):
    """The notebook that ``notebook``'s text source describes (cells only, no outputs)."""
    import jupytext

    source = source_path(notebook)
    if not source.is_file():
        raise FileNotFoundError(f"{notebook.name} has no text source at {source}: every notebook is built from one")
    nb = jupytext.read(source, fmt="py:percent")
    # jupytext's own note of the filters in jupytext.toml: JupyterLab's save writes it, so the build does too.
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                   "jupytext": {"cell_metadata_filter": "-all", "notebook_metadata_filter": "-all"}}
    for i, cell in enumerate(nb.cells):  # ids from the position, not random: rebuilds give the same file
        cell.id = hashlib.md5(f"{source.stem}:cell:{i}".encode()).hexdigest()[:8]
    return nb


def cell_sources(nb) -> list[tuple[str, str]]:
    """What pairing keeps equal: each cell's type and text."""
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def claims_covered(nb) -> list[str]:
    """The claims a notebook says it covers, from its ``Covers: C1, C2`` line."""
    first = "".join(nb.cells[0].source) if nb.cells else ""
    match = re.search(r"Covers:\s*([C0-9,\s–-]+)", first)
    return re.findall(r"C\d+", match.group(1)) if match else []


def drop_dead_widget_outputs(nb) -> int:
    """Remove outputs that show a widget whose state was not saved (closed progress bars)."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is not None and view.get("model_id") not in state:
                dropped += 1
                continue
            kept.append(out)
        cell.outputs = kept
    return dropped


def merge_streams(nb) -> None:
    """Join each run of consecutive outputs of one stream (stdout, stderr) into one output: how the
    kernel splits a cell's printing into messages depends on timing, what it printed does not."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and previous is not None
                    and previous.get("output_type") == "stream" and previous.get("name") == out.get("name")):
                previous["text"] = "".join(previous["text"]) + "".join(out["text"])
                continue
            merged.append(out)
        cell.outputs = merged


def stable_widget_ids(nb, name: str) -> None:
    """Replace the kernel's random widget model ids by ids made from the notebook's name and the
    widget's order of creation, everywhere they occur (saved state, outputs, references)."""
    import json

    import nbformat

    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:
        return
    text = json.dumps(nb)
    for i, old in enumerate(list(state)):
        text = text.replace(old, hashlib.md5(f"{name}:{i}".encode()).hexdigest())
    nb.clear()
    nb.update(nbformat.from_dict(json.loads(text)))


def execute(path: Path, save: bool = False, timeout: int = 900, from_source: bool = True,
            out: Path | None = None) -> float:
    """Execute notebook ``path`` top to bottom in a fresh kernel and return the wall time in
    seconds; with ``save``, write the executed notebook to ``out`` (default: ``path`` itself), the
    same bytes each time. ``from_source`` builds it from its text source; otherwise the
    ``.ipynb`` itself is run."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path).resolve()
    # For the kernel only: progress bars are for people watching (a saved notebook would keep dead
    # widgets of them), and wall times change from run to run (config.wall_times_shown).
    kernel_env = dict(os.environ, TQDM_DISABLE="1", LECTURE_HIDE_WALL_TIMES="1")
    nb = read_source(path) if from_source else nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=kernel_env)
    seconds = time.perf_counter() - start
    if save:
        from lecture_utils.files import atomic_write_bytes

        drop_dead_widget_outputs(nb)
        merge_streams(nb)
        stable_widget_ids(nb, path.stem)
        nb.metadata.get("language_info", {}).pop("version", None)  # the same file on any Python 3
        atomic_write_bytes(out or path, (nbformat.writes(nb) + "\n").encode())
    return seconds


def main(argv=None) -> None:
    """The command line (``make notebooks``): build, execute and save each notebook named (default: all)."""
    parser = argparse.ArgumentParser(description="Build every notebook from its text source: execute it and save it with its outputs.")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all), e.g. 01_knowledge_distillation")
    args = parser.parse_args(argv)
    for path in notebook_paths():
        if args.names and not any(n in path.name for n in args.names):
            continue
        print(f"{path.relative_to(NOTEBOOK_DIR)}: {execute(path, save=True):.1f} s", flush=True)


if __name__ == "__main__":
    main()
