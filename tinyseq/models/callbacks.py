"""Callbacks, as Keras's: objects whose methods `fit` calls at the start and end of epochs and batches.

`History` records each epoch's metrics; `ModelCheckpoint` saves the model every epoch;
`EarlyStopping` ends training when a metric stops improving; `TerminateOnNaN` ends it when the
loss stops being a number; `BackupAndRestore` keeps a checkpoint of the whole training run
(weights, optimizer, random state, position in the epoch) so an interrupted run resumes to
exactly the weights an uninterrupted one reaches.

The two callbacks that write files never write a model whose loss or weights are not finite
(NaN or infinite): a diverged run keeps its last good checkpoint.
"""

from __future__ import annotations

import math
import os
import string
import warnings

import numpy as np

from .. import checks
from .saving import check_savable, checked_metadata, restore_checkpoint, save_model


class Callback:
    """Base class: override the hooks you need. `self.model` is set by `fit`, `evaluate` and
    `predict`, which call the hooks at the moments Keras calls them, with the same logs.

    Batches and epochs are counted from 0. The begin hooks get empty logs; a batch's end hook
    gets the running averages of the loss and metrics so far (predict's: {"outputs": ...}).
    """

    model = None

    def on_train_begin(self, logs=None):
        """Before the first epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        """Before an epoch's first batch."""

    def on_train_batch_begin(self, batch, logs=None):
        """Before each training batch; calls `on_batch_begin`, Keras's older name."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """After each training batch, with the epoch's running averages; calls `on_batch_end`."""
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Before each training batch (Keras's older name for `on_train_batch_begin`)."""

    def on_batch_end(self, batch, logs=None):
        """After each training batch (Keras's older name for `on_train_batch_end`)."""

    def on_epoch_end(self, epoch, logs=None):
        """After an epoch, with its metrics (validation ones prefixed val_)."""

    def on_test_begin(self, logs=None):
        """Before `evaluate`, or the validation at the end of each epoch of `fit`."""

    def on_test_batch_begin(self, batch, logs=None):
        """Before each batch of `evaluate` or of the validation."""

    def on_test_batch_end(self, batch, logs=None):
        """After each batch of `evaluate` or of the validation, with the running averages."""

    def on_test_end(self, logs=None):
        """After `evaluate` or the validation, with its loss and metrics (not prefixed)."""

    def on_predict_begin(self, logs=None):
        """Before `predict`."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Before each batch of `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """After each batch of `predict`; logs["outputs"] holds the batch's outputs."""

    def on_predict_end(self, logs=None):
        """After `predict`."""

    def on_train_interrupt(self, logs=None):
        """When Ctrl-C stopped training at a batch boundary (a tinyseq addition to Keras's hooks)."""

    def on_train_end(self, logs=None):
        """After the last epoch, with its logs."""


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
        """Share the model's record of metrics, which `fit` fills in every epoch."""
        self.history = self.model.training_state.history  # restored runs keep earlier epochs

    def on_epoch_end(self, epoch, logs=None):
        """List `epoch` (0-based) as done."""
        self.epoch.append(epoch)


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss became NaN or infinite (raised by
    `TerminateOnNaN(raise_error=True)`).

    Attributes:
        epoch: the epoch, counted from 1 as the progress bar counts.
        batch: the batch of that epoch, counted from 1.
        loss: the epoch's running mean loss after that batch (nan, inf or -inf).
    """

    def __init__(self, epoch, batch, loss):
        self.epoch, self.batch, self.loss = epoch, batch, loss
        super().__init__(f"fit: the loss became {loss} in epoch {epoch}, batch {batch}; training stopped "
                         f"there. Checkpoints written before it are kept. A lower learning rate or "
                         f"gradient clipping (e.g. Adam(clipnorm=1.0)) may keep the loss finite.")

    def __reduce__(self):  # rebuilt from its three fields, e.g. when raised in a worker process
        return type(self), (self.epoch, self.batch, self.loss)


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss is NaN or infinite, as Keras's callback of that name.

    Args:
        raise_error: False (Keras's default): stop after the batch, let the epoch end and the
            callbacks clean up, and return normally. True: raise `NonFiniteLossError` at once
            (naming the epoch and batch), so no later hook runs; what the CLI does.
    """

    def __init__(self, raise_error=False):
        self.raise_error = checks.boolean(raise_error, "raise_error", "TerminateOnNaN")

    def on_train_batch_end(self, batch, logs=None):
        """Stop training (or raise NonFiniteLossError) if the running loss is NaN or infinite."""
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        epoch, batch = self.model.training_state.epoch + 1, batch + 1  # counted from 1, as the progress bar counts
        if self.raise_error:
            raise NonFiniteLossError(epoch, batch, loss)
        print(f"Epoch {epoch}, batch {batch}: the loss is {loss}; stopping training.", flush=True)
        self.model.stop_training = True


def _file_path(path, argument, where):
    """`path` as a string, after checking it does not name a folder."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{where}: {argument} {path} is a folder; give a file name, e.g. "
                         f"{os.path.join(path, 'model.tinyseq')}")
    return path


def _non_finite_part(model, logs):
    """What is not finite in the model's weights or `logs` (a description), or None if all is."""
    for name, value in (logs or {}).items():
        if not math.isfinite(value):
            return f"its {name} is {value}"
    for name, parameter in model.named_parameters():
        if not np.isfinite(parameter.data).all():
            return f"its weight {name} is not finite"
    return None


def _improved(mode, monitor, current, best, min_delta=0.0):
    """Whether `current` beats `best` by more than `min_delta` (None is beaten by anything)."""
    if best is None:
        return True
    return current < best - min_delta if _direction(mode, monitor) == "min" else current > best + min_delta


def _direction(mode, monitor):
    """"min" or "max": `mode`, or for "auto" the direction Keras gives the monitored quantity (the
    loss goes down, the accuracies up; for any other metric it cannot tell)."""
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    if name in ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy"):
        return "max"
    raise ValueError(f"cannot tell whether {monitor!r} should go up or down; pass mode='max' to keep "
                     f"its highest value or mode='min' to keep its lowest")


def _monitored(logs, monitor, who):
    if monitor not in logs:
        raise KeyError(f"{who}: metric {monitor!r} is not available; available: {sorted(logs)}")
    return logs[monitor]


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after every epoch, or every `save_freq` batches,
    or only when `monitor` improved, as Keras's callback of that name.

    Args:
        filepath: where to save; may contain format fields, e.g. "model-{epoch:02d}-{val_loss:.3f}.tinyseq"
            (and {batch} with a save_freq in batches). Any suffix `model.save` accepts.
        monitor: the metric watched by save_best_only.
        verbose: 0 silent, 1 a line for each save (and, with save_best_only, each epoch not saved).
        save_best_only: save only when the monitored metric improved.
        save_weights_only: save with `model.save_weights` (filepath ending in .weights.h5).
        mode: "auto", "min" or "max" (auto: loss minimised, accuracy maximised).
        save_freq: "epoch", or a number of batches between saves.
        initial_value_threshold: the value the monitored metric must beat to be saved first
            (with save_best_only).

    An epoch whose loss, metrics or weights are not finite is not saved (a warning says so), so
    the file keeps the last finite model. A model that could not be loaded back (a custom loss,
    say) is refused when training begins.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        self.filepath, self.monitor = _file_path(filepath, "filepath", "ModelCheckpoint"), monitor
        self.verbose = checks.one_of(verbose, "verbose", "ModelCheckpoint", (0, 1, 2))
        self.save_best_only = checks.boolean(save_best_only, "save_best_only", "ModelCheckpoint")
        self.save_weights_only = checks.boolean(save_weights_only, "save_weights_only", "ModelCheckpoint")
        self.mode = checks.one_of(mode, "mode", "ModelCheckpoint", ("auto", "min", "max"))
        if save_freq != "epoch":
            save_freq = checks.positive_int(save_freq, "save_freq", "ModelCheckpoint")
        self.save_freq = save_freq
        self.initial_value_threshold = None if initial_value_threshold is None else checks.number(
            initial_value_threshold, "initial_value_threshold", "ModelCheckpoint")
        self.best = self.initial_value_threshold
        self._batches_since_saving = 0

    def on_train_begin(self, logs=None):
        """Refuse, before any training, a model that could not be loaded back from its file, and a
        `filepath` naming a value that no epoch has (a misspelt field)."""
        if not self.save_weights_only:
            check_savable(self.model)
        names = ["loss", *self.model.metric_names]
        known = {"epoch", *names, *(f"val_{name}" for name in names)}
        if self.save_freq != "epoch":
            known.add("batch")
        for _, field_name, _, _ in string.Formatter().parse(self.filepath):
            if field_name is not None and field_name.split(".")[0].split("[")[0] not in known:
                raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} names {{{field_name}}}, which is not "
                                 f"one of the values an epoch has: {', '.join(sorted(known))}")

    def on_train_batch_end(self, batch, logs=None):
        """With `save_freq` in batches: save every `save_freq` batches (see `on_epoch_end`)."""
        if self.save_freq == "epoch":
            return
        self._batches_since_saving += 1
        if self._batches_since_saving >= self.save_freq:
            self._batches_since_saving = 0
            self._save(self.model.training_state.epoch, logs or {}, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        """Save the model to `filepath` (formatted with the epoch and `logs`), unless something is not
        finite or, with `save_best_only`, `monitor` did not improve."""
        if self.save_freq == "epoch":
            self._save(epoch, logs or {})

    def _save(self, epoch, logs, batch=None):
        problem = _non_finite_part(self.model, logs)
        if problem:
            warnings.warn(f"ModelCheckpoint: epoch {epoch + 1} not saved: {problem}", RuntimeWarning)
            return
        fields = {"epoch": epoch + 1, **logs} if batch is None else {"epoch": epoch + 1, "batch": batch, **logs}
        path = self.filepath.format(**fields)
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            best = "None" if self.best is None else f"{self.best:.5f}"
            if not _improved(self.mode, self.monitor, current, self.best):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class EarlyStopping(Callback):
    """Stop training when `monitor` has not improved by `min_delta` for `patience` epochs, as
    Keras's callback of that name.

    Args:
        monitor: the metric to watch ("val_loss" by default).
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement after which training stops (as Keras).
        verbose: 0 silent, 1 say when training stopped early and which epoch's weights came back.
        mode: "auto", "min" or "max" (auto: loss minimised, accuracy maximised).
        baseline: an improvement resets the patience count only if it also beats this value.
        restore_best_weights: at the end, put back the weights of the best epoch (or, if no
            epoch improved, of the first one watched).
        start_from_epoch: epochs to train before watching `monitor` (a warm-up).
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        self.monitor = monitor
        self.min_delta = abs(checks.number(min_delta, "min_delta", "EarlyStopping"))
        self.patience = checks.non_negative_int(patience, "patience", "EarlyStopping")
        self.verbose = checks.one_of(verbose, "verbose", "EarlyStopping", (0, 1, 2))
        self.mode = checks.one_of(mode, "mode", "EarlyStopping", ("auto", "min", "max"))
        self.baseline = None if baseline is None else checks.number(baseline, "baseline", "EarlyStopping")
        self.restore_best_weights = checks.boolean(restore_best_weights, "restore_best_weights", "EarlyStopping")
        self.start_from_epoch = checks.non_negative_int(start_from_epoch, "start_from_epoch", "EarlyStopping")
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        """Forget any earlier run's best value and count of epochs without improvement."""
        self.best, self.best_weights, self.best_epoch, self.wait, self.stopped_epoch = None, None, 0, 0, None

    def on_epoch_end(self, epoch, logs=None):
        """Note whether `monitor` improved; stop training after `patience` epochs without."""
        if epoch < self.start_from_epoch:
            return
        current = _monitored(logs or {}, self.monitor, "EarlyStopping")
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if _improved(self.mode, self.monitor, current, self.best, self.min_delta):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or _improved(self.mode, self.monitor, current, self.baseline, self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Say when training stopped (with verbose); put back the best epoch's weights (with
        `restore_best_weights`)."""
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class BackupAndRestore(Callback):
    """Keep a checkpoint of the training run; a later `fit` with this callback resumes from it.

    The checkpoint (one file, written atomically) holds the weights, the optimizer state, the
    random generator's state and the position in the epoch (including the epoch's shuffled
    order), written at the end of every epoch and when Ctrl-C stops training. Resuming gives
    exactly the weights an uninterrupted run reaches. The file is deleted when training
    completes (unless delete_checkpoint=False).

    A state whose loss or weights are not finite is never written: a run that diverged keeps
    its last good checkpoint, and keeps it also when training then ends.

    Args:
        path: the checkpoint file.
        delete_checkpoint: remove it after training finishes.
        metadata: a dict of JSON data stored in every checkpoint (e.g. the settings the run was
            started with, to compare before resuming); `read_metadata(path)` returns it.
    """

    def __init__(self, path, delete_checkpoint=True, metadata=None):
        self.path = _file_path(path, "path", "BackupAndRestore")
        self.delete_checkpoint = checks.boolean(delete_checkpoint, "delete_checkpoint", "BackupAndRestore")
        self.metadata = None if metadata is None else checked_metadata(metadata, "BackupAndRestore")
        self.diverged = False

    def on_train_begin(self, logs=None):
        """Resume from the checkpoint if there is one; otherwise refuse a model that cannot be saved."""
        self.diverged = False
        if os.path.exists(self.path):
            restore_checkpoint(self.model, self.path)
        else:
            check_savable(self.model)

    def save(self, logs=None):
        """Write the checkpoint now, unless `logs` or the weights are not finite; return whether
        it was written."""
        problem = _non_finite_part(self.model, logs)
        if problem:
            self.diverged = True
            warnings.warn(f"BackupAndRestore: not saving a checkpoint: {problem}; {self.path} keeps "
                          f"the last good state", RuntimeWarning)
            return False
        save_model(self.model, self.path, include_training_state=True, metadata=self.metadata)
        return True

    def on_epoch_end(self, epoch, logs=None):
        """Write the checkpoint (see `save`)."""
        self.save(logs)

    def on_train_interrupt(self, logs=None):
        """Write the checkpoint and say how to continue from it."""
        if self.save(logs):
            print(f"Saved a checkpoint of this run to {self.path}; run the same fit (or command with "
                  f"--resume) to continue exactly where it stopped.", flush=True)

    def on_train_end(self, logs=None):
        """Delete the checkpoint (with `delete_checkpoint`), unless the run diverged."""
        if self.delete_checkpoint and not self.diverged and os.path.exists(self.path):
            os.remove(self.path)


__all__ = ["Callback", "History", "ModelCheckpoint", "EarlyStopping", "BackupAndRestore", "TerminateOnNaN",
           "NonFiniteLossError"]
