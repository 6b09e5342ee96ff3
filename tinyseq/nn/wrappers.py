"""Layers that wrap another layer, as Keras's: `Bidirectional` and `TimeDistributed`; and
`LAYER_CLASSES`, the table of every layer class a config can name, which they use to rebuild
the layer they wrap.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..registry import Registry
from ..tensor import Tensor
from .convolutional import Conv1D
from .core import Activation, Dense, Dropout, Embedding, Layer, SpatialDropout1D
from .input import InputLayer
from .pooling import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from .recurrent import GRU, LSTM, RNN, SimpleRNN

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def build_once(layer, input_shape):
    """Build `layer` for `input_shape` unless it is built already."""
    if not layer.built:
        layer.build(input_shape)
        layer.built = True


class Bidirectional(Layer):
    """Run a recurrent layer over the sequence forwards and a copy of it backwards, and merge
    the two outputs, as Keras's `Bidirectional`.

    The wrapped layer serves as a template: like Keras, this layer makes two new layers from
    its config, `forward_<name>` and `backward_<name>` (the latter with go_backwards=True),
    each with weights of its own. The weights are the forward layer's, then the backward
    layer's, in Keras's order.

    With return_sequences, the backward layer's outputs are put back into time order before
    merging, so step t of the result combines what both directions computed at step t; and,
    as in Keras, the output at a masked step is zero in both directions.

    Args:
        layer: a SimpleRNN, LSTM or GRU with go_backwards=False (or, from a saved config,
            its {"class_name", "config"} dict).
        merge_mode: how to combine the two outputs: "concat" (the default: 2 * units
            features), "sum", "mul", "ave", or None (return both, as a list).
        backward_layer: the layer to run backwards, used as it is (default: a copy of
            `layer` with go_backwards=True). It must go the other way from `layer` and
            match its return_sequences and return_state.
        name: the layer's name (default bidirectional).
        dtype: the weights' dtype (default: the wrapped layer's).

    Call arguments:
        inputs: (batch, timesteps, features); mask, training: passed to both layers;
        initial_state: the forward layer's states followed by the backward layer's.

    Returns:
        The merged output; with merge_mode=None the list [forward, backward]; with
        return_state, followed by the forward layer's final states, then the backward's.

    Example:
        >>> Bidirectional(LSTM(8, return_sequences=True))(np.zeros((2, 5, 3))).shape
        (2, 5, 16)
    """

    min_ndim = max_ndim = 3
    input_layout = "(batch, timesteps, features)"

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None, dtype=None):
        layer = _layer_from(layer, "Bidirectional", "layer")
        super().__init__(name=name, dtype=layer.dtype if dtype is None else dtype)
        if not isinstance(layer, RNN) or type(layer) is RNN:
            raise TypeError(f"{self.name}: layer must be a SimpleRNN, LSTM or GRU, got {layer!r}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"{self.name}: merge_mode must be one of {', '.join(map(repr, MERGE_MODES))}, "
                             f"got {merge_mode!r}")
        self.merge_mode = merge_mode
        # Keras turns on zero_output_for_mask in both copies; `call` zeroes the masked steps
        # itself instead, which gives the same outputs and lets the copies keep the fused kernel.
        self.forward_layer = _copy(layer, "forward_" + layer.name.removeprefix("forward_"),
                                   zero_output_for_mask=False)
        if backward_layer is None:
            self.backward_layer = _copy(layer, "backward_" + layer.name.removeprefix("backward_"),
                                        go_backwards=True, zero_output_for_mask=False)
        else:
            self.backward_layer = _layer_from(backward_layer, self.name, "backward_layer")
        self._check_backward_layer()
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def _check_backward_layer(self):
        forward, backward = self.forward_layer, self.backward_layer
        if not isinstance(backward, RNN):
            raise TypeError(f"{self.name}: backward_layer must be a SimpleRNN, LSTM or GRU, got {backward!r}")
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(f"{self.name}: the forward and backward layers must go different ways, "
                             f"but both have go_backwards={forward.go_backwards}")
        for attribute in ("return_sequences", "return_state"):
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(f"{self.name}: the forward and backward layers must have the same "
                                 f"{attribute}, got {getattr(forward, attribute)} and "
                                 f"{getattr(backward, attribute)}")

    def build(self, input_shape):
        """Build both layers for `input_shape`."""
        build_once(self.forward_layer, input_shape)
        build_once(self.backward_layer, input_shape)
        self.input_features = self.forward_layer.input_features

    def call(self, inputs, mask=None, training=None, initial_state=None):
        """Run both directions and merge them; see the class docstring."""
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        forward = self.forward_layer(inputs, mask=mask, training=training, initial_state=forward_state)
        backward = self.backward_layer(inputs, mask=mask, training=training, initial_state=backward_state)
        states = []
        if self.return_state:
            states = list(forward[1:]) + list(backward[1:])
            forward, backward = forward[0], backward[0]
        if self.return_sequences:
            backward = backward[:, ::-1]  # the backward layer returns its steps last-first
            if mask is not None:
                forward, backward = _zero_masked_steps(forward, mask), _zero_masked_steps(backward, mask)
        merged = self.merge(forward, backward)
        outputs = (merged if self.merge_mode is None else [merged]) + states
        return outputs if len(outputs) > 1 else outputs[0]

    def merge(self, forward, backward):
        """Combine the two directions' outputs as `merge_mode` says."""
        if self.merge_mode == "concat":
            return ops.concat([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "mul":
            return forward * backward
        if self.merge_mode == "ave":
            return (forward + backward) / 2
        return [forward, backward]

    def compute_output_shape(self, input_shape):
        """The merged output's shape; with merge_mode=None or return_state, a list of shapes
        in the order `call` returns them."""
        output_shape = self.forward_layer.compute_output_shape(input_shape)
        state_shapes = []
        if self.return_state:
            output_shape, state_shapes = output_shape[0], list(output_shape[1:])
        if self.merge_mode == "concat":
            output_shape = output_shape[:-1] + (2 * output_shape[-1],)
        outputs = [output_shape, output_shape] if self.merge_mode is None else [output_shape]
        shapes = outputs + 2 * state_shapes
        return shapes if len(shapes) > 1 else shapes[0]

    def compute_mask(self, inputs, mask=None):
        """The mask goes on with the sequence (return_sequences) and ends with the last output."""
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            masks += [None] * 2 * len(self.forward_layer.cell.state_names)
        return masks if len(masks) > 1 else masks[0]

    def get_config(self):
        """Keras's keys: merge_mode, and each direction's layer as {"class_name", "config"}."""
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": LAYER_CLASSES.serialize(self.forward_layer),
                "backward_layer": LAYER_CLASSES.serialize(self.backward_layer)}


class TimeDistributed(Layer):
    """Apply a layer to every time step on its own, as Keras's `TimeDistributed`: inputs
    (batch, timesteps, ...) are run through `layer` as (batch * timesteps, ...) and the result
    is given its time axis back. The same weights serve every step.

    Args:
        layer: the layer to apply at each step, e.g. Dense(10) (or, from a saved config, its
            {"class_name", "config"} dict).
        name: the layer's name (default time_distributed).
        dtype: the dtype array-like inputs are converted to (default: the wrapped layer's).

    A mask (batch, timesteps) passes through to the next layer unchanged; the wrapped layer
    sees none (a Dense layer, the usual one to wrap, does not use one).

    Example:
        >>> TimeDistributed(Dense(10))(np.zeros((2, 5, 3))).shape
        (2, 5, 10)
    """

    min_ndim = 3
    input_layout = "(batch, timesteps, ...)"

    def __init__(self, layer, name=None, dtype=None):
        layer = _layer_from(layer, "TimeDistributed", "layer")
        super().__init__(name=name, dtype=layer.dtype if dtype is None else dtype)
        self.layer = layer

    def build(self, input_shape):
        """Build the wrapped layer for one step's input, (batch, ...)."""
        build_once(self.layer, (input_shape[0],) + tuple(input_shape[2:]))

    def call(self, inputs, mask=None, training=None):
        """Apply the wrapped layer to the (batch * timesteps) steps at once."""
        batch_size, timesteps = inputs.shape[:2]
        steps = ops.reshape(inputs, (batch_size * timesteps,) + inputs.shape[2:])
        outputs = self.layer(steps, training=training)
        return ops.reshape(outputs, (batch_size, timesteps) + outputs.shape[1:])

    def compute_output_shape(self, input_shape):
        """(batch, timesteps) followed by the wrapped layer's output shape for one step."""
        step_shape = self.layer.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(step_shape[1:])

    def get_config(self):
        """Keras's key: the wrapped layer as {"class_name", "config"}."""
        return {**super().get_config(), "layer": LAYER_CLASSES.serialize(self.layer)}


def _zero_masked_steps(sequence, mask):
    """`sequence` (batch, timesteps, units) with the steps where `mask` is False set to zero."""
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
    return ops.where(mask[:, :, None], sequence, np.zeros((), dtype=sequence.dtype))


def _copy(layer, name, **changes):
    """A new, unbuilt layer with `layer`'s config, a new name and the given `changes`."""
    return type(layer)(**{**layer.get_config(), "name": name, **changes})


def _layer_from(layer, where, argument):
    """`layer` itself, or the layer a {"class_name", "config"} dict describes."""
    if isinstance(layer, dict) and "class_name" in layer:
        return LAYER_CLASSES.deserialize(layer)
    if not isinstance(layer, Layer):
        raise TypeError(f"{where}: {argument} must be a layer, got {type(layer).__name__}")
    return layer


# Every layer a saved config can name, found by class name without regard to case. (RNN takes
# a cell object, which a config cannot hold; SimpleRNN, LSTM and GRU can be rebuilt.)
LAYER_CLASSES = Registry("layer class", {cls.__name__.lower(): cls for cls in (
    InputLayer, Dense, Activation, Embedding, Dropout, SpatialDropout1D, SimpleRNN, LSTM, GRU,
    Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D,
    Bidirectional, TimeDistributed)})
