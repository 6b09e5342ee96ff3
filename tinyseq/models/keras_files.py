"""Keras 3's model files, read and written: the `.keras` zip, `.weights.h5`, and the legacy `.h5`.

Three formats, as Keras 3.15 writes them:

    .keras        a zip of config.json (the model's structure: Keras class names and config
                  keys), metadata.json (Keras version, date) and model.weights.h5 (the weights)
    .weights.h5   the weights alone, in HDF5: layers/<layer>/vars/0, 1, ... per layer, where
                  <layer> is the snake-case class name made unique (lstm, lstm_1, ...) and a
                  layer's sub-layers sit below it (lstm/cell, bidirectional/forward_layer/cell)
    .h5, .hdf5    Keras's legacy HDF5 model: the config as a JSON attribute, and the weights in
                  model_weights/<layer name>, listed in order by each group's weight_names

Why `.h5` is written as Keras's legacy HDF5 rather than refused: the walkthrough, like the Keras
tutorial it comes from, ends with `model.save("imdb.h5")`, and whoever writes that expects a file
that Keras and HDF5 tools open. Refusing would break the line learners copy; writing tinyseq's
own zip under that name (as tinyseq did before) produced a file no HDF5 tool could read. Older
tinyseq files named `.h5` are still read: formats are recognised by their content, not their
suffix (see `saving.open_model_file`).

What tinyseq needs beyond Keras's formats goes inside them, where Keras does not look: the
exact tinyseq config (e.g. `implementation="cells"`), the compile settings with the optimizer's
state, the training state of a checkpoint and the caller's metadata. In a `.keras` zip they are
tinyseq's own `tinyseq.json` and `arrays/N.npy` entries; in an `.h5` file, a `tinyseq` group
(`tinyseq/document`: that JSON as bytes; `tinyseq/arrays/N`). The weights are stored once, where
Keras keeps them. A file Keras wrote has none of this: its config is translated layer by layer
(Keras class name -> tinyseq class, config keys passed by name), and anything tinyseq cannot
reproduce (a layer class it lacks, `stateful=True`, a regularizer, an initializer it lacks) is
refused with an error naming the layer. Its optimizer restarts from a fresh state.

HDF5 is read and written with h5py, a dependency of tinyseq; where it is missing, these formats say
so in one line (`pip install h5py`).
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import re
import warnings

import numpy as np

from .. import __version__, losses
from ..nn import init
from ..nn.core import Embedding
from ..nn.input import InputLayer
from ..nn.wrappers import LAYER_CLASSES

# The Keras release whose formats these files follow (written into them as Keras does).
KERAS_VERSION = "3.15.1"
KERAS_SUFFIXES = (".keras", ".weights.h5", ".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# The Keras layer classes tinyseq reads: its own layers, which carry Keras's class names.
KERAS_LAYERS = {cls.__name__: cls for cls in LAYER_CLASSES.entries.values() if cls is not InputLayer}

# Keras config keys that tinyseq's layers do not take, and the values that make them no-ops.
# ANY: the key changes nothing tinyseq computes (Keras's `implementation` and `unroll` choose how
# Keras runs a layer, `seed` seeds Keras's own generator).
ANY = object()
NEUTRAL_SETTINGS = {
    "trainable": (True,), "stateful": (False,), "unroll": ANY, "seed": ANY, "implementation": ANY,
    "use_cudnn": ANY, "sparse": (False,), "ragged": (False,), "optional": (False,),
    "quantization_config": (None,), "lora_rank": (None,), "lora_alpha": (None,),
    "data_format": ("channels_last", None), "groups": (1,), "keepdims": (False,), "noise_shape": (None,),
    "dropout": (0.0,), "recurrent_dropout": (0.0,), "recurrent_activation": ("sigmoid",), "use_bias": (True,),
    "reset_after": (True,), "unit_forget_bias": (True,), "zero_output_for_mask": (False,),
}
# Keras's `implementation` (1 or 2) is not tinyseq's ("fused" or "cells"): never passed on.
NOT_PASSED = {"implementation"}
# tinyseq config keys Keras 3 does not take (Keras 3 reads the input length from its InputLayer).
TINYSEQ_ONLY = {"implementation", "input_length"}
# Initializer arguments at the values tinyseq's initializers use; any other value is refused.
NEUTRAL_INITIALIZER_SETTINGS = {"seed": ANY, "gain": (1.0,), "minval": (-0.05,), "maxval": (0.05,), "mean": (0.0,),
                                "stddev": (0.05,), "input_axes": (None,), "output_axes": (None,)}
# Keras optimizer settings tinyseq's optimizers lack, at the values that make them no-ops.
NEUTRAL_OPTIMIZER_SETTINGS = {"use_ema": (False,), "ema_momentum": ANY, "ema_overwrite_frequency": (None,),
                              "loss_scale_factor": (None,), "gradient_accumulation_steps": (None,)}
# The config keys of wrapped layers (Bidirectional, TimeDistributed), each {"class_name", "config"}.
SUBLAYER_KEYS = ("layer", "backward_layer")
# Keras loss-object settings tinyseq's loss objects lack, at the values that make them no-ops.
NEUTRAL_LOSS_SETTINGS = {"axis": (-1,), "dtype": (None,)}
# Sub-layers are stored by attribute name; Keras lists a Bidirectional's forward weights first.
CHILD_ORDER = {"forward_layer": 0, "backward_layer": 1}


def require_h5py(where, path):
    """The h5py module, or an ImportError in one line saying what to install."""
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{where}: {path} is in a Keras file format (HDF5), which needs h5py: "
                          f"pip install h5py") from None
    return h5py


def keras_format(path):
    """The Keras format a file name asks for: "keras", "weights", "legacy_h5", or None (tinyseq's own)."""
    name = str(path).lower()
    if name.endswith(".keras"):
        return "keras"
    if name.endswith(".weights.h5"):
        return "weights"
    if name.endswith((".h5", ".hdf5")):
        return "legacy_h5"
    return None


def is_hdf5(path):
    """Whether the file at `path` starts with HDF5's signature."""
    with open(path, "rb") as file:
        return file.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE


def keras_snake_case(class_name):
    """Keras's snake case of a class name, which names a layer's group in a weights file
    (Conv1D -> conv1d, SimpleRNN -> simple_rnn, GlobalMaxPooling1D -> global_max_pooling1d)."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def weight_group_names(class_names):
    """The group of each layer in a `.weights.h5` file, from the layers' class names in order."""
    used, names = {}, []
    for class_name in class_names:
        name = keras_snake_case(class_name)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        names.append(name)
    return names


def weighted_layers(model):
    """`model.layers` without an InputLayer: the layers Keras lists and stores weights for."""
    return [layer for layer in model.layers if not isinstance(layer, InputLayer)]


# ---- writing -------------------------------------------------------------------------------
def keras_archive_entries(model, h5py):
    """The entries Keras reads from a `.keras` zip (metadata.json, config.json, model.weights.h5)
    for `model`, as bytes by name."""
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "tinyseq_version": __version__}
    config = {**keras_model_config(model), "compile_config": keras_compile_config(model)}
    return {"metadata.json": json.dumps(metadata).encode(), "config.json": json.dumps(config).encode(),
            "model.weights.h5": weights_file_bytes(model, h5py)}


