"""Keras-style models: `from tinyseq.models import Sequential, load_model`."""

from .callbacks import NonFiniteLossError, TerminateOnNaN
from .loading import load_model
from .saving import read_metadata, save_model
from .sequential import Sequential
from .training_state import TrainingState

__all__ = ["Sequential", "TrainingState", "load_model", "save_model", "read_metadata", "TerminateOnNaN",
           "NonFiniteLossError"]
