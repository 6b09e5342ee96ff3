"""Saving and loading models: one file, no pickle, written atomically, in the format its name asks for.

    name.keras          Keras 3's zip (config.json, metadata.json, model.weights.h5)
    name.h5, .hdf5      Keras's legacy HDF5 model file
    name.weights.h5     the weights alone, as Keras 3 writes them (`save_weights`)
    any other name      tinyseq's own zip format, below

Keras's formats need h5py and are in `keras_files`, which says why `.h5` means Keras's HDF5; what
tinyseq needs beyond them (the config, optimizer and training state, metadata described below)
rides inside them where Keras does not look. Reading goes by a file's content, not its name, so
tinyseq files written as `imdb.h5` before `.h5` meant HDF5 still load.

Inside tinyseq's own file:
    tinyseq.json        format name and version, the model's config, compile settings, the
                        structure of the optimizer state / training state with arrays referenced,
                        and the caller's metadata (e.g. the settings a checkpointed run was
                        started with), if any
    arrays/N.npy        every array (weights first), in numpy's own format, loaded with
                        allow_pickle=False

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
from . import keras_files
from .keras_files import require_h5py
from .training_state import TrainingState

FORMAT = "tinyseq-model"
VERSION = 1


def save_model(model, path, include_training_state=False, metadata=None):
    """Write `model` to `path` (atomically: a temporary file renamed over the target).

    Args:
        model: a Sequential model.
        path: the file to write: `.keras` and `.h5`/`.hdf5` write Keras's formats (h5py
            needed), any other suffix tinyseq's own.
        include_training_state: also store where `fit` is (epoch, batch, shuffled order,
            running sums, history) and the random generator's state, for exact resumption.
        metadata: a dict of JSON data (strings, numbers, booleans, None, lists, dicts) stored in
            the file with the model, read back by `read_metadata`.

    Raises:
        ValueError: before writing anything, for a part `load_model` could not rebuild: a layer
            class, loss, metric, optimizer, schedule, activation or initialiser of your own; or
            for metadata that is not JSON data; for a `.weights.h5` name (see `save_weights`).
        ImportError: for a Keras format without h5py installed.
    """
    h5py = check_model_path(path)
    kind = keras_files.keras_format(path)
    document, arrays = _document(model, include_training_state, weights_inside=kind is None)
    if metadata is not None:
        document["metadata"] = checked_metadata(metadata, "save_model")
    if kind == "keras":
        _write(path, document, arrays, keras_files.keras_archive_entries(model, h5py))
    elif kind == "legacy_h5":
        content = keras_files.legacy_h5_bytes(model, json.dumps(document).encode(), arrays, h5py)
        with atomic_write(path) as file:
            file.write(content)
    else:
        _write(path, document, arrays)


def check_model_path(path, where="save_model"):
    """Raise, before any work, the error `save_model` would raise for the name `path`: a
    `.weights.h5` name, or a Keras format without h5py. Returns the h5py module a Keras format
    needs (None for tinyseq's own)."""
    kind = keras_files.keras_format(path)
    if kind == "weights":
        raise ValueError(f"{where}: {path} names a weights-only file (.weights.h5); save the weights with "
                         f"model.save_weights({os.fspath(path)!r}), or the model as .keras or .h5")
    return require_h5py(where, path) if kind else None


def save_weights(model, path, overwrite=True):
    """Write `model`'s weights alone to a Keras 3 `.weights.h5` file (Keras's
    `model.load_weights` reads it).

    Raises:
        ValueError: for a name not ending in `.weights.h5` (as Keras), or an unbuilt model.
        FileExistsError: if the file exists and `overwrite` is false.
        ImportError: without h5py.
    """
    if keras_files.keras_format(path) != "weights":
        raise ValueError(f"save_weights: the file name must end in .weights.h5, got {os.fspath(path)!r}")
    h5py = require_h5py("save_weights", path)
    if not model.built:
        raise ValueError(f"save_weights: {model.name} has no weights yet: build it (model.build(input_shape), "
                         f"an Input, or a first call) before saving them")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: {path} exists and overwrite=False")
    content = keras_files.weights_file_bytes(model, h5py)
    with atomic_write(path) as file:
        file.write(content)


def load_weights(model, path):
    """Put the weights stored at `path` into `model`, layer by layer in order (Keras's rule for a
    Sequential model): from a `.weights.h5`, a `.keras`, a Keras `.h5` or a tinyseq model file.

    An unbuilt model is built from the file's input shape if the file records one.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a damaged file, or weights that do not fit the model (naming the layer).
    """
    path = os.fspath(path)
    if _is_weights_file(path):
        if not model.built:
            raise ValueError(f"load_weights: {model.name} is not built, and {path} holds weights only: build "
                             f"the model (model.build(input_shape) or an Input) first")
        h5py = require_h5py("load_weights", path)
        with h5py.File(path, "r") as file:
            layers = keras_files.weighted_layers(model)
            per_layer = keras_files.read_weights_file(file, [type(layer).__name__ for layer in layers])
        weights = [array for arrays in per_layer for array in arrays]
    else:
        with open_model_file(path) as (document, unstash):
            weights = unstash(document["weights"])
            if not model.built and document.get("input_shape"):
                model.build(tuple(document["input_shape"]))
    set_layer_weights(model, weights, f"load_weights: {path}")


def _is_weights_file(path):
    """Whether `path` is an HDF5 file of weights alone (Keras's .weights.h5)."""
    if not (os.path.isfile(path) and keras_files.is_hdf5(path)):
        return False
    h5py = require_h5py("load_weights", path)
    try:
        with h5py.File(path, "r") as file:
            return "model_config" not in file.attrs and "layers" in file
    except OSError:
        return False


def set_layer_weights(model, weights, where):
    """Set `model`'s weights from one list in `model.get_weights()` order, checking count and
    shapes layer by layer, with errors that name the layer."""
    if not model.built:
        raise ValueError(f"{where}: {model.name} is not built and the file records no input shape: build it "
                         f"(model.build(input_shape)) first")
    expected = sum(len(layer.parameters()) for layer in model.layers)
    if len(weights) != expected:
        raise ValueError(f"{where}: the file holds {len(weights)} weight arrays, {model.name} has {expected}; "
                         f"the file was written by another model")
    start = 0
    for layer in model.layers:
        parameters = layer.parameters()
        values = weights[start:start + len(parameters)]
        start += len(parameters)
        shapes = [tuple(np.shape(value)) for value in values]
        if shapes != [parameter.shape for parameter in parameters]:
            raise ValueError(f"{where}: layer {layer.name!r} ({type(layer).__name__}) has weights of shapes "
                             f"{[parameter.shape for parameter in parameters]}, the file holds {shapes}")
        layer.set_weights(values)


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


def _document(model, include_training_state, weights_inside=True):
    """The file's tinyseq.json content, with arrays replaced by references, and the arrays.
    Without `weights_inside`, "weights" says "keras": they are stored where Keras keeps them."""
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

    weights = "keras"
    if weights_inside:
        weights = stash([p.data for p in model.parameters()]) if model.built else []
    document = {
        "format": FORMAT, "version": VERSION, "tinyseq_version": __version__,
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "input_shape": list(model.input_shape) if model.input_shape else None,
        "weights": weights,
        "compile": _compile_config(model, stash),
    }
    if include_training_state:
        state = model.training_state
        document["training_state"] = stash({
            "epoch": state.epoch, "batch": state.batch, "order": state.order, "totals": state.totals,
            "seen": state.seen, "history": state.history, "random": random.get_state()})
    return document, arrays


def _compile_config(model, stash):
    """The compile settings: the loss by name (a loss object as its class and config), the
    metrics by name, the optimizer with its state."""
    if model.loss_function is None:
        return None
    if isinstance(model.loss, losses.Loss):
        loss = losses.serialize(model.loss)
    else:
        loss = model.loss if isinstance(model.loss, str) else getattr(model.loss, "__name__", repr(model.loss))
        _check_rebuilds("loss", loss, model.loss_function, losses.get)
    for name, function in zip(model.metric_names, model.metric_functions):
        _check_rebuilds("metric", name, function, metrics.get)
    return {"loss": loss, "metrics": model.metric_names,
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


def _write(path, document, arrays, entries=None):
    """Write the zip: `entries` (name -> bytes; Keras's, for a .keras file), then tinyseq.json and the arrays."""
    with atomic_write(path) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as archive:
        for name, content in (entries or {}).items():
            archive.writestr(name, content)
        archive.writestr("tinyseq.json", json.dumps(document, indent=1))
        for i, array in enumerate(arrays):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(f"arrays/{i}.npy", buffer.getvalue())


@contextlib.contextmanager
def open_model_file(path):
    """Open a model file of any format tinyseq reads: yields (document, unstash), with clear
    errors for bad files; the file is closed when the block ends.

    The document is tinyseq.json's content, whatever the format: for a file Keras wrote, its
    translation (`keras_files.tinyseq_document`; format "keras"). Its "weights" are the arrays
    themselves in a Keras file, references in tinyseq's own; `unstash(value)` puts the arrays
    back into any part of the document.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file: {path}")
    if os.path.isfile(path) and keras_files.is_hdf5(path):
        with _open_hdf5(path) as file:
            yield _hdf5_document(file, path)
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"load_model: {path} is not a tinyseq model file (not a zip archive nor HDF5: "
                         f"corrupt, truncated, or another format)") from None
    with archive:
        names = set(archive.namelist())
        if "config.json" in names and "model.weights.h5" in names:
            with _open_hdf5(io.BytesIO(_read_entry(archive, "model.weights.h5", path)), path) as weights_file:
                yield _keras_archive_document(archive, names, weights_file, path)
        else:
            yield _check_document(_read_entry(archive, "tinyseq.json", path), path), _unstasher(
                lambda index: np.load(io.BytesIO(archive.read(f"arrays/{index}.npy")), allow_pickle=False), path)


@contextlib.contextmanager
def _open_hdf5(source, path=None):
    """An open h5py.File for reading `source` (a path or a file object), with clear errors."""
    path = path or source
    h5py = require_h5py("load_model", path)
    try:
        file = h5py.File(source, "r")
    except OSError as error:
        raise ValueError(f"load_model: {path} is damaged: its HDF5 cannot be read ({error})") from None
    with file:
        yield file


def _read_entry(archive, name, path):
    """The bytes of one zip entry, with clear errors for a missing entry or a damaged archive."""
    try:
        return archive.read(name)
    except zipfile.BadZipFile:
        raise ValueError(f"load_model: {path} is not a tinyseq model file (not a zip archive nor HDF5: "
                         f"corrupt, truncated, or another format)") from None
    except KeyError:
        raise ValueError(f"load_model: {path} is a zip archive but not a tinyseq model (no {name})") from None


def _keras_archive_document(archive, names, weights_file, path):
    """(document, unstash) for a `.keras` zip: tinyseq's document if tinyseq wrote it, else the
    translation of Keras's config; the weights from model.weights.h5 either way."""
    keras_config = _parse_json(_read_entry(archive, "config.json", path), "config.json", path)
    layers = keras_files.keras_layers(keras_config)
    per_layer = keras_files.read_weights_file(weights_file, [entry.get("class_name") for entry in layers])
    weights = [array for arrays in per_layer for array in arrays]
    if "tinyseq.json" not in names:
        return keras_files.tinyseq_document(keras_config, weights, path), _unstasher(None, path)
    document = _check_document(_read_entry(archive, "tinyseq.json", path), path)
    document["weights"] = weights
    return document, _unstasher(
        lambda index: np.load(io.BytesIO(archive.read(f"arrays/{index}.npy")), allow_pickle=False), path)


def _hdf5_document(file, path):
    """(document, unstash) for an HDF5 file: a Keras legacy model, with tinyseq's document in its
    `tinyseq` group if tinyseq wrote it."""
    if "model_config" not in file.attrs:
        if "layers" in file:
            raise ValueError(f"load_model: {path} holds weights only (a Keras .weights.h5 file): build the model "
                             f"and call model.load_weights({path!r})")
        raise ValueError(f"load_model: {path} is an HDF5 file but not a Keras model (no model_config)")
    keras_config = _parse_json(file.attrs["model_config"], "model_config", path)
    names = [entry.get("config", {}).get("name") for entry in keras_files.keras_layers(keras_config)]
    weights = [array for arrays in keras_files.read_legacy_weights(file, names) for array in arrays]
    if "tinyseq" not in file:
        if "training_config" in file.attrs:
            keras_config["compile_config"] = _parse_json(file.attrs["training_config"], "training_config", path)
        return keras_files.tinyseq_document(keras_config, weights, path), _unstasher(None, path)
    document = _check_document(bytes(np.asarray(file["tinyseq/document"])), path)
    document["weights"] = weights
    return document, _unstasher(lambda index: np.asarray(file[f"tinyseq/arrays/{index}"]), path)


def _parse_json(raw, name, path):
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"load_model: {path} is damaged: its {name} does not parse ({error})") from None


def _check_document(raw, path):
    """The parsed tinyseq.json, after checking the format and version."""
    document = _parse_json(raw, "tinyseq.json", path)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"load_model: {path} is not a tinyseq model file (format {document.get('format')!r})"
                         if isinstance(document, dict) else f"load_model: {path} is not a tinyseq model file")
    if not isinstance(document.get("version"), int) or document["version"] > VERSION:
        raise ValueError(f"load_model: {path} was written by a newer tinyseq (file format version "
                         f"{document.get('version')}, this tinyseq {__version__} reads up to {VERSION}); "
                         f"upgrade tinyseq to load it")
    return document


def _unstasher(load_array, path):
    """A function that replaces array references by the arrays `load_array(index)` returns,
    recursively (None: the document holds no references)."""

    def load(index):
        try:
            return load_array(index)
        except (KeyError, zipfile.BadZipFile, ValueError, OSError, TypeError) as error:
            raise ValueError(f"load_model: {path} is damaged: array {index} cannot be read ({error})") from None

    def unstash(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                return load(value["__array__"])
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

