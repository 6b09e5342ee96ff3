"""`Sequential`: Keras's model of a stack of layers, with compile / fit / evaluate / predict.

The training loop is deliberately plain: shuffle, slice a batch, forward, loss, backward,
optimizer step, running averages for the progress bar. Its position (epoch, batch, the
epoch's shuffled order, the running sums) lives in one `TrainingState`, so a checkpoint can
hold it and a resumed run continues with exactly the numbers an uninterrupted one would see.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading

import numpy as np

from .. import checks, losses, metrics as metrics_module, optimizers, random
from ..nn.input import InputLayer
from ..nn.module import Module, default_name, first_free_name
from ..nn.wrappers import LAYER_CLASSES  # every layer a saved model can name (RNN, which takes a cell object, is not)
from ..tensor import Tensor, no_grad
from ..threads import single_threaded_blas
from .callbacks import Callback, CallbackList, History
from .progress import ProgressBar
from . import saving
from .training_state import TrainingState

VERBOSE_CHOICES = ("auto", 0, 1, 2)
DEFAULT_BATCH_SIZE = 32  # what fit, evaluate and predict use for batch_size=None, as Keras


class Sequential(Module):
    """A model made of layers applied one after the other, as `keras.Sequential`.

    Example:
        >>> from tinyseq.layers import Embedding, LSTM, Dense
        >>> model = Sequential([Embedding(5000, 32, input_length=500), LSTM(100),
        ...                     Dense(1, activation="sigmoid")])
        >>> model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        >>> model.count_params()
        213301
    """

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError(f"Sequential: layers must be a list of layers, got {type(layers).__name__}")
        self.layers = []
        self.input_layer = None
        self.input_shape = None
        self.optimizer = self.loss = self.loss_function = None
        self.metric_names, self.metric_functions = [], []
        self.stop_training = False
        self.history = None
        self.training_state = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer.

        Layer names are unique within a model: a layer with a default name that is taken is
        renamed as Keras would (a second `lstm` becomes `lstm_1`); a name you gave that is
        taken is an error. An `InputLayer` (from `Input(shape)`) may come first: as in Keras it
        is not one of `layers`, it gives the model its input shape, and the model is built.
        """
        if not isinstance(layer, Module):
            raise TypeError(f"{self.name}.add: expected a layer, got {type(layer).__name__}")
        if isinstance(layer, InputLayer):
            if self.layers or self.input_layer is not None:
                raise ValueError(f"{self.name}.add: an InputLayer can only come first, before any other layer")
            self.input_layer = layer
            self.input_shape = layer.batch_shape
            return
        taken = {existing.name for existing in self.layers}
        if any(layer is existing for existing in self.layers) or (layer.name in taken and not layer.named_by_default):
            raise ValueError(f"{self.name}.add: the model already has a layer named {layer.name!r}; "
                             f"layer names must be unique within a model")
        if layer.name in taken:
            layer.name = first_free_name(default_name(type(layer).__name__), taken)
        self.layers.append(layer)
        self.built = False
        if self._known_input_shape(None) is not None:
            self.build()  # as Keras: with the input shape known, summary() and count_params() work at once

    def pop(self):
        """Remove the last layer and return it, as Keras.

        Raises:
            IndexError: if the model has no layers.
        """
        if not self.layers:
            raise IndexError(f"{self.name}.pop: the model has no layers to remove")
        return self.layers.pop()

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or the one at position `index` in `layers` (give one of them).

        Raises:
            ValueError: for an unknown name, an index out of range, or neither or both given.
        """
        if (name is None) == (index is None):
            raise ValueError(f"{self.name}.get_layer: give a layer name or an index (one of them), "
                             f"got name={name!r}, index={index!r}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not (
                    -len(self.layers) <= index < len(self.layers)):
                raise ValueError(f"{self.name}.get_layer: index {index!r} is out of range for a model of "
                                 f"{len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.name}.get_layer: no layer named {name!r}; the layers are "
                         f"{[layer.name for layer in self.layers]}")

    @property
    def weights(self):
        """Every parameter Tensor of the model, layer by layer (Keras's `model.weights`)."""
        return list(self.parameters())

    @property
    def trainable_weights(self):
        """The parameters training updates: all of them (tinyseq has no frozen weights)."""
        return self.weights

    @property
    def non_trainable_weights(self):
        """Always empty: tinyseq has no frozen weights and no running statistics."""
        return []

    # ---- structure ---------------------------------------------------------------------
    def build(self, input_shape=None):
        """Build every layer for inputs of `input_shape` (batch dimension first, may be None).

        Without an argument the shape comes from the first layer (e.g. Embedding's
        input_length). Called by the first `model(x)`, `fit` or `summary` when needed.
        """
        input_shape = self._known_input_shape(input_shape)
        if input_shape is None:
            raise ValueError(f"{self.name}: the input shape is unknown: call build(input_shape), "
                             f"fit the model, or give the first layer input_length")
        shape = (None,) + tuple(input_shape[1:])
        self.input_shape = shape
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
                layer.built = True
            shape = layer.compute_output_shape(shape)
        self.built = True

    def _known_input_shape(self, input_shape):
        if input_shape is not None:
            return tuple(input_shape)
        if self.input_shape is not None:
            return self.input_shape
        first = self.layers[0] if self.layers else None
        length = getattr(first, "input_length", None)
        return (None, length) if length else None

    def call(self, inputs, training=None, mask=None):
        """Run the layers in order, handing each one the mask the previous one produced."""
        x = inputs
        for layer in self.layers:
            output = layer(x, mask=mask, training=training)
            mask = layer.compute_mask(x, mask)
            x = output
        return x

    def compute_output_shape(self, input_shape):
        """The output shape for inputs of `input_shape`."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self):
        """The model's structure as JSON-able data (layers by class name and config).

        Raises:
            ValueError: for a layer class of your own, which `from_config` could not rebuild.
        """
        layers = ([self.input_layer] if self.input_layer is not None else []) + self.layers
        for layer in layers:
            LAYER_CLASSES.name_of(type(layer))
        return {"name": self.name,
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in layers]}

    @classmethod
    def from_config(cls, config):
        """Rebuild an (unbuilt) model from `get_config()`'s output.

        Raises:
            ValueError: for a layer class that is not in `LAYER_CLASSES`.
        """
        model = cls(name=config["name"])
        for entry in config["layers"]:
            model.add(LAYER_CLASSES.get(str(entry["class_name"]))(**entry["config"]))
        return model

    def summary(self, print_fn=print):
        """Print each layer, its output shape and parameter count, then the totals (as Keras)."""
        if not self.built:
            self.build()
        rows, shape = [], self.input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shape), f"{layer.count_params():,}"))
        widths = (max(32, *(len(r[0]) + 1 for r in rows)), max(25, *(len(r[1]) + 1 for r in rows)), 12)
        rule = "_" * sum(widths)

        def line(cells):
            return "".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

        total = self.count_params()
        lines = [f'Model: "{self.name}"', rule, line(("Layer (type)", "Output Shape", "Param #")), "=" * sum(widths)]
        for i, row in enumerate(rows):
            lines += [line(row), "=" * sum(widths) if i == len(rows) - 1 else ""]
        lines += [f"Total params: {total:,}", f"Trainable params: {total:,}", "Non-trainable params: 0", rule]
        for text in lines:
            print_fn(text)

    # ---- training ------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer (a name or an object), the loss and the metrics to report.

        Args:
            optimizer: "adam", "rmsprop", "sgd", "adamw" or an optimizer from `tinyseq.optimizers`.
            loss: a loss name ("binary_crossentropy", ...), a loss object (`BinaryCrossentropy(
                from_logits=True)`, ...) or a function (y_true, y_pred) -> per-sample losses,
                given the batch's targets as a numpy array and the predictions as a Tensor.
                `fit` weights and averages them as Keras does (see `losses.reduce_losses`).
            metrics: names such as "accuracy" (binary, sparse or categorical accuracy, chosen
                from the shapes of the targets and outputs, as Keras does) or functions
                (y_true, y_pred) -> float. They ignore sample and class weights, as Keras's
                `metrics` do.
        """
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='binary_crossentropy'")
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError(f"compile: metrics must be a list, e.g. metrics=['accuracy'], got {metrics!r}")
        self.optimizer = optimizers.get(optimizer)
        self.loss, self.loss_function = loss, losses.get(loss)
        self.metric_names = [m if isinstance(m, str) else m.__name__ for m in metrics or []]
        self.metric_functions = [metrics_module.get(m) for m in metrics or []]

    def fit(self, x, y, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, bucket_by_length=False):
        """Train for `epochs` epochs; return a `History` whose `.history` holds each epoch's metrics.

        Args:
            x, y: inputs and targets (numpy arrays; token ids as integers).
            batch_size: samples per gradient step (None: 32, as Keras).
            epochs: the epoch to stop after (counting from 0, as Keras).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch ("auto" is 1).
            callbacks: e.g. ModelCheckpoint, EarlyStopping, BackupAndRestore. Their hooks are
                called when Keras calls them: on_train_begin/end, on_epoch_begin/end,
                on_train_batch_begin/end (batches counted from 0), and during validation
                on_test_begin/end and on_test_batch_begin/end.
            validation_split: the fraction s of samples held out for validation, taken from the
                END before shuffling, as Keras: training keeps the first floor(N (1 - s)).
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val), used instead
                of validation_split.
            shuffle: reshuffle the training samples every epoch (from the seeded RNG).
            class_weight: {class: weight}; each training sample's loss is weighted by its
                class's weight (the class is the label, its rounded value, or the argmax of a
                one-hot target; classes not listed weigh 1), as Keras.
            sample_weight: one weight per training sample, shape (samples,). A batch's loss
                is sum(weight * loss) / batch size, as Keras. Not with class_weight.
            initial_epoch: the epoch to start from.
            bucket_by_length: put sequences of similar length (id 0 is padding) in the same
                batch, so that fewer steps run: a recurrent layer fed by
                `Embedding(mask_zero=True)` runs no step before the batch's first real one.
                Only which samples share a batch changes, not the model or its maths. See
                `length_bucketed_order` for the order and what it does to accuracy.

        Ctrl-C stops after the current batch (during validation: once the epoch has ended, the
        last epoch's too), lets callbacks react (BackupAndRestore saves a checkpoint) and raises
        KeyboardInterrupt; a second Ctrl-C stops at once. A callback
        stops training after a batch by setting `model.stop_training` (see `TerminateOnNaN`).

        Raises:
            ValueError: for an argument out of its range, naming it and its value.
        """
        self._require_compiled("fit")
        x, y = _check_pair(x, y, "fit")
        batch_size = _batch_size(batch_size, "fit")
        epochs = checks.positive_int(epochs, "epochs", "fit")
        initial_epoch = checks.non_negative_int(initial_epoch, "initial_epoch", "fit")
        if initial_epoch >= epochs:
            raise ValueError(f"fit: initial_epoch must be less than epochs, got initial_epoch={initial_epoch} "
                             f"and epochs={epochs} (epochs is the epoch to stop after, counting from 0)")
        validation_split = checks.number(validation_split, "validation_split", "fit", low=0, high=1, high_open=True)
        verbose = checks.one_of(verbose, "verbose", "fit", VERBOSE_CHOICES)
        shuffle = checks.boolean(shuffle, "shuffle", "fit")
        bucket_by_length = checks.boolean(bucket_by_length, "bucket_by_length", "fit")
        callbacks = _check_callbacks(callbacks)
        sample_weight = _sample_weights(sample_weight, None, y, "fit")
        if sample_weight is not None and class_weight is not None:
            raise ValueError("fit: give sample_weight or class_weight, not both")
        if validation_data is not None:
            if not (isinstance(validation_data, (list, tuple)) and len(validation_data) in (2, 3)):
                raise ValueError(f"fit: validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val), "
                                 f"got {type(validation_data).__name__}"
                                 + (f" of length {len(validation_data)}" if hasattr(validation_data, "__len__") else ""))
            x_val, y_val = _check_pair(*validation_data[:2], "fit: validation_data")
            validation_weight = validation_data[2] if len(validation_data) == 3 else None
            validation_data = (x_val, y_val, _sample_weights(validation_weight, None, y_val, "fit: validation_data"))
        elif validation_split:
            cut = math.floor(len(x) * (1 - validation_split))  # Keras's split, to the sample
            if cut == len(x) or cut == 0:
                raise ValueError(f"fit: validation_split={validation_split} of {len(x)} samples leaves "
                                 f"{len(x) - cut} for validation and {cut} for training; each needs at least one")
            held_out = None if sample_weight is None else sample_weight[cut:]
            validation_data = (x[cut:], y[cut:], held_out)
            x, y = x[:cut], y[:cut]
            sample_weight = None if sample_weight is None else sample_weight[:cut]
        if class_weight is not None:  # as Keras: the training samples only, never the validation ones
            sample_weight = _sample_weights(None, class_weight, y, "fit")
        if not self.built:
            self.build(x.shape)
        verbose = 1 if verbose == "auto" else verbose
        steps = math.ceil(len(x) / batch_size)
        self.history = History()
        callback_list = CallbackList([*callbacks, self.history], model=self)
        self.training_state = TrainingState(epoch=initial_epoch)
        self.stop_training = False
        callback_list.on_train_begin({})
        state = self.training_state  # a callback (BackupAndRestore) may have restored one
        logs = None
        with _stop_on_first_ctrl_c() as interrupted:
            while state.epoch < epochs and not self.stop_training:
                if state.order is None:
                    if bucket_by_length:
                        state.order = length_bucketed_order(sequence_lengths(x), batch_size, shuffle)
                    else:
                        state.order = random.generator().permutation(len(x)) if shuffle else np.arange(len(x))
                callback_list.on_epoch_begin(state.epoch, {})  # also when a restored run resumes mid-epoch
                if verbose:
                    print(f"Epoch {state.epoch + 1}/{epochs}")
                bar = ProgressBar(steps, verbose)
                self.train()
                while state.batch < steps:
                    batch = state.order[state.batch * batch_size:(state.batch + 1) * batch_size]
                    callback_list.on_train_batch_begin(state.batch, {})
                    weights = None if sample_weight is None else sample_weight[batch]
                    for name, value in self.train_step(x[batch], y[batch], weights).items():
                        state.totals[name] = state.totals.get(name, 0.0) + value * len(batch)
                    state.seen += len(batch)
                    state.batch += 1
                    running = state.averages()
                    bar.update(state.batch, running)
                    callback_list.on_train_batch_end(state.batch - 1, running)
                    if interrupted():
                        _interrupt(callback_list, f"in epoch {state.epoch + 1}, after batch {state.batch} of {steps}")
                    if self.stop_training:
                        break  # the epoch ends here: its logs cover the batches done
                logs = state.averages()
                if validation_data is not None:
                    scores = self._evaluate(*validation_data, batch_size, 0, callback_list)
                    logs.update({f"val_{name}": value for name, value in scores.items()})
                bar.finish(logs)
                for name, value in logs.items():
                    state.history.setdefault(name, []).append(value)
                epoch = state.epoch
                state.start_next_epoch()
                callback_list.on_epoch_end(epoch, logs)
                if interrupted():  # Ctrl-C during validation or the epoch's callbacks: also the last epoch's
                    _interrupt(callback_list, f"after epoch {epoch + 1} of {epochs}")
        callback_list.on_train_end(logs)
        return self.history

    @single_threaded_blas()  # see `tinyseq.threads`: small products are faster, and safe on a busy machine
    def train_step(self, x, y, sample_weight=None):
        """One gradient step on a batch; returns the batch's loss and metrics.

        numpy's matrix products run on one thread meanwhile (the fused recurrent layers use a
        helper thread of their own; see `tinyseq.threads`)."""
        self.zero_grad()
        prediction = self(x, training=True)
        loss = losses.weighted_loss(self.loss_function, y, prediction, sample_weight)
        loss.backward()
        self.optimizer.step(self.parameters())
        return {"loss": loss.item(), **self._metric_values(y, prediction.data)}

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on the batch (x, y); its loss and metrics as `evaluate` returns them.

        Args:
            x, y: one batch of inputs and targets.
            sample_weight, class_weight: as in `fit`.
            return_dict: return {"loss": ..., metric: ...} instead of a list (or the loss alone).
        """
        self._require_compiled("train_on_batch")
        x, y = _check_pair(x, y, "train_on_batch")
        sample_weight = _sample_weights(sample_weight, class_weight, y, "train_on_batch")
        if not self.built:
            self.build(x.shape)
        self.train()
        return self._scores_as_keras(self.train_step(x, y, sample_weight), return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """The loss and metrics of the batch (x, y) in inference mode, as `evaluate` returns them."""
        self._require_compiled("test_on_batch")
        x, y = _check_pair(x, y, "test_on_batch")
        sample_weight = _sample_weights(sample_weight, None, y, "test_on_batch")
        return self._scores_as_keras(self._evaluate(x, y, sample_weight, len(x), 0, CallbackList([], self)),
                                     return_dict)

    def predict_on_batch(self, x):
        """The model's outputs for one batch `x`, in inference mode, as a numpy array."""
        x = _check_samples(x, "x", "predict_on_batch", min_ndim=2)
        return self._predict(x, len(x), 0, CallbackList([], self))

    def evaluate(self, x, y, batch_size=None, verbose="auto", sample_weight=None, callbacks=None,
                 return_dict=False):
        """The loss and metrics over (x, y): [loss, metric, ...] (or a dict), as Keras.

        Returns the loss alone when no metrics were compiled.

        Args:
            x, y: inputs and targets.
            batch_size: samples per batch (None: 32, as Keras).
            verbose: 0 silent, 1 progress bar, 2 one line ("auto" is 1).
            sample_weight: one weight per sample; the loss is sum(weight * loss) / samples.
            callbacks: Callback objects, whose on_test_begin/end and on_test_batch_begin/end
                hooks are called.
            return_dict: return {"loss": ..., metric: ...}.
        """
        self._require_compiled("evaluate")
        x, y = _check_pair(x, y, "evaluate")
        batch_size = _batch_size(batch_size, "evaluate")
        verbose = checks.one_of(verbose, "verbose", "evaluate", VERBOSE_CHOICES)
        sample_weight = _sample_weights(sample_weight, None, y, "evaluate")
        callback_list = CallbackList(_check_callbacks(callbacks, "evaluate"), model=self)
        return self._scores_as_keras(self._evaluate(x, y, sample_weight, batch_size, verbose, callback_list),
                                     return_dict)

    def _evaluate(self, x, y, sample_weight, batch_size, verbose, callback_list):
        """The loss and metrics over (x, y) as a dict, calling the test hooks of `callback_list`."""
        totals, seen = {}, 0
        callback_list.on_test_begin({})
        for step, samples, prediction in self._predict_batches(x, batch_size, verbose, callback_list.on_test_batch_begin):
            y_batch = y[samples]
            weights = None if sample_weight is None else sample_weight[samples]
            with no_grad():
                loss = losses.weighted_loss(self.loss_function, y_batch, Tensor(prediction), weights)
            for name, value in {"loss": loss.item(), **self._metric_values(y_batch, prediction)}.items():
                totals[name] = totals.get(name, 0.0) + value * len(prediction)
            seen += len(prediction)
            callback_list.on_test_batch_end(step, {name: total / seen for name, total in totals.items()})
        scores = {name: total / seen for name, total in totals.items()}
        callback_list.on_test_end(scores)
        return scores

    def _scores_as_keras(self, scores, return_dict):
        """A dict of scores as Keras returns them: the dict, the loss alone, or [loss, metric, ...]."""
        if return_dict:
            return scores
        return list(scores.values()) if self.metric_names else scores["loss"]

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """The model's outputs for `x`, computed in inference mode (no dropout), as a numpy array.

        Args:
            x: the inputs.
            batch_size: samples per batch (None: 32, as Keras).
            verbose: 0 silent, 1 progress bar, 2 one line ("auto" is 1).
            callbacks: Callback objects, whose on_predict_begin/end and
                on_predict_batch_begin/end hooks are called (the batch's logs hold its
                "outputs").
        """
        x = _check_samples(x, "x", "predict", min_ndim=2)
        batch_size = _batch_size(batch_size, "predict")
        verbose = checks.one_of(verbose, "verbose", "predict", VERBOSE_CHOICES)
        return self._predict(x, batch_size, verbose, CallbackList(_check_callbacks(callbacks, "predict"), model=self))

    def _predict(self, x, batch_size, verbose, callback_list):
        callback_list.on_predict_begin({})
        samples_done, outputs = [], []
        for step, samples, output in self._predict_batches(x, batch_size, verbose,
                                                           callback_list.on_predict_batch_begin):
            samples_done.append(samples)
            outputs.append(output)
            callback_list.on_predict_batch_end(step, {"outputs": output})
        outputs = np.concatenate(outputs)
        in_order = np.empty_like(outputs)
        in_order[np.concatenate(samples_done)] = outputs
        callback_list.on_predict_end({})
        return in_order

    def _predict_batches(self, x, batch_size, verbose, on_batch_begin):
        """Yield (step, sample indices, outputs) batch by batch, in inference mode, calling
        `on_batch_begin(step, {})` before each batch.

        When the first layer masks its input (e.g. `Embedding(mask_zero=True)`), the samples go
        in order of length: batches of similar lengths run fewer steps (see `bucket_by_length`),
        and in inference a sample's output does not depend on its batch mates. (It may differ
        in the last bits of rounding: the matrix products are of other sizes.)
        """
        steps = math.ceil(len(x) / batch_size)
        masked = bool(self.layers) and x.ndim >= 2 and self.layers[0].compute_mask(x[:1]) is not None
        order = np.argsort(sequence_lengths(x), kind="stable") if masked else np.arange(len(x))
        bar = ProgressBar(steps, 1 if verbose == "auto" else verbose)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for step in range(steps):
                    samples = order[step * batch_size:(step + 1) * batch_size]
                    on_batch_begin(step, {})
                    with single_threaded_blas():  # as in train_step
                        output = self(x[samples], training=False).data
                    yield step, samples, output
                    bar.update(step + 1, {})
        finally:
            self.train(was_training)
        bar.finish({})

    def _metric_values(self, y_true, y_pred):
        return {name: float(function(y_true, y_pred))
                for name, function in zip(self.metric_names, self.metric_functions)}

    def _require_compiled(self, method):
        if self.loss_function is None:
            raise RuntimeError(f"{method}: compile the model first, e.g. "
                               f"model.compile(loss='binary_crossentropy', optimizer='adam')")

    def save(self, path):
        """Write the model (structure, weights, optimizer state) to one file; see `load_model`.

        Raises:
            ValueError: before writing anything, for a part `load_model` could not rebuild (see
                `save_model`).
        """
        saving.save_model(self, path)

    def save_weights(self, filepath, overwrite=True):
        """Write the weights alone to a Keras `.weights.h5` file (see `saving.save_weights`)."""
        saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath):
        """Read weights from a `.weights.h5`, `.keras`, Keras `.h5` or tinyseq model file, layer by
        layer in order (see `saving.load_weights`)."""
        saving.load_weights(self, filepath)


