"""Saving and loading models: one zip file, no pickle, written atomically.

Inside the file:
    tinyseq.json        format name and version, the model's config, compile settings, the
                        structure of the optimizer state / training state with arrays referenced,
                        and the caller's metadata (e.g. the settings a checkpointed run was
                        started with), if any
    arrays/N.npy        every array (weights first), in numpy's own format, loaded with
                        allow_pickle=False

The suffix does not matter: `model.save("imdb.h5")` writes this format too (it is not HDF5).

What a file names (layer classes, loss, metrics, optimizer, schedule, activations,
initialisers) is looked up in the project's registries when it is read, so `save` refuses, by
name and before writing anything, whatever a registry cannot rebuild (a loss of your own, say).
`load_model` is in `tinyseq.models.loading`: it builds a `Sequential`, which saves through this
module.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile

import numpy as np

from .. import __version__, losses, metrics, optimizers, random
from ..files import atomic_write
from .training_state import TrainingState

FORMAT = "tinyseq-model"
VERSION = 1


def save_model(model, path, include_training_state=False, metadata=None):
    """Write `model` to `path` (atomically: a temporary file renamed over the target).

    Args:
        model: a Sequential model.
        path: the file to write; any suffix.
        include_training_state: also store where `fit` is (epoch, batch, shuffled order,
            running sums, history) and the random generator's state, for exact resumption.
        metadata: a dict of JSON data (strings, numbers, booleans, None, lists, dicts) stored in
            the file with the model, read back by `read_metadata`.

    Raises:
        ValueError: before writing anything, for a part `load_model` could not rebuild: a layer
            class, loss, metric, optimizer, schedule, activation or initialiser of your own; or
            for metadata that is not JSON data.
    """
    document, arrays = _document(model, include_training_state)
    if metadata is not None:
        document["metadata"] = checked_metadata(metadata, "save_model")
    _write(path, document, arrays)


def checked_metadata(metadata, where):
    """`metadata` itself, after checking it is a dict that JSON stores and reads back unchanged."""
    try:
        same = isinstance(metadata, dict) and json.loads(json.dumps(metadata, allow_nan=False)) == metadata
    except (TypeError, ValueError):
        same = False
    if not same:
        raise ValueError(f"{where}: metadata must be a dict of JSON data (string keys; strings, finite numbers, "
                         f"booleans, None, lists and dicts), got {str(metadata)[:80]}")
    return metadata


def read_metadata(path):
    """The metadata stored in the model file at `path` by `save_model(..., metadata=...)`, or
    None if none was stored.

    Raises:
        FileNotFoundError, ValueError: as `load_model`, for a missing or damaged file.
    """
    with open_model_file(path) as (document, _):
        return document.get("metadata")


def check_savable(model):
    """Raise the error `save_model` would raise for `model`, without writing anything."""
    _document(model, include_training_state=False)


def _document(model, include_training_state):
    """The file's tinyseq.json content, with arrays replaced by references, and the arrays."""
    arrays = []

    def stash(value):
        """Replace arrays by references into arrays/, recursively; keep JSON-able values."""
        if isinstance(value, np.ndarray):
            arrays.append(value)
            return {"__array__": len(arrays) - 1}
        if isinstance(value, dict):
            return {str(key): stash(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [stash(item) for item in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    document = {
        "format": FORMAT, "version": VERSION, "tinyseq_version": __version__,
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "input_shape": list(model.input_shape) if model.input_shape else None,
        "weights": stash([p.data for p in model.parameters()]) if model.built else [],
        "compile": _compile_config(model, stash),
    }
    if include_training_state:
        state = model.training_state
        document["training_state"] = stash({
            "epoch": state.epoch, "batch": state.batch, "order": state.order, "totals": state.totals,
            "seen": state.seen, "history": state.history, "random": random.get_state()})
    return document, arrays


def _compile_config(model, stash):
    if model.loss_function is None:
        return None
    loss_name = model.loss if isinstance(model.loss, str) else getattr(model.loss, "__name__", repr(model.loss))
    _check_rebuilds("loss", loss_name, model.loss_function, losses.get)
    for name, function in zip(model.metric_names, model.metric_functions):
        _check_rebuilds("metric", name, function, lambda name: metrics.get(name, loss=model.loss))
    return {"loss": loss_name, "metrics": model.metric_names,
            "optimizer": {**optimizers.serialize(model.optimizer), "state": stash(model.optimizer.state_dict())}}


def _check_rebuilds(kind, name, function, lookup):
    """Refuse a loss or metric that `load_model` would not get back from its name."""
    try:
        rebuilt = lookup(name)
    except ValueError:
        rebuilt = None
    if rebuilt is not function:
        raise ValueError(f"save: cannot save a model compiled with the custom {kind} {name!r}: the file "
                         f"names its {kind}, and load_model can only rebuild the built-in ones; nothing "
                         f"was written. Compile with a built-in {kind} to save the model, or keep its "
                         f"weights with model.get_weights().")


def _write(path, document, arrays):
    with atomic_write(path) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("tinyseq.json", json.dumps(document, indent=1))
        for i, array in enumerate(arrays):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(f"arrays/{i}.npy", buffer.getvalue())


@contextlib.contextmanager
def open_model_file(path):
    """Open a model file: yields (document, unstash), with clear errors for bad files; the file
    is closed when the block ends. `unstash(value)` puts the arrays back into a part of the
    document."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file: {path}")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"load_model: {path} is not a tinyseq model file (not a zip archive: "
                         f"corrupt, truncated, or another format such as real HDF5)") from None
    with archive:
        yield _check_document(archive, path), _unstasher(archive, path)


def _check_document(archive, path):
    """The parsed tinyseq.json, after checking the format and version."""
    try:
        document = json.loads(archive.read("tinyseq.json"))
    except zipfile.BadZipFile:
        raise ValueError(f"load_model: {path} is not a tinyseq model file (not a zip archive: "
                         f"corrupt, truncated, or another format such as real HDF5)") from None
    except KeyError:
        raise ValueError(f"load_model: {path} is a zip archive but not a tinyseq model (no tinyseq.json)") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"load_model: {path} is damaged: its tinyseq.json does not parse ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"load_model: {path} is not a tinyseq model file (format {document.get('format')!r})"
                         if isinstance(document, dict) else f"load_model: {path} is not a tinyseq model file")
    if not isinstance(document.get("version"), int) or document["version"] > VERSION:
        raise ValueError(f"load_model: {path} was written by a newer tinyseq (file format version "
                         f"{document.get('version')}, this tinyseq {__version__} reads up to {VERSION}); "
                         f"upgrade tinyseq to load it")
    return document


def _unstasher(archive, path):
    """A function that replaces array references by the arrays they name, recursively."""

    def load_array(index):
        try:
            return np.load(io.BytesIO(archive.read(f"arrays/{index}.npy")), allow_pickle=False)
        except (KeyError, zipfile.BadZipFile, ValueError, OSError) as error:
            raise ValueError(f"load_model: {path} is damaged: array {index} cannot be read ({error})") from None

    def unstash(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                return load_array(value["__array__"])
            return {key: unstash(item) for key, item in value.items()}
        if isinstance(value, list):
            return [unstash(item) for item in value]
        return value

    return unstash


def restore_checkpoint(model, path):
    """Put a `BackupAndRestore` checkpoint's weights, optimizer state, random state and training
    position into `model` (which must have the same structure and be compiled)."""
    with open_model_file(path) as (document, unstash):
        if not document.get("training_state"):
            raise ValueError(f"restore: {path} holds a model but no training state to resume from")
        try:
            if not model.built:
                model.build(tuple(document["input_shape"]))
            model.set_weights(unstash(document["weights"]))
            model.optimizer.load_state_dict(unstash(document["compile"]["optimizer"]["state"]))
        except ValueError as error:
            raise ValueError(f"restore: the checkpoint {path} was written by another model or optimizer "
                             f"({error}); resume with the same model and compile settings, or delete the "
                             f"checkpoint to start afresh") from None
        saved = unstash(document["training_state"])
    random.set_state(saved.pop("random"))
    model.training_state = TrainingState(**saved)

