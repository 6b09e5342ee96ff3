"""Callbacks, as Keras's: objects whose methods `fit` calls at the start and end of epochs and batches.

`History` records each epoch's metrics; `ModelCheckpoint` saves the model every epoch;
`EarlyStopping` ends training when a metric stops improving; `BackupAndRestore` keeps a
checkpoint of the whole training run (weights, optimizer, random state, position in the epoch)
so an interrupted run resumes to exactly the weights an uninterrupted one reaches.
"""

from __future__ import annotations

import os



class Callback:
    """Base class: override the hooks you need. `self.model` is set by `fit`."""

    model = None

    def on_train_begin(self, logs=None):
        """Before the first epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        """Before an epoch's first batch (0-based epoch)."""

    def on_train_batch_end(self, batch, logs=None):
        """After each batch; `logs` holds the epoch's running averages."""

    def on_epoch_end(self, epoch, logs=None):
        """After an epoch, with its metrics (validation ones prefixed val_)."""

    def on_train_interrupt(self, logs=None):
        """When Ctrl-C stopped training at a batch boundary (a tinyseq addition to Keras's hooks)."""

    def on_train_end(self, logs=None):
        """After the last epoch."""


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.model = model

    def __getattr__(self, hook):
        def call_all(*args):
            for callback in self.callbacks:
                getattr(callback, hook)(*args)
        return call_all


class History(Callback):
    """`history` maps each metric name to its value at the end of every epoch; `epoch` lists them."""

    def __init__(self):
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.history = self.model.training_state.history  # restored runs keep earlier epochs

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)


def _improved(mode, monitor, current, best, min_delta=0.0):
    if mode == "auto":
        mode = "max" if any(word in monitor for word in ("acc", "auc")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if best is None:
        return True
    return current < best - min_delta if mode == "min" else current > best + min_delta


def _monitored(logs, monitor, who):
    if monitor not in logs:
        raise KeyError(f"{who}: metric {monitor!r} is not available; available: {sorted(logs)}")
    return logs[monitor]


class ModelCheckpoint(Callback):
    """Save the model after every epoch (or only when `monitor` improved).

    Args:
        filepath: where to save; may contain format fields, e.g. "model-{epoch:02d}-{val_loss:.3f}.tinyseq".
        monitor: the metric watched by save_best_only.
        save_best_only: save only when the monitored metric improved.
        mode: "auto", "min" or "max".
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        self.filepath, self.monitor, self.save_best_only, self.mode = os.fspath(filepath), monitor, save_best_only, mode
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not _improved(self.mode, self.monitor, current, self.best):
                return
            self.best = current
        self.model.save(self.filepath.format(epoch=epoch + 1, **logs))


class EarlyStopping(Callback):
    """Stop training when `monitor` has not improved by `min_delta` for `patience` epochs.

    Args:
        monitor: the metric to watch ("val_loss" by default).
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement after which training stops (as Keras).
        mode: "auto", "min" or "max".
        restore_best_weights: at the end, put back the weights of the best epoch.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False):
        self.monitor, self.min_delta, self.patience, self.mode = monitor, abs(min_delta), patience, mode
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.best, self.best_weights, self.wait = None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs or {}, self.monitor, "EarlyStopping")
        if _improved(self.mode, self.monitor, current, self.best, self.min_delta):
            self.best, self.wait = current, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class BackupAndRestore(Callback):
    """Keep a checkpoint of the training run; a later `fit` with this callback resumes from it.

    The checkpoint (one file, written atomically) holds the weights, the optimizer state, the
    random generator's state and the position in the epoch (including the epoch's shuffled
    order), written at the end of every epoch and when Ctrl-C stops training. Resuming gives
    exactly the weights an uninterrupted run reaches. The file is deleted when training
    completes (unless delete_checkpoint=False).

    Args:
        path: the checkpoint file.
        delete_checkpoint: remove it after training finishes.
    """

    def __init__(self, path, delete_checkpoint=True):
        self.path, self.delete_checkpoint = os.fspath(path), delete_checkpoint

    def on_train_begin(self, logs=None):
        if os.path.exists(self.path):
            from .saving import restore_checkpoint
            restore_checkpoint(self.model, self.path)

    def save(self):
        """Write the checkpoint now."""
        from .saving import save_model
        save_model(self.model, self.path, include_training_state=True)

    def on_epoch_end(self, epoch, logs=None):
        self.save()

    def on_train_interrupt(self, logs=None):
        self.save()
        print(f"Saved a checkpoint of this run to {self.path}; run the same fit (or command with "
              f"--resume) to continue exactly where it stopped.", flush=True)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)


__all__ = ["Callback", "History", "ModelCheckpoint", "EarlyStopping", "BackupAndRestore"]