# Batches per pool: a pool is a random sample of BUCKET_POOL_BATCHES batches' worth of samples,
# cut by length into that many batches. Larger pools save more steps but make each batch less
# like a random one; see `length_bucketed_order` for what that costs.
BUCKET_POOL_BATCHES = 2


def sequence_lengths(x):
    """The number of real (non-zero) steps of each sequence in x, (samples, timesteps[, features])."""
    if x.ndim < 2:
        raise ValueError(f"bucket_by_length: needs sequences (samples, timesteps, ...), got shape {x.shape}")
    real_steps = x != 0 if x.ndim == 2 else (x != 0).any(axis=tuple(range(2, x.ndim)))
    return real_steps.sum(axis=1)


def length_bucketed_order(lengths, batch_size, shuffle=True):
    """An epoch's order of sample indices in which each batch holds sequences of similar length.

    Shuffle the samples and set aside the remainder that does not fill a batch: it becomes the
    short last batch, a random sample as without bucketing (`fit` cuts the order every
    `batch_size` samples, so it must come last). Cut the rest into pools of
    `BUCKET_POOL_BATCHES` batches' worth of samples; sort each pool by length (stably, so
    equal lengths stay shuffled), cut it into batches, and put the pool's batches in a random
    order. The pools follow one another.

    Why pools in turn, and why small ones: a batch of short reviews pulls the weights one way,
    a batch of long ones another, so buckets change the training, not only its speed. Taking
    the pools in turn, every `BUCKET_POOL_BATCHES` consecutive steps see every range of lengths
    once, and an epoch cannot end on a streak of one length. And the smaller the pool, the more
    each batch looks like a random one. `benchmarks/README.md` compares the test accuracy of
    random batches and of pools of 2 and of 8 on IMDB's seed model.

    Every draw comes from the seeded generator (`tinyseq.random`), and `fit` keeps the order
    in its `TrainingState`, so a checkpointed epoch resumes exactly. Without `shuffle` nothing
    is drawn: each pool of consecutive samples is sorted, and that is the order.

    Args:
        lengths: the length of every sample (see `sequence_lengths`).
        batch_size: the batch size `fit` will cut the order into.
        shuffle: whether to draw the random parts.
    """
    count = len(lengths)
    order = random.generator().permutation(count) if shuffle else np.arange(count)
    full_batches = count // batch_size
    order, remainder = order[:full_batches * batch_size], order[full_batches * batch_size:]
    pool = batch_size * BUCKET_POOL_BATCHES
    for start in range(0, len(order), pool):
        members = order[start:start + pool]  # a view: sorting it sorts that part of `order`
        members[:] = members[np.argsort(lengths[members], kind="stable")]
        if shuffle:
            batches = members.reshape(-1, batch_size)
            batches[:] = batches[random.generator().permutation(len(batches))]
    return np.concatenate([order, remainder])


