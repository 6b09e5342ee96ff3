"""Fused sequence ops: a whole recurrent layer, forward and backward through time, as ONE graph node.

The cells in `cells.py` build every time step from primitive ops, so autograd derives their
backward pass for free. The price is paid per step: an LSTM step records about twenty graph
nodes, so a 500-step review makes ten thousand, each with its own small arrays to allocate and
its own visit from the engine on the way back. Frameworks avoid that by *fusing*: they write the
loop over time themselves, on plain arrays, and derive its backward pass by hand. This package
does the same, which is the answer to "why do frameworks fuse kernels?":

* The input projection x_t W + b does not depend on the state, so it is done for all steps at
  once, before the loop (BLAS is far faster on one big product than on 500 small ones). The
  bias rides along as the weight of an extra input that is always 1.
* The loop writes into arrays allocated once per sequence (every step's gates and states, and
  they are reused by the next sequence); the steps themselves allocate nothing.
* The weight gradients are sums over the steps, dU = Σ_t h_{t-1}ᵀ dz_t, so the backward loop
  only stores each dz_t, and one product per chunk of steps adds them up.
  Only dh_{t-1} = dz_t Uᵀ, which the next step back needs, is a product inside the loop.
* The engine sees one node instead of ten thousand.
* Two cores, without a multithreaded BLAS: the steps' small products run on one BLAS thread,
  and the work that no step waits for (the input projection of the next chunk of steps, the
  weight-gradient products of the last one) runs on a helper thread beside the loop
  (`tinyseq.threads`). The order of every sum stays that of a single thread, so the numbers
  do not depend on the number of threads.

Memory layout, the other half of the speed. The arrays are time-major and *gate-major*:
`gates[k, t]` is gate k at step t, a contiguous (batch, units) block. Keras's layout puts the
gates side by side in each row, so one gate of one step would be a strided slice, which numpy
works through row by row where a contiguous block takes one pass.
The weights are rearranged to match, and the gradients are put back into Keras's layout at the end.

Masking works as in `recurrent.py`: at a padding step a sequence's states carry over,
s_t = s_{t-1}. The backward of that choice is a switch: where the step was real, the gradient
of s_t enters the step's computation; where it was padding, it passes straight to s_{t-1}.
Padding *before* a sequence's first word (Keras pads at the front) is cheaper still: the
sequence just waits in its initial state. So the rows are sorted by their first real step
and step t runs on the rows that have started, a prefix of the batch: a batch of reviews then
costs about its number of words, not 500 steps of every review.

Dropout is cheap for the same reason: its masks are drawn once per sequence and are the same
at every step, so the input masks multiply the inputs once, before the big product (one copy
per gate where each gate has its own mask), and the recurrent masks multiply h before each
step's recurrent product (see `steps.FusedSteps`).

The modules, in the order to read them:

* `steps`: one step forward and one back for SimpleRNN, LSTM and GRU, beside their equations
  (`SimpleRNNSteps`, `LSTMSteps`, `GRUSteps`, and `OriginalGRUSteps` for reset_after=False),
  with the in-place helpers of `inplace`.
* `scaffold`: the loop over time they share, `fused_recurrence`, and the chunked weight
  gradients.
* `schedule`: `StartSchedule`, the rows each step runs.
* `workspace`: `WORKSPACE`, the buffers reused from one batch to the next.

benchmarks/README.md measures what each of these choices is worth.
"""

from .scaffold import fused_recurrence, fused_support_problem
from .schedule import StartSchedule
from .steps import GRUSteps, LSTMSteps, OriginalGRUSteps, SimpleRNNSteps
from .workspace import WORKSPACE, Workspace

__all__ = ["fused_recurrence", "fused_support_problem", "StartSchedule", "SimpleRNNSteps", "LSTMSteps",
           "GRUSteps", "OriginalGRUSteps", "WORKSPACE", "Workspace"]
