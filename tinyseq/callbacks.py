"""Keras's import path for callbacks: `from tinyseq.callbacks import EarlyStopping, ...`."""

from .models.callbacks import (BackupAndRestore, Callback, EarlyStopping, History, ModelCheckpoint,
                               NonFiniteLossError, TerminateOnNaN)

__all__ = ["BackupAndRestore", "Callback", "EarlyStopping", "History", "ModelCheckpoint", "TerminateOnNaN",
           "NonFiniteLossError"]
