"""The Keras conformance tests: the same case run in Keras 3 (TensorFlow backend) and in tinyseq.

Every test here is marked `conformance` (run them alone with `pytest -m conformance`) and the
whole folder is skipped where Keras or TensorFlow is not installed (`pip install -e ".[peers]"`).
"""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_collection_modifyitems(config, items):
    """Mark every test in this folder `conformance`."""
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.conformance)


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on its TensorFlow backend, or a skip."""
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the conformance tests use Keras's TensorFlow backend")
    return keras
