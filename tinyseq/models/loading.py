"""`load_model`: rebuild a model from a file written by `save` / `save_model`.

Every class and function the file names is looked up in a registry (layers, loss, metrics,
optimizer, schedule, activations, initialisers), never fetched from a module by a name read
from the file.
"""

from __future__ import annotations

from .. import optimizers
from .saving import open_model_file
from .sequential import Sequential


def load_model(path, compile=True):
    """Load a model written by `save` / `save_model`: same structure, bit-identical weights, and
    (when compiled and `compile` is true) the optimizer with its state, so `fit` continues as if
    never interrupted.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: for a file that is not a tinyseq model, is damaged, or was written by a
            newer tinyseq.
    """
    with open_model_file(path) as (document, unstash):
        if document["model"]["class_name"] != "Sequential":
            raise ValueError(f"load_model: unsupported model class {document['model']['class_name']!r}")
        model = Sequential.from_config(document["model"]["config"])
        if document.get("input_shape"):
            model.build(tuple(document["input_shape"]))
            model.set_weights(unstash(document["weights"]))
        if compile and document.get("compile"):
            settings = document["compile"]
            optimizer = optimizers.deserialize(settings["optimizer"])
            model.compile(optimizer=optimizer, loss=settings["loss"], metrics=settings["metrics"])
            if model.built:
                optimizer.load_state_dict(unstash(settings["optimizer"]["state"]))
        return model
