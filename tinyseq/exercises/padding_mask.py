"""Exercise `padding_mask`: a recurrent step, and a sequence, that keep their state at padding."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..nn.cells import SimpleRNNCell
from ..nn.recurrent import RNN
from .checking import Exercise, cell_with_weights, check_tensor_function, random_arrays

INTRODUCTION = """
Exercise padding_mask (tutorial 07): a recurrent network that skips the padding.

Reviews of different lengths are padded to one length so that they fit in one array. The
padding must not change the result: at a padded step a row keeps its previous state, and its
gradient passes through that step unchanged. Write two functions, for a simple tanh RNN
(the step of exercise rnn_cell):

1. masked_step(x, h, keep, kernel, recurrent_kernel, bias) -> h_new

       candidate = tanh(x @ kernel + h @ recurrent_kernel + bias)
       h_new[row] = candidate[row]  where keep[row] is True   (a real step)
                    h[row]          where keep[row] is False  (padding: keep the state)

   x (batch, features), h (batch, units), kernel (features, units), recurrent_kernel
   (units, units), bias (units,) are tinyseq Tensors; keep is a numpy array of booleans,
   shape (batch,). Hint: ops.where(condition, a, b) picks a where condition holds, else b;
   keep[:, None] has shape (batch, 1) and broadcasts over the units.

2. masked_rnn(xs, mask, h0, kernel, recurrent_kernel, bias) -> h_last

   Runs masked_step over the time steps t = 0, 1, ..., timesteps - 1 and returns the final
   state (batch, units). xs is a Tensor (batch, timesteps, features) (step t is xs[:, t]);
   mask is a numpy array of booleans (batch, timesteps), True at real steps; h0 (batch, units)
   is the starting state. Padding may come before the real steps, after them, or both.

Use tinyseq's ops on the tensors (not numpy on `.data`): the checker also compares gradients.

Check your answer (any number of times):

    tinyseq exercise check padding_mask.py

It compares both functions with tinyseq's own RNN layer (which takes mask=) on random shapes,
masks and seeds in float64, outputs and gradients, and names the known mistake your numbers
match.
"""


def masked_step(x, h, keep, kernel, recurrent_kernel, bias):
    """Return the RNN step's new state where `keep` (batch,) is True and the old state `h` elsewhere."""
    candidate = ops.tanh(x @ kernel + h @ recurrent_kernel + bias)
    return ops.where(keep[:, None], candidate, h)


def masked_rnn(xs, mask, h0, kernel, recurrent_kernel, bias):
    """Run masked_step over every time step of xs (batch, timesteps, features); return the last state."""
    h = h0
    for t in range(xs.shape[1]):
        h = masked_step(xs[:, t], h, mask[:, t], kernel, recurrent_kernel, bias)
    return h


def reference_sequence(xs, mask, h0, kernel, recurrent_kernel, bias):
    """tinyseq's RNN layer over SimpleRNNCell with these weights and `mask`: the final state."""
    layer = RNN(cell_with_weights(SimpleRNNCell, kernel, recurrent_kernel, bias), return_state=True,
                implementation="cells", dtype="float64")
    _, final_state = layer(xs, mask=mask, initial_state=[h0])
    return (final_state,)


def reference_step(x, h, keep, kernel, recurrent_kernel, bias):
    """The layer run over a sequence of one step."""
    return reference_sequence(ops.reshape(x, (x.shape[0], 1, x.shape[1])), keep[:, None], h,
                              kernel, recurrent_kernel, bias)


def step_variant(x, h, keep, kernel, recurrent_kernel, bias, padding):
    """The masked step in numpy, doing at padding what `padding` says: "keep" the state (right),
    "zero" it, "run" the step anyway, or "invert" the mask."""
    candidate = np.tanh(x @ kernel + h @ recurrent_kernel + bias)
    keep = keep[:, None]
    return {"keep": np.where(keep, candidate, h), "zero": np.where(keep, candidate, 0), "run": candidate,
            "invert": np.where(keep, h, candidate)}[padding]


def sequence_variant(xs, mask, h0, kernel, recurrent_kernel, bias, padding):
    """`step_variant` over every time step: the final state, as a tuple."""
    h = h0
    for t in range(xs.shape[1]):
        h = step_variant(xs[:, t], h, mask[:, t], kernel, recurrent_kernel, bias, padding)
    return (h,)


