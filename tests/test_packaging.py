"""environment.yml (conda) and pyproject.toml (pip) name the same dependencies with the same lower bounds."""
import re
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

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


def test_lower_bounds_are_not_tight():
    pip = _pip_requirements()
    assert pip["torch"] == ">=2.2" and pip["torchvision"] == ">=0.17"


def test_python_version():
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.10"
