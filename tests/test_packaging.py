"""How the project installs: conda and pip agree, and the package works when installed as a
regular wheel outside any checkout (as on a hosted notebook service)."""
import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge's name -> PyPI's name


def _pip_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(re.fullmatch(r"([A-Za-z0-9_.-]+)\s*([^;]*?)\s*(;.*)?", r).groups()[:2] for r in reqs)


def _conda_requirements() -> dict[str, str]:
    found = {}
    text = (REPO / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.fullmatch(r"\s+- ([A-Za-z0-9_.-]+)\s*((?:>=|==)[^\s#]*)?\s*(#.*)?", line)
        if m and m.group(1) not in {"python", "pip"}:
            found[CONDA_NAMES.get(m.group(1), m.group(1))] = m.group(2) or ""
    return found


def test_same_dependencies_and_bounds():
    assert _conda_requirements() == _pip_requirements()


def test_every_import_of_the_package_is_a_declared_dependency():
    """What lecture_utils imports from outside the standard library is in pyproject's dependencies
    (a student installs only those)."""
    declared = {re.split(r"[<>=;\s\[]", r)[0].lower().replace("-", "_") for r in
                tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    module_of = {"sklearn": "scikit_learn", "PIL": "pillow", "IPython": "ipython", "yaml": "pyyaml"}
    provided_by = {"ipython": "jupyterlab", "pillow": "matplotlib", "nbformat": "nbconvert"}
    for path in sorted((REPO / "lecture_utils").rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module.split(".")[0] for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
        for name in sorted(names):
            if name in sys.stdlib_module_names or name in ("lecture_utils", "__future__"):
                continue
            dist = module_of.get(name, name).lower()
            assert dist in declared or provided_by.get(dist) in declared, f"{path.name} imports {name}, not a dependency"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the wheel is made of, so that no stale build/ folder can leak into it.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    shutil.copytree(REPO / "lecture_utils", source / "lecture_utils", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, cwd=out)
    (found,) = out.glob("lecture_utils-*.whl")
    return found


def test_the_wheel_carries_the_weights_and_tiers_and_no_tools(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("lecture_utils/weights/teacher.pt", "lecture_utils/weights/lenet_300_100.pt",
                   "lecture_utils/weights/deep_teacher.pt", "lecture_utils/weights/homework_tiers.json",
                   "lecture_utils/weights/homework_teacher.pt",
                   "lecture_utils/exercises/expected.pt"):
        assert needed in names, needed
    package = REPO / "lecture_utils"
    for module in package.rglob("*.py"):  # every module, subpackages included
        assert module.relative_to(REPO).as_posix() in names, module
    assert not any(n.startswith(("tools/", "tests/", "notebooks/", "sources/")) for n in names)


def test_installed_from_the_wheel_it_works_outside_the_checkout(wheel, tmp_path):
    """A fresh environment that sees this one's dependencies but not the checkout: the wheel is
    installed there, run from another folder, a teacher loads from package data, and the data
    folder is the user cache, not a checkout's data/."""
    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies (torch, ...) from this environment; a .pth line adds a folder, and does not run
    # that folder's own .pth files, so this checkout's editable install stays invisible.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = textwrap.dedent("""
        import lecture_utils
        from lecture_utils import config
        from lecture_utils.homework import load_tiers
        from lecture_utils.pretrained import load_teacher
        assert "site-packages" in lecture_utils.__file__, lecture_utils.__file__
        assert config.repository_root() is None
        model, accuracy = load_teacher("teacher", train_if_missing=False)
        print(accuracy, sorted(load_tiers()["tiers"]), config.cache_dir())
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LECTURE_", "PYTHON"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    run = subprocess.run([str(python), "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    accuracy, tiers, cache = run.stdout.split(" ", 1)[0], run.stdout, run.stdout.rsplit(" ", 1)[1].strip()
    assert float(accuracy) > 0.98
    assert "'medium', 'simple', 'strong'" in tiers
    assert cache == str(tmp_path / "cache" / "lecture_utils")
