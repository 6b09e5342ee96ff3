"""Big buffers that the fused kernels reuse from one batch to the next, instead of fresh memory.

A fresh array of a hundred megabytes is fresh memory, and the operating system zeroes each of
its pages on first touch, a noticeable part of a training step (benchmarks/README.md has the
measurements). So the fused kernels take their big buffers from `WORKSPACE` and give them back
when their graph is freed.
"""

from __future__ import annotations

import math
import weakref

import numpy as np


class Workspace:
    """A store of big arrays that fused ops reuse instead of allocating fresh memory every call.

    The fused ops take their big buffers from here (`take`), and hand them back once their
    graph node's backward function is freed (`give_back_when_freed`): after the backward
    pass, or at once when no graph was recorded. Until then nothing else can get them, so a
    graph kept for a second backward pass (retain_graph=True) keeps its buffers intact.

    A free buffer serves any request of its dtype that fits in it (the smallest such buffer is
    chosen); free buffers too small for a request are dropped, so the store holds only about
    one call's worth of buffers, sized for the longest sequences seen.
    """

    def __init__(self):
        self.free = []  # flat arrays not in use

    def take(self, shape, dtype):
        """An uninitialised array of `shape` and `dtype`, from a free buffer if one fits."""
        size, dtype = math.prod(shape), np.dtype(dtype)
        fitting = [flat for flat in self.free if flat.dtype == dtype and flat.size >= size]
        if fitting:
            flat = min(fitting, key=len)
            self.free = [other for other in self.free if other is not flat]
        else:
            self.free = [other for other in self.free if other.dtype != dtype or other.size > size]
            flat = np.empty(size, dtype)
        return flat[:size].reshape(shape)

    def give_back_when_freed(self, owner, arrays):
        """Return `arrays` (from `take`) to the store once `owner` is garbage-collected."""
        weakref.finalize(owner, self._give_back, [array.base for array in arrays])

    def _give_back(self, flats):
        # Looks up `self.free` when called: `take` replaces the list, so a list captured when the
        # owner was registered may no longer be the store's.
        self.free.extend(flats)

    def clear(self):
        """Drop every free buffer, so that their memory goes back to the system.

        Buffers still held by a graph are not affected; they return to the store when it is freed.
        """
        self.free = []


WORKSPACE = Workspace()
