"""`make bench`: how long each notebook takes, headless, and how fast each slider answers.

Budgets (a 2-core laptop CPU, lecture profile, committed checkpoints present):
every notebook at most 90 s; each slider move within the budget named below.
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

from lecture_utils.config import get_profile, pick_device
from lecture_utils.files import atomic_write_bytes
from tools.notebooks import NOTEBOOK_DIR, execute, notebook_paths

HERE = Path(__file__).resolve().parent
NOTEBOOK_BUDGET_S = 90.0
MOVES = 25


def _temperature_slider():
    from lecture_utils import load_mnist, predict_logits
    from lecture_utils.pretrained import load_teacher
    from lecture_utils.widgets import temperature_slider

    teacher, _ = load_teacher()
    x, _ = load_mnist(train=False)
    w = temperature_slider(predict_logits(teacher, x[:1])[0])
    values = [10 ** (-0.3 + 2.3 * i / (MOVES - 1)) for i in range(MOVES)]
    return w.slider, values


def _lenet_slider(builder, values):
    def build():
        from lecture_utils import load_mnist
        from lecture_utils.pretrained import load_teacher

        model, _ = load_teacher("lenet_300_100")
        x, y = load_mnist(train=False)
        return builder(model, "1", x, y).slider, values
    return build


def _bits_slider():
    from lecture_utils.widgets import bits_slider

    return _lenet_slider(bits_slider, list(range(1, 17)) * 2)()


def _cluster_slider():
    from lecture_utils.widgets import cluster_slider

    return _lenet_slider(cluster_slider, [2, 3, 4, 8, 16, 32, 64, 128, 256] * 3)()


def _conv_sliders():
    from lecture_utils.widgets import ConvCountSliders

    w = ConvCountSliders()
    return w.o, [1, 8, 64, 128, 256, 512] * 3  # the output-channel slider; the others work alike


def _rank_slider():
    from lecture_utils.widgets import RankSlider

    return _lenet_slider(RankSlider, [1, 5, 10, 20, 50, 100, 200, 300] * 2)()


def _threshold_slider():
    from lecture_utils import load_mnist
    from lecture_utils.dynamic import EarlyExitNet
    from lecture_utils.widgets import ThresholdSlider

    torch.manual_seed(0)
    net = EarlyExitNet().eval()  # the timing does not depend on the weights: every exit's output is precomputed
    x, y = load_mnist(train=False)
    with torch.no_grad():
        probs = [torch.softmax(z, 1) for z in net(x)]
    w = ThresholdSlider(probs, y, net.exit_macs())
    return w.slider, [i / 40 for i in range(41)]


# name -> (builder returning (slider, values to move it through), budget in ms)
SLIDERS = {
    "temperature (01)": (_temperature_slider, 50.0),
    "bits (05)": (_bits_slider, 300.0),
    "clusters (06)": (_cluster_slider, 300.0),
    "channels and kernel (08)": (_conv_sliders, 300.0),
    "rank (09)": (_rank_slider, 300.0),
    "exit threshold (10)": (_threshold_slider, 100.0),
}


def time_slider(build) -> float:
    """Median milliseconds per move: the slider's value is set, its callback runs synchronously."""
    slider, values = build()
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
    for name, (build, budget) in SLIDERS.items():
        ms = time_slider(build)
        rows.append((f"slider: {name}", f"{ms:.1f} ms", f"{budget:.0f} ms", ms <= budget))
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
