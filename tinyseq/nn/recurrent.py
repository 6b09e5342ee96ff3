"""Sequence layers: `SimpleRNN`, `LSTM` and `GRU` run their cell over (batch, timesteps, features).

All three share one time loop, in `RNN`. It follows Keras:

* `return_sequences` returns the output at every step (batch, timesteps, units) instead of
  only the last one; `return_state` adds the final states: [output, h] or [output, h, c].
* `go_backwards` reads the sequence from the end; the returned sequence is in that
  (reversed) processing order, as Keras returns it.
* A mask (batch, timesteps) of booleans, from `Embedding(mask_zero=True).compute_mask` or given
  as `mask=`, marks real steps True. At a False (padding) step the states carry over unchanged
  and the output repeats the previous step's output (zeros before the first real step), so
  padding, before or after the real steps, does not change the result.
* Steps at either end of the sequence that are padding for the whole batch are not run at all:
  they would carry every state over and repeat the output, so skipping them is exact. The
  fused kernel goes further, row by row: a sequence padded at the front waits in its initial
  state until its first real step, so it is not run before it (see `fused.schedule.StartSchedule`).

Two implementations compute the same thing. `implementation="cells"` runs the loop below, one
cell step of primitive ops per time step, so autograd differentiates it and the graph can be
drawn step by step. `implementation="fused"` (the default of SimpleRNN, LSTM and GRU) hands
the whole sequence to a hand-written kernel, `fused.scaffold.fused_recurrence`: one graph node,
the same numbers to rounding error, several times less work per step. Keras's numbers 1 and 2
run the fused kernel too. Where the kernel does not support an argument of the layer (see
`fused_support_problem`), the layer runs the cells loop instead, automatically
(`layer.runs_fused` says which).

In training (`training=True`, or the layer's training mode when `training` is None) a layer
with `dropout` or `recurrent_dropout` draws its dropout masks once per call, from tinyseq's
generator, and both implementations use the same masks at every time step (see `cells.py`).
"""

from __future__ import annotations

import numpy as np

from .. import checks, ops
from ..tensor import ShapeError, Tensor
from .cells import GRUCell, LSTMCell, SimpleRNNCell
from .core import Layer
from .fused.scaffold import fused_recurrence, fused_support_problem

IMPLEMENTATIONS = ("fused", "cells", 1, 2)