def weights_file_bytes(model, h5py):
    """`model`'s weights as the bytes of a Keras `.weights.h5` file."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.create_group("vars").attrs["name"] = model.name
        layers = weighted_layers(model)
        for layer, group_name in zip(layers, weight_group_names(type(layer).__name__ for layer in layers)):
            _write_variables(file.create_group(f"layers/{group_name}"), layer)
    return buffer.getvalue()


def _write_variables(group, module):
    """A module's own weights in group/vars/0, 1, ..., its sub-layers' in subgroups, as Keras."""
    own = group.create_group("vars")
    own.attrs["name"] = module.name
    # named_parameters lists a module's own parameters (no dot in their names) first.
    own_weights = [parameter for name, parameter in module.named_parameters() if "." not in name]
    for i, weight in enumerate(own_weights):
        own.create_dataset(str(i), data=weight.data)
    for child_name, child in module.named_children():
        _write_variables(group.create_group(child_name), child)


def legacy_h5_bytes(model, document_bytes, arrays, h5py):
    """`model` as the bytes of Keras's legacy HDF5 file, with tinyseq's document (JSON bytes) and
    arrays in its `tinyseq` group."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.attrs["backend"] = "tensorflow"
        file.attrs["keras_version"] = KERAS_VERSION
        structure = keras_model_config(model)
        file.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": structure["config"]})
        compile_config = keras_compile_config(model)
        if compile_config is not None:
            training = {key: value for key, value in compile_config.items() if key != "optimizer"}
            training["optimizer_config"] = {key: compile_config["optimizer"][key] for key in ("class_name", "config")}
            file.attrs["training_config"] = json.dumps(training)
        weights = file.create_group("model_weights")
        weights.attrs["backend"] = "tensorflow"
        weights.attrs["keras_version"] = KERAS_VERSION
        layers = weighted_layers(model)
        weights.attrs["layer_names"] = [layer.name for layer in layers]
        for layer in layers:
            group = weights.create_group(layer.name)
            names = [f"{layer.name}/{name.replace('.', '/')}" for name, _ in layer.named_parameters()]
            group.attrs["weight_names"] = names
            for name, parameter in zip(names, layer.parameters()):
                group.create_dataset(name, data=parameter.data)
        extras = file.create_group("tinyseq")
        extras.create_dataset("document", data=np.frombuffer(document_bytes, dtype=np.uint8))
        stored = extras.create_group("arrays")
        for i, array in enumerate(arrays):
            stored.create_dataset(str(i), data=array)
    return buffer.getvalue()


