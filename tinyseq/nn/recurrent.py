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
the same numbers to rounding error, several times less work per step.
"""

from __future__ import annotations

import numpy as np

from .. import checks, ops
from ..tensor import ShapeError, Tensor
from .cells import GRUCell, LSTMCell, SimpleRNNCell
from .core import Layer
from .fused.scaffold import fused_recurrence, fused_support_problem

IMPLEMENTATIONS = ("fused", "cells")


class RNN(Layer):
    """Run a recurrent cell along the time axis: the loop shared by SimpleRNN, LSTM and GRU.

    Args:
        cell: a `RecurrentCell`.
        return_sequences: return the outputs of all steps, not just the last.
        return_state: also return the final states, as [output, *states].
        go_backwards: process the sequence from its last step to its first.
        implementation: "cells" (any cell, step by step from primitive ops) or "fused" (one
            hand-written kernel for the whole sequence; SimpleRNNCell, LSTMCell, GRUCell only).
        name: the layer's name.
        dtype: the weights' dtype (the cell must have the same).

    Call arguments:
        inputs: (batch, timesteps, features).
        mask: optional (batch, timesteps) booleans; False steps are skipped.
        training: accepted for Keras compatibility; unused.
        initial_state: optional list of starting states, each (batch, units); default zeros.
    """

    min_ndim = max_ndim = 3
    input_layout = "(batch, timesteps, features)"

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 implementation="cells", name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        if cell.dtype != self.dtype:
            raise TypeError(f"{self.name}: the cell's dtype {cell.dtype} differs from the layer's {self.dtype}")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"{self.name}: implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
        if implementation == "fused" and fused_support_problem(cell):
            raise ValueError(f"{self.name}: implementation='fused' is not possible: "
                             f"{fused_support_problem(cell)}; use implementation='cells'")
        self.cell = cell
        self.return_sequences = checks.boolean(return_sequences, "return_sequences", self.name)
        self.return_state = checks.boolean(return_state, "return_state", self.name)
        self.go_backwards = checks.boolean(go_backwards, "go_backwards", self.name)
        self.implementation = implementation

    @property
    def units(self):
        """The size of the cell's hidden state."""
        return self.cell.units

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
        keep = self._check_mask(mask, batch_size, timesteps)
        inputs, keep, skipped = self._skip_padding(inputs, keep)

        if self.implementation == "fused":
            result, states = fused_recurrence(self.cell, inputs, states, keep, self.go_backwards,
                                              self.return_sequences)
        else:
            # Keras starts the "previous output" that masked steps repeat at zero, not at the state.
            output = Tensor(np.zeros((batch_size, self.units), dtype=self.dtype))
            outputs = []
            steps = inputs.shape[1]
            for t in (reversed(range(steps)) if self.go_backwards else range(steps)):
                # Each step projects its own slice of the inputs. Projecting all steps up front
                # in one matrix product runs no faster here and holds a (batch, timesteps,
                # 4 * units) array and its gradient alive for the whole pass.
                step_input = self.cell.project_inputs(inputs[:, t])
                new_output, new_states = self.cell.step(step_input, states)
                if keep is not None:
                    kept = keep[:, t, None]  # (batch, 1): broadcasts over the units
                    new_output = ops.where(kept, new_output, output)
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
        if keep is None:
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
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "implementation": self.implementation}


class SimpleRNN(RNN):
    """A fully connected RNN over a sequence: h_t = tanh(x_t W + h_{t-1} U + b).

    Args:
        units: the size of the hidden state.
        activation: default tanh.
        kernel_initializer, recurrent_initializer, bias_initializer: names or callables.
        return_sequences, return_state, go_backwards: see `RNN`.
        implementation: "fused" (default; activations linear, sigmoid, tanh, relu) or "cells".
        name, dtype: see `RNN`.

    Example:
        >>> SimpleRNN(8)(np.zeros((2, 5, 3))).shape
        (2, 8)
    """

    def __init__(self, units, activation="tanh", kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", return_sequences=False,
                 return_state=False, go_backwards=False, implementation="fused", name=None, dtype="float32"):
        cell = SimpleRNNCell(units, activation=activation, kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer,
                             bias_initializer=bias_initializer, dtype=dtype)
        super().__init__(cell, return_sequences, return_state, go_backwards, implementation, name=name,
                         dtype=dtype)


class LSTM(RNN):
    """Long Short-Term Memory over a sequence (see `LSTMCell` for the equations).

    Args:
        units: the size of the hidden and cell states.
        unit_forget_bias: start the forget gate's bias at 1 (Keras's default).
        kernel_initializer, recurrent_initializer, bias_initializer: names or callables.
        return_sequences, return_state, go_backwards: see `RNN`; return_state gives
            [output, h, c].
        implementation: "fused" (default) or "cells"; see `RNN`.
        name, dtype: see `RNN`.

    Example:
        >>> LSTM(100, return_sequences=True)(np.zeros((2, 5, 32))).shape
        (2, 5, 100)
    """

    def __init__(self, units, unit_forget_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", return_sequences=False,
                 return_state=False, go_backwards=False, implementation="fused", name=None, dtype="float32"):
        cell = LSTMCell(units, unit_forget_bias=unit_forget_bias, kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer, dtype=dtype)
        super().__init__(cell, return_sequences, return_state, go_backwards, implementation, name=name,
                         dtype=dtype)


class GRU(RNN):
    """Gated Recurrent Unit over a sequence, Keras's reset_after=True variant (see `GRUCell`).

    Args:
        units: the size of the hidden state.
        kernel_initializer, recurrent_initializer, bias_initializer: names or callables.
        return_sequences, return_state, go_backwards: see `RNN`.
        implementation: "fused" (default) or "cells"; see `RNN`.
        name, dtype: see `RNN`.
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences=False, return_state=False,
                 go_backwards=False, implementation="fused", name=None, dtype="float32"):
        cell = GRUCell(units, kernel_initializer=kernel_initializer,
                       recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer, dtype=dtype)
        super().__init__(cell, return_sequences, return_state, go_backwards, implementation, name=name,
                         dtype=dtype)