class RNN(Layer):
    """Run a recurrent cell along the time axis: the loop shared by SimpleRNN, LSTM and GRU.

    Args:
        cell: a `RecurrentCell`.
        return_sequences: return the outputs of all steps, not just the last.
        return_state: also return the final states, as [output, *states].
        go_backwards: process the sequence from its last step to its first.
        unroll: accepted for Keras compatibility; it does not change the result (Keras unrolls
            the loop into the graph; tinyseq's loop always records every step).
        zero_output_for_mask: at a padding step, output zeros instead of repeating the
            previous output (the states carry over either way).
        implementation: "cells" (any cell, step by step from primitive ops), or "fused", 1 or
            2 (one hand-written kernel for the whole sequence, where it supports the cell and
            the arguments; otherwise the cells loop runs, with the same numbers).
        name: the layer's name.
        dtype: the weights' dtype (the cell must have the same).

    Call arguments:
        inputs: (batch, timesteps, features).
        mask: optional (batch, timesteps) booleans; False steps are skipped.
        training: whether dropout is on (None: the layer's own training mode).
        initial_state: optional list of starting states, each (batch, units); default zeros.
    """

    min_ndim = max_ndim = 3
    input_layout = "(batch, timesteps, features)"

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, unroll=False,
                 zero_output_for_mask=False, implementation="cells", name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        if cell.dtype != self.dtype:
            raise TypeError(f"{self.name}: the cell's dtype {cell.dtype} differs from the layer's {self.dtype}")
        self.cell = cell
        self.return_sequences = checks.boolean(return_sequences, "return_sequences", self.name)
        self.return_state = checks.boolean(return_state, "return_state", self.name)
        self.go_backwards = checks.boolean(go_backwards, "go_backwards", self.name)
        self.unroll = checks.boolean(unroll, "unroll", self.name)
        self.zero_output_for_mask = checks.boolean(zero_output_for_mask, "zero_output_for_mask", self.name)
        self.implementation = checks.one_of(implementation, "implementation", self.name, IMPLEMENTATIONS)

    @property
    def units(self):
        """The size of the cell's hidden state."""
        return self.cell.units

    @property
    def runs_fused(self):
        """Whether calls run the fused kernel (else the cells loop, with the same numbers)."""
        return self.implementation != "cells" and fused_support_problem(self.cell) is None

    def build(self, input_shape):
        """Build the cell for one step's input, (batch, features), unless it was built already."""
        if not self.cell.built:
            self.cell.build((input_shape[0], input_shape[-1]))
            self.cell.built = True
        self.input_features = self.cell.input_features

    def call(self, inputs, mask=None, training=None, initial_state=None):
        """Run the cell over every time step; see the class docstring for the arguments."""
        batch_size, timesteps, _ = inputs.shape
        if timesteps == 0:
            raise ShapeError(f"{self.name}: the input has no time steps (shape {inputs.shape})")
        if initial_state is None:
            states = self.cell.get_initial_state(batch_size)
        else:
            states = self.cell.check_states(initial_state, batch_size, f"{self.name}: initial_state")
        training = self.training if training is None else training
        input_masks, recurrent_masks = self.cell.draw_dropout_masks(batch_size) if training else (None, None)
        keep = self._check_mask(mask, batch_size, timesteps)
        inputs, keep, skipped = self._skip_padding(inputs, keep)

        if self.runs_fused:
            result, states = fused_recurrence(self.cell, inputs, states, keep, self.go_backwards,
                                              self.return_sequences, (input_masks, recurrent_masks),
                                              self.zero_output_for_mask)
        else:
            # Keras starts the "previous output" that masked steps repeat at zero, not at the state.
            zeros = Tensor(np.zeros((batch_size, self.units), dtype=self.dtype))
            output = zeros
            outputs = []
            steps = inputs.shape[1]
            for t in (reversed(range(steps)) if self.go_backwards else range(steps)):
                # Each step projects its own slice of the inputs. Projecting all steps up front
                # in one matrix product runs no faster here and holds a (batch, timesteps,
                # 4 * units) array and its gradient alive for the whole pass.
                step_input = self.cell.project_inputs(inputs[:, t], input_masks)
                new_output, new_states = self.cell.step(step_input, states, recurrent_masks=recurrent_masks)
                if keep is not None:
                    kept = keep[:, t, None]  # (batch, 1): broadcasts over the units
                    new_output = ops.where(kept, new_output, zeros if self.zero_output_for_mask else output)
                    new_states = [ops.where(kept, new, old) for new, old in zip(new_states, states)]
                output, states = new_output, new_states
                if self.return_sequences:
                    outputs.append(output)
            result = ops.stack(outputs, axis=1) if self.return_sequences else output

        if self.return_sequences and any(skipped):
            result = self._restore_skipped_outputs(result, *skipped)
        return [result, *states] if self.return_state else result

    def _skip_padding(self, inputs, keep):
        """Cut off the steps at either end that are padding for every sequence of the batch.

        Running them would change nothing (every state carries over, the output repeats), so
        this is exact. Returns the shorter inputs and mask, and how many steps were cut before
        and after the rest *in processing order* (go_backwards processes the end first).
        """
        # With zero_output_for_mask, skipped steps would have to output zeros; they run instead.
        if keep is None or self.zero_output_for_mask:
            return inputs, keep, (0, 0)
        timesteps = keep.shape[1]
        real_steps = np.flatnonzero(keep.any(axis=0))
        # With no real step at all, one padding step still gives the right (unchanged) result.
        first, stop = (real_steps[0], real_steps[-1] + 1) if len(real_steps) else (0, 1)
        if (first, stop) == (0, timesteps):
            return inputs, keep, (0, 0)
        skipped = (timesteps - stop, first) if self.go_backwards else (first, timesteps - stop)
        return inputs[:, first:stop], keep[:, first:stop], skipped

    def _restore_skipped_outputs(self, sequence, before, after):
        """Put back the outputs of skipped padding steps: zeros before the first real step,
        the last output repeated after the last one."""
        batch_size = sequence.shape[0]
        pieces = [Tensor(np.zeros((batch_size, before, self.units), dtype=self.dtype))] if before else []
        pieces.append(sequence)
        if after:
            last = ops.reshape(sequence[:, -1], (batch_size, 1, self.units))
            pieces.append(last * np.ones((1, after, 1), dtype=self.dtype))
        return ops.concat(pieces, axis=1)

    def _check_mask(self, mask, batch_size, timesteps):
        if mask is None:
            return None
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.shape != (batch_size, timesteps):
            raise ShapeError(f"{self.name}: the mask has shape {mask.shape}; expected "
                             f"{(batch_size, timesteps)} (batch, timesteps)")
        return mask.astype(bool)

    def compute_output_shape(self, input_shape):
        """(batch, units), or (batch, timesteps, units) with return_sequences; with
        return_state, a list [output shape, one (batch, units) per state]."""
        batch_size, timesteps = input_shape[0], input_shape[1]
        if self.return_sequences:
            output_shape = (batch_size, timesteps, self.units)
        else:
            output_shape = (batch_size, self.units)
        if self.return_state:
            return [output_shape] + [(batch_size, self.units)] * len(self.cell.state_names)
        return output_shape

    def compute_mask(self, inputs, mask=None):
        """The mask goes on with the sequence (return_sequences) and ends with the last output."""
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.cell.state_names)
        return output_mask

    def get_config(self):
        """The cell's arguments plus the sequence options (see `Layer.get_config`)."""
        cell_config = {key: value for key, value in self.cell.get_config().items() if key != "name"}
        return {**super().get_config(), **cell_config, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask, "implementation": self.implementation}


