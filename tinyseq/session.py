"""All the process-wide state tinyseq keeps, in one list, and `clear_session` to reset it.

Everything else lives in the objects you make (tensors, layers, models). These five do not:

| state | where | what it holds | reset to |
|---|---|---|---|
| grad mode | `tensor._grad_enabled` | whether ops record the graph (`no_grad`) | on |
| name scope | `tensor._scope` | the `name_scope` path new ops are tagged with | empty |
| random generator | `random._generator` | every draw: initial weights, dropout, shuffling | reseeded |
| fused workspace | `nn.fused.workspace.WORKSPACE` | big arrays the fused kernels reuse between calls | emptied |
| thread count | `threads._num_threads` | how many threads tinyseq computes with (`set_num_threads`); no result depends on it | the available cores |

Layer and model names are not global: a model names its layers itself (`lstm`, `lstm_1`), so
the same code gives the same names whatever ran before it.
"""

from __future__ import annotations

from . import random, tensor, threads
from .nn.fused.workspace import WORKSPACE


def clear_session(seed=None):
    """Reset tinyseq's process-wide state, as if the program had just started.

    Grad mode is switched back on, the name scope emptied, the fused kernels' workspace
    emptied, the thread count set back to the available cores, and the random generator
    reseeded with `seed` (fresh entropy when None).

    Example:
        >>> import tinyseq
        >>> tinyseq.clear_session(seed=0)
        >>> tinyseq.is_grad_enabled()
        True
    """
    tensor._grad_enabled = True
    tensor._scope = ()
    random.seed(seed)
    WORKSPACE.clear()
    threads.set_num_threads(None)
