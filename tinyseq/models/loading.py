"""`load_model`: rebuild a model from a file written by `save` / `save_model`, or by Keras.

Every class and function the file names is looked up in a registry (layers, loss, metrics,
optimizer, schedule, activations, initialisers), never fetched from a module by a name read
from the file.
"""

from __future__ import annotations

import warnings

from .. import losses, optimizers
from .saving import open_model_file, set_layer_weights
from .sequential import Sequential


def load_model(path, compile=True):
    """Load a model written by `save` / `save_model`: same structure, bit-identical weights, and
    (when compiled and `compile` is true) the optimizer with its state, so `fit` continues as if
    never interrupted.

    Keras's `.keras` and `.h5` model files load too (Sequential models of the layers tinyseq
    has); their optimizer starts afresh, and a model whose loss, metrics or optimizer tinyseq
    cannot reproduce is loaded uncompiled, with a warning (as Keras does).

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a file that is not a model tinyseq reads, is damaged, was written by a
            newer tinyseq, or holds a Keras layer tinyseq cannot reproduce (the error names it).
        ImportError: for a Keras format without h5py installed.
    """
    with open_model_file(path) as (document, unstash):
        if document["model"]["class_name"] != "Sequential":
            raise ValueError(f"load_model: unsupported model class {document['model']['class_name']!r}")
        model = Sequential.from_config(document["model"]["config"])
        if document.get("input_shape"):
            model.build(tuple(document["input_shape"]))
            set_layer_weights(model, unstash(document["weights"]), f"load_model: {path}")
        if compile and document.get("compile"):
            _compile(model, document, unstash, path)
        return model


def _compile(model, document, unstash, path):
    """Compile as the file says, with the optimizer's state if the file holds it."""
    settings = document["compile"]
    try:
        optimizer = optimizers.deserialize(settings["optimizer"])
        loss = losses.deserialize(settings["loss"]) if isinstance(settings["loss"], dict) else settings["loss"]
        model.compile(optimizer=optimizer, loss=loss, metrics=settings["metrics"])
    except (ValueError, TypeError) as error:
        if document["format"] != "keras":
            raise
        warnings.warn(f"load_model: {path}: the model is loaded uncompiled: tinyseq cannot reproduce its "
                      f"compile settings ({error}); compile it yourself", RuntimeWarning, stacklevel=3)
        return
    if model.built and settings["optimizer"].get("state") is not None:
        optimizer.load_state_dict(unstash(settings["optimizer"]["state"]))
