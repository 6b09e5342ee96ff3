"""Keras-style models: `from tinyseq.models import Sequential, load_model`."""

from .saving import load_model, save_model
from .sequential import Sequential, TrainingState

__all__ = ["Sequential", "TrainingState", "load_model", "save_model"]