def _keras_implementation(implementation):
    """The Keras implementation number a gated cell gets: 1 or 2 as given, else Keras's default 2."""
    return implementation if type(implementation) is int and implementation in (1, 2) else 2


class SimpleRNN(RNN):
    """A fully connected RNN over a sequence: h_t = tanh(x_t W + h_{t-1} U + b).

    Args:
        units: the size of the hidden state.
        activation: default tanh. The fused kernel runs linear, sigmoid, tanh, relu,
            hard_sigmoid and softmax; a function of your own runs the cells loop.
        use_bias: whether to add a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: names or callables.
        dropout, recurrent_dropout: fractions of the inputs and of the previous hidden state to
            drop in training, in [0, 1); one mask each per sequence, the same at every step.
        seed: None (tinyseq's shared generator) or an int (the layer's own) for dropout masks.
        return_sequences, return_state, go_backwards, unroll, zero_output_for_mask: see `RNN`.
        implementation: "fused" (default), 1, 2 or "cells"; see `RNN`.
        name, dtype: see `RNN`.

    Example:
        >>> SimpleRNN(8)(np.zeros((2, 5, 3))).shape
        (2, 8)
    """

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, unroll=False, zero_output_for_mask=False, implementation="fused",
                 name=None, dtype="float32"):
        cell = SimpleRNNCell(units, activation=activation, use_bias=use_bias,
                             kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                             dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, dtype=dtype)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, unroll=unroll, zero_output_for_mask=zero_output_for_mask,
                         implementation=implementation, name=name, dtype=dtype)


class LSTM(RNN):
    """Long Short-Term Memory over a sequence (see `LSTMCell` for the equations).

    Args:
        units: the size of the hidden and cell states.
        activation, recurrent_activation: for the candidate and cell state (default tanh) and
            for the gates (default sigmoid). The fused kernel runs linear, sigmoid, tanh, relu
            and hard_sigmoid; softmax or a function of your own runs the cells loop.
        use_bias: whether to add a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: names or callables.
        unit_forget_bias: start the forget gate's bias at 1 (Keras's default).
        dropout, recurrent_dropout: fractions of the inputs and of the previous hidden state to
            drop in training, in [0, 1), with masks drawn once per sequence as Keras draws
            them: one input mask for all four gates, or one per gate with implementation=1
            or a recurrent_dropout (whose masks are then one per gate too).
        seed: None (tinyseq's shared generator) or an int (the layer's own) for dropout masks.
        return_sequences, return_state, go_backwards, unroll, zero_output_for_mask: see `RNN`;
            return_state gives [output, h, c].
        implementation: "fused" (default), 1, 2 or "cells"; see `RNN`.
        name, dtype: see `RNN`.

    Example:
        >>> LSTM(100, return_sequences=True)(np.zeros((2, 5, 32))).shape
        (2, 5, 100)
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False, go_backwards=False, unroll=False,
                 zero_output_for_mask=False, implementation="fused", name=None, dtype="float32"):
        cell = LSTMCell(units, activation=activation, recurrent_activation=recurrent_activation,
                        use_bias=use_bias, kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                        unit_forget_bias=unit_forget_bias, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, seed=seed,
                        implementation=_keras_implementation(implementation), dtype=dtype)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, unroll=unroll, zero_output_for_mask=zero_output_for_mask,
                         implementation=implementation, name=name, dtype=dtype)


class GRU(RNN):
    """Gated Recurrent Unit over a sequence (see `GRUCell` for the equations).

    Args:
        units: the size of the hidden state.
        activation, recurrent_activation: for the candidate (default tanh) and for the gates
            (default sigmoid); as for `LSTM`.
        use_bias: whether to add a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: names or callables.
        dropout, recurrent_dropout, seed: as for `LSTM` (masks per gate: three).
        reset_after: Keras's default True applies the reset gate after the recurrent product
            and keeps two bias rows; False is the original GRU (one bias row).
        return_sequences, return_state, go_backwards, unroll, zero_output_for_mask: see `RNN`.
        implementation: "fused" (default), 1, 2 or "cells"; see `RNN`.
        name, dtype: see `RNN`.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False, unroll=False,
                 zero_output_for_mask=False, reset_after=True, implementation="fused", name=None,
                 dtype="float32"):
        cell = GRUCell(units, activation=activation, recurrent_activation=recurrent_activation,
                       use_bias=use_bias, kernel_initializer=kernel_initializer,
                       recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                       dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                       reset_after=reset_after, implementation=_keras_implementation(implementation),
                       dtype=dtype)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, unroll=unroll, zero_output_for_mask=zero_output_for_mask,
                         implementation=implementation, name=name, dtype=dtype)