def _check_pair(x, y, method):
    """x and y as arrays of the same number of samples (see `_check_samples`)."""
    x, y = _check_samples(x, "x", method, min_ndim=2), _check_samples(y, "y", method, min_ndim=1)
    if len(x) != len(y):
        raise ValueError(f"{method}: x has {len(x)} samples but y has {len(y)}")
    return x, y


def _check_samples(data, argument, method, min_ndim):
    """`data` as a numpy array of at least one sample, after checking that it holds finite numbers
    in at least `min_ndim` axes (inputs have a sample axis and at least one more)."""
    try:
        array = np.asarray(data)
    except ValueError:  # numpy's "inhomogeneous shape"
        raise ValueError(f"{method}: {argument} is ragged (its samples have different shapes); pad the "
                         f"sequences to one length first, e.g. with pad_sequences") from None
    # Object arrays pass only when every item is a number (e.g. ids too large for int64).
    if array.dtype.kind not in "biufO" or (array.dtype.kind == "O" and not all(
            isinstance(item, numbers.Number) and not isinstance(item, bool) for item in array.flat)):
        raise ValueError(f"{method}: {argument} must hold numbers, got an array of dtype {array.dtype}")
    if array.ndim < min_ndim:
        axes = "(samples, ...)" if min_ndim == 2 else "(samples,)"
        raise ValueError(f"{method}: {argument} must have at least {min_ndim} axes {axes}, got shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{method}: no samples ({argument} has shape {array.shape})")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        position = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{method}: {argument} holds {array[position]} at position {position}; "
                         f"inputs and targets must be finite numbers")
    return array


