"""Shared test settings: hypothesis runs a fixed set of examples (the same every run)."""

from hypothesis import settings

settings.register_profile("tinyseq", max_examples=20, deadline=None, derandomize=True)
settings.load_profile("tinyseq")
