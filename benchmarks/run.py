"""`make bench`: how long each notebook takes, headless, and how fast each slider answers.

Budgets (a 2-core laptop CPU, lecture profile, committed checkpoints present):
every notebook at most 60 s; each slider move within the budget named below.
`--write` stores the table in benchmarks/README.md with the machine it ran on.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch

from benchmarks.sliders import SLIDERS, SliderCase
from lecture_utils.config import get_profile, pick_device
from lecture_utils.files import atomic_write_bytes
from tools.notebooks import NOTEBOOK_DIR, execute, notebook_paths

HERE = Path(__file__).resolve().parent
NOTEBOOK_BUDGET_S = 60.0


def time_slider(case: SliderCase) -> float:
    """Median milliseconds per move: the slider's value is set, its callback runs synchronously."""
    slider, values = getattr(case.build(), case.control), case.values
    slider.value = values[-1]  # warm up (first draw, caches)
    times = []
    for v in values:
        start = time.perf_counter()
        slider.value = v
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = pick_device()
    gpu = f", {torch.cuda.get_device_name()}" if device.type == "cuda" else ""
    return (f"{cpu}, {os.cpu_count()} cores{gpu}; device {device}; Python {platform.python_version()}, "
            f"torch {torch.__version__}; {platform.system()} {platform.release()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-notebooks", action="store_true", help="only time the sliders")
    parser.add_argument("--write", action="store_true", help="store the table in benchmarks/README.md")
    args = parser.parse_args(argv)

    profile = get_profile().name
    rows = []
    for name, case in SLIDERS.items():
        ms = time_slider(case)
        rows.append((f"slider: {name}", f"{ms:.1f} ms", f"{case.budget_ms:.0f} ms", ms <= case.budget_ms))
        print(f"{rows[-1][0]:48} {rows[-1][1]:>10}", flush=True)
    if not args.no_notebooks:
        for path in notebook_paths():
            seconds = execute(path)
            rows.append((f"notebook: {path.relative_to(NOTEBOOK_DIR)}", f"{seconds:.1f} s", f"{NOTEBOOK_BUDGET_S:.0f} s",
                         seconds <= NOTEBOOK_BUDGET_S or profile != "lecture"))
            print(f"{rows[-1][0]:48} {rows[-1][1]:>10}", flush=True)

    table = ["| what | measured | budget | within |", "| --- | ---: | ---: | :---: |"]
    table += [f"| {what} | {value} | {budget} | {'yes' if ok else '**no**'} |" for what, value, budget, ok in rows]
    stamp = f"Profile `{profile}`, {datetime.date.today().isoformat()}, on {machine()}."
    print("\n" + stamp + "\n" + "\n".join(table))
    if args.write:
        readme = HERE / "README.md"
        text = readme.read_text()
        block = f"<!-- bench:{profile}:start -->\n{stamp}\n\n" + "\n".join(table) + f"\n<!-- bench:{profile}:end -->"
        pattern = re.compile(rf"<!-- bench:{profile}:start -->.*?<!-- bench:{profile}:end -->", re.S)
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        atomic_write_bytes(readme, text.encode())
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
