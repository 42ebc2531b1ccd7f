"""Running the lecture's notebooks headless: to commit them executed, to time them
(``make bench``), and to check them in tests.

``python -m lecture_utils.notebooks`` executes every notebook in order, in a fresh
kernel each, and saves it with its outputs and its widgets' state (so sliders show
in a static view). Progress bars that closed themselves (``leave=False``) leave no
trace: their outputs point at widgets that no longer exist and would show as
"Error displaying widget", so they are dropped.
"""
from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def notebook_paths() -> list[Path]:
    """Every lecture notebook, in lecture order (``NN_name.ipynb``), homework included."""
    return sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


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


def execute(path: Path, save: bool = False, timeout: int = 900) -> float:
    """Execute ``path`` top to bottom in a fresh kernel; return the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    # Progress bars are for people watching; a saved notebook would keep dead widgets of them.
    os.environ["TQDM_DISABLE"] = "1"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if save:
        from .files import atomic_write_bytes

        drop_dead_widget_outputs(nb)
        atomic_write_bytes(path, (nbformat.writes(nb) + "\n").encode())
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Execute the notebooks and save them with their outputs.")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all), e.g. 01_knowledge_distillation")
    args = parser.parse_args(argv)
    for path in notebook_paths():
        if args.names and not any(n in path.name for n in args.names):
            continue
        print(f"{path.relative_to(NOTEBOOK_DIR)}: {execute(path, save=True):.1f} s", flush=True)


if __name__ == "__main__":
    main()