PADDING_MISTAKES = {
    "zero": "at padded steps the state becomes 0 (h_new * keep); it must stay what it was: h.",
    "run": "the mask is ignored: padded steps update the state like real ones.",
    "invert": "the mask is inverted: True marks a real step, where the state is updated; at False it is kept.",
}
STEP_MISTAKES = [(text, lambda padding=padding, **a: (step_variant(**a, padding=padding),))
                 for padding, text in PADDING_MISTAKES.items()]
SEQUENCE_MISTAKES = [(text, lambda padding=padding, **a: sequence_variant(**a, padding=padding))
                     for padding, text in PADDING_MISTAKES.items()] + [
    ("the starting state is returned: update h at every step and return the last one.",
     lambda h0, **a: (h0,)),
    ("the mask is read along the wrong axis: mask[t] is sequence t; step t of every sequence is mask[:, t].",
     lambda mask, **a: sequence_variant(mask=mask.T, padding="keep", **a)),
]

STEP_HINT = ("x (batch, features), h (batch, units), keep (batch,) booleans: keep[:, None] broadcasts "
             "over the units, e.g. ops.where(keep[:, None], candidate, h).")
SEQUENCE_HINT = ("xs is (batch, timesteps, features) and mask (batch, timesteps): step t is xs[:, t] "
                 "with mask[:, t].")

# Each row of a mask is one kind of padding: none, after, before, in between, all but one step.
# The mask is square, so that reading it along the wrong axis gives numbers, not a shape error.
ROW_PATTERNS = ["11111", "11100", "00111", "10101", "00100"]


def step_cases(seed=0):
    """(label, arguments) cases of masked_step: some rows real, some padding."""
    shapes = [(4, 3, 2), (3, 2, 5), (5, 1, 3)]  # (batch, features, units)
    cases = []
    for i, (batch, features, units) in enumerate(shapes):
        arguments = random_arrays(seed + i, x=(batch, features), h=(batch, units), kernel=(features, units),
                                  recurrent_kernel=(units, units), bias=(units,))
        keep = np.arange(batch) % 2 == 0  # rows 0, 2, ... real; 1, 3, ... padding
        cases.append((f"batch {batch}, features {features}, units {units}, seed {seed + i}",
                      {"x": arguments["x"], "h": arguments["h"], "keep": keep,
                       **{key: arguments[key] for key in ("kernel", "recurrent_kernel", "bias")}}))
    return cases


def sequence_cases(seed=0):
    """(label, arguments) cases of masked_rnn, with the padding patterns of ROW_PATTERNS."""
    mask = np.array([[step == "1" for step in row] for row in ROW_PATTERNS])
    batch, timesteps = mask.shape
    cases = []
    for i, (features, units) in enumerate([(3, 2), (2, 4)]):
        arguments = random_arrays(seed + 10 + i, xs=(batch, timesteps, features), h0=(batch, units),
                                  kernel=(features, units), recurrent_kernel=(units, units), bias=(units,))
        cases.append((f"batch {batch}, timesteps {timesteps}, features {features}, units {units}, "
                      f"mask rows {' '.join(ROW_PATTERNS)}",
                      {"xs": arguments["xs"], "mask": mask, "h0": arguments["h0"],
                       **{key: arguments[key] for key in ("kernel", "recurrent_kernel", "bias")}}))
    return cases


def check(functions):
    """Check masked_step, then masked_rnn, against tinyseq's RNN layer; return the cases passed."""
    passed = check_tensor_function(functions["masked_step"], step_cases(), reference_step, ("h_new",),
                                   STEP_MISTAKES, hint=STEP_HINT)
    return passed + check_tensor_function(functions["masked_rnn"], sequence_cases(), reference_sequence,
                                          ("h_last",), SEQUENCE_MISTAKES, hint=SEQUENCE_HINT)


EXERCISE = Exercise(
    name="padding_mask", tutorial="07_samples_timesteps_features",
    task="masked_step and masked_rnn: an RNN whose padded steps keep the previous state",
    introduction=INTRODUCTION, imports="from tinyseq import ops", solution=(masked_step, masked_rnn),
    check=check)