def keras_model_config(model):
    """`model`'s structure as Keras's serialised Sequential (config.json without compile_config).

    The input shape becomes Keras's InputLayer (Keras 3 has no Embedding input_length).
    """
    layers = [_keras_entry(type(layer).__name__, layer.get_config()) for layer in weighted_layers(model)]
    input_layers = [layer for layer in model.layers if isinstance(layer, InputLayer)]
    if input_layers:
        layers.insert(0, _keras_entry("InputLayer", input_layers[0].get_config()))
    elif model.input_shape is not None:
        first = model.layers[0] if model.layers else None
        input_config = {"batch_shape": list(model.input_shape),
                        "dtype": "int32" if isinstance(first, Embedding) else "float32",
                        "sparse": False, "ragged": False, "name": "input_layer", "optional": False}
        layers.insert(0, _keras_entry("InputLayer", input_config))
    config = {"name": model.name, "trainable": True, "dtype": "float32", "layers": layers}
    entry = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
    if model.input_shape is not None:
        config["build_input_shape"] = list(model.input_shape)
        entry["build_config"] = {"input_shape": list(model.input_shape)}
    return entry


def _keras_entry(class_name, config):
    """A layer as Keras serialises it: tinyseq's config less the keys Keras 3 lacks, with
    sub-layers (a Bidirectional's, a TimeDistributed's) converted the same way."""
    keras_config = {}
    for key, value in config.items():
        if key in TINYSEQ_ONLY:
            continue
        if key in SUBLAYER_KEYS and isinstance(value, dict):
            value = _keras_entry(value["class_name"], value["config"])
        keras_config[key] = value
    return {"module": "keras.layers", "class_name": class_name, "config": keras_config, "registered_name": None}


