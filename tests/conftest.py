"""Shared test settings and fixtures.

Hypothesis runs a fixed set of examples (the same every run). The real IMDB archive is parsed
once per session into a temporary cache that tests share.
"""

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tinyseq.datasets import imdb

settings.register_profile("tinyseq", max_examples=20, deadline=None, derandomize=True)
settings.load_profile("tinyseq")

REAL_ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared/data/aclImdb_v1_labeled.tar.gz"


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory):
    """Parses the real data once per session into a shared cache; returns (data path, cache dir)."""
    data = Path(os.environ.get("TINYSEQ_DATA") or REAL_ARCHIVE)
    if not data.exists():
        pytest.skip(f"the IMDB data is not at {data}; set TINYSEQ_DATA to aclImdb_v1.tar.gz to run this test")
    cache = tmp_path_factory.mktemp("imdb_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYSEQ_CACHE", str(cache))
        imdb.load_data(data)
    return data, cache


@pytest.fixture
def real(real_cache, monkeypatch):
    """Points TINYSEQ_DATA and TINYSEQ_CACHE at the real data and its session cache; returns the data path."""
    data, cache = real_cache
    monkeypatch.setenv("TINYSEQ_DATA", str(data))
    monkeypatch.setenv("TINYSEQ_CACHE", str(cache))
    return data


