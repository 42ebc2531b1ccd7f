import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _offline_data():
    """Tests never touch the network: use $LECTURE_DATA_DIR, or the read-only copy beside the repo."""
    if not os.environ.get("LECTURE_DATA_DIR") and (SHARED_DATA / "MNIST" / "raw").is_dir():
        os.environ["LECTURE_DATA_DIR"] = str(SHARED_DATA)
    os.environ.setdefault("LECTURE_DEVICE", "cpu")
    yield


@pytest.fixture
def data_module():
    """lecture_utils.data; where it finds MNIST is remembered per list of folders, so a test that
    points LECTURE_DATA_DIR elsewhere needs no cache clearing."""
    from lecture_utils import data

    return data