def keras_compile_config(model):
    """Keras's compile_config for `model` (loss, metrics, optimizer), or None if it is not
    compiled or its optimizer has a learning-rate schedule Keras would not know."""
    if model.loss_function is None:
        return None
    optimizer = model.optimizer.get_config()
    if isinstance(optimizer.get("learning_rate"), dict):
        return None
    return {"optimizer": {"module": "keras.optimizers", "class_name": type(model.optimizer).__name__,
                          "config": optimizer, "registered_name": None},
            "loss": _keras_loss(model.loss),
            "loss_weights": None, "metrics": list(model.metric_names), "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _keras_loss(loss):
    """A loss as Keras's compile_config names it: a name, or a loss object's class and config."""
    if isinstance(loss, losses.Loss):
        return {"module": "keras.losses", **losses.serialize(loss), "registered_name": None}
    return loss if isinstance(loss, str) else loss.__name__


# ---- reading ---------------------------------------------------------------------------------
def read_weights_file(file, class_names):
    """The weights of each layer from an open `.weights.h5` (or a `.keras` zip's
    model.weights.h5), for layers of these Keras class names in order: a list of lists."""
    layers = file.get("layers")
    return [_read_variables(layers[name]) if layers is not None and name in layers else []
            for name in weight_group_names(class_names)]


def _read_variables(group):
    """A group's own vars in order, then its subgroups' (a Bidirectional's forward layer first)."""
    own = group.get("vars")
    values = [np.array(own[key]) for key in sorted(own, key=int)] if own is not None else []
    children = sorted((key for key in group if key != "vars"), key=lambda key: (CHILD_ORDER.get(key, 2), key))
    for child in children:
        values += _read_variables(group[child])
    return values


def read_legacy_weights(file, layer_names):
    """The weights of each named layer from an open legacy `.h5` model file, in weight_names order."""
    model_weights = file["model_weights"]
    weights = []
    for name in layer_names:
        group = model_weights.get(name)
        names = [] if group is None else [n.decode() if isinstance(n, bytes) else str(n)
                                          for n in group.attrs.get("weight_names", [])]
        weights.append([np.array(group[weight_name]) for weight_name in names])
    return weights


def keras_layers(keras_config):
    """The serialised layers of a Keras Sequential config, its InputLayer left out."""
    return [entry for entry in keras_config.get("config", {}).get("layers", [])
            if entry.get("class_name") != "InputLayer"]


def tinyseq_document(keras_config, weights, path):
    """A document, as tinyseq's own files hold (see `saving`), for a model Keras wrote.

    Args:
        keras_config: Keras's serialised model (config.json, or a legacy file's model_config
            with its training_config as "compile_config").
        weights: the weights of all layers, in order.
        path: the file, for error messages.

    Raises:
        ValueError: for a model that is not Sequential, or a layer tinyseq cannot reproduce.
    """
    where = f"load_model: {path}"
    if keras_config.get("class_name") != "Sequential":
        raise ValueError(f"{where} holds a Keras {keras_config.get('class_name')} model; tinyseq reads "
                         f"Sequential models only")
    config = keras_config.get("config", {})
    input_shape = config.get("build_input_shape")
    for entry in config.get("layers", []):
        if entry.get("class_name") == "InputLayer":
            input_config = entry.get("config", {})
            input_shape = input_config.get("batch_shape") or [None, *input_config.get("shape", [])]
    layers = [tinyseq_layer_entry(entry, where) for entry in keras_layers(keras_config)]
    return {"format": "keras", "model": {"class_name": "Sequential",
                                         "config": {"name": config.get("name", "sequential"), "layers": layers}},
            "input_shape": list(input_shape) if input_shape else None, "weights": weights,
            "compile": tinyseq_compile_config(keras_config.get("compile_config"), path)}


def tinyseq_layer_entry(entry, where):
    """A Keras layer's serialised entry as tinyseq's {"class_name", "config"}.

    Raises:
        ValueError: naming the layer, for a class tinyseq lacks or a setting it cannot reproduce.
    """
    class_name = entry.get("class_name")
    config = entry.get("config") or {}
    name = config.get("name", class_name)
    layer_class = KERAS_LAYERS.get(class_name)
    if layer_class is None:
        raise ValueError(f"{where}: layer {name!r} is a Keras {class_name}, which tinyseq does not have "
                         f"(it reads {', '.join(KERAS_LAYERS)})")
    accepted = inspect.signature(layer_class.__init__).parameters
    converted = {}
    for key, value in config.items():
        value = _tinyseq_value(key, value, f"{where}: layer {name!r} ({class_name})")
        if key in accepted and key not in NOT_PASSED:
            converted[key] = value
        elif not _neutral(NEUTRAL_SETTINGS, key, value) and not (key.endswith(("_regularizer", "_constraint"))
                                                                 and value is None):
            raise ValueError(f"{where}: layer {name!r} ({class_name}): {key}={value!r} has no tinyseq "
                             f"equivalent")
    return {"class_name": layer_class.__name__, "config": converted}


def _neutral(table, key, value):
    allowed = table.get(key)
    return allowed is ANY or (allowed is not None and value in allowed)


def _tinyseq_value(key, value, where):
    """A Keras config value as tinyseq's layers take it: dtype policies and initializers by
    name, sub-layers converted."""
    if not isinstance(value, dict):
        return value
    if key == "dtype":
        return value.get("config", {}).get("name", "float32")
    if key.endswith("_initializer"):
        return _tinyseq_initializer(key, value, where)
    if key in SUBLAYER_KEYS:
        return tinyseq_layer_entry(value, where)
    return value


def _tinyseq_initializer(key, value, where):
    name = keras_snake_case(value.get("class_name", ""))
    unusual = {argument: setting for argument, setting in (value.get("config") or {}).items()
               if not _neutral(NEUTRAL_INITIALIZER_SETTINGS, argument, setting)}
    try:
        init.get(name)
    except ValueError:
        raise ValueError(f"{where}: {key} {value.get('class_name')} has no tinyseq equivalent") from None
    if unusual:
        raise ValueError(f"{where}: {key} {value.get('class_name')}({unusual}) has no tinyseq equivalent "
                         f"(tinyseq's {name} uses Keras's default arguments)")
    return name


def tinyseq_compile_config(compile_config, path):
    """Keras's compile_config as tinyseq's compile settings (a fresh optimizer), or None with a
    warning, as Keras loads a model it cannot compile."""
    if not compile_config:
        return None
    loss, metrics = compile_config.get("loss"), compile_config.get("metrics") or []
    optimizer = compile_config.get("optimizer") or compile_config.get("optimizer_config") or {}
    settings = {key: value for key, value in (optimizer.get("config") or {}).items()
                if not _neutral(NEUTRAL_OPTIMIZER_SETTINGS, key, value)}
    if isinstance(loss, dict):  # a loss object: its class and config, less Keras's own defaults
        loss = {"class_name": loss.get("class_name"),
                "config": {key: value for key, value in (loss.get("config") or {}).items()
                           if not _neutral(NEUTRAL_LOSS_SETTINGS, key, value)}}
    problems = [] if isinstance(loss, (str, dict)) else [f"loss {loss!r}"]
    problems += [f"metric {metric!r}" for metric in metrics if not isinstance(metric, str)]
    problems += [f"optimizer setting {key}={value!r}" for key, value in settings.items()
                 if isinstance(value, dict) or key in NEUTRAL_OPTIMIZER_SETTINGS]
    if problems:
        warnings.warn(f"load_model: {path}: the model is loaded uncompiled: tinyseq cannot reproduce its "
                      f"{', '.join(problems)}; compile it yourself", RuntimeWarning, stacklevel=4)
        return None
    return {"loss": loss, "metrics": list(metrics),
            "optimizer": {"class_name": optimizer.get("class_name"), "config": settings, "state": None}}