def _check_callbacks(callbacks, method="fit"):
    """`callbacks` as a list, after checking each is a Callback."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(f"{method}: callbacks must be a list of Callback objects, got {type(callbacks).__name__}")
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise ValueError(f"{method}: callbacks must be Callback objects, got {callback!r}")
    return list(callbacks)


def _batch_size(batch_size, method):
    """`batch_size` checked, with None meaning Keras's default of 32."""
    return DEFAULT_BATCH_SIZE if batch_size is None else checks.positive_int(batch_size, "batch_size", method)


def _sample_weights(sample_weight, class_weight, y, method):
    """One weight per sample of `y` (a float array), from `sample_weight` or `class_weight`, or None.

    As Keras, a sample's class is its label, the rounded value of a (samples, 1) target, or the
    argmax of a one-hot target; classes not in `class_weight` weigh 1.
    """
    if sample_weight is not None and class_weight is not None:
        raise ValueError(f"{method}: give sample_weight or class_weight, not both")
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise ValueError(f"{method}: class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
        for label, weight in class_weight.items():
            if isinstance(label, bool) or not isinstance(label, numbers.Integral):
                raise ValueError(f"{method}: class_weight's keys must be integer classes, got {label!r}")
            checks.number(weight, f"class_weight[{label!r}]", method)
        classes = y
        if y.ndim > 1:
            classes = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
        if classes.ndim != 1:
            raise ValueError(f"{method}: class_weight needs one class per sample, but y has shape {y.shape}")
        classes = np.round(classes).astype(np.int64)
        return np.array([class_weight.get(int(label), 1.0) for label in classes], dtype=np.float64)
    if sample_weight is None:
        return None
    weights = _check_samples(sample_weight, "sample_weight", method, min_ndim=1)
    if weights.shape != (len(y),):
        raise ValueError(f"{method}: sample_weight must have shape ({len(y)},), one weight per sample, "
                         f"got shape {weights.shape}")
    return weights.astype(np.float64)


def _interrupt(callback_list, where):
    """Let the callbacks react to Ctrl-C (BackupAndRestore saves), then stop `fit`."""
    callback_list.on_train_interrupt()
    raise KeyboardInterrupt(f"training interrupted {where}")


class _stop_on_first_ctrl_c:
    """While active, a first Ctrl-C only raises a flag (the loop stops at a batch boundary, where
    the weights are consistent); a second one interrupts at once."""

    def __enter__(self):
        self.flag = False
        self.installed = threading.current_thread() is threading.main_thread()  # only it may set handlers
        if self.installed:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return lambda: self.flag

    def _handle(self, signum, frame):
        if self.flag:
            raise KeyboardInterrupt
        self.flag = True
        print("\nCtrl-C: stopping after this batch (press again to stop at once) ...", flush=True)

    def __exit__(self, *exc):
        if self.installed:
            # None: the handler before was set outside Python (TensorFlow does this); Python's own
            # is the one to go back to, or Ctrl-C would go on raising only our flag after `fit`.
            signal.signal(signal.SIGINT, signal.default_int_handler if self.previous is None else self.previous)
        return False
