"""The threads tinyseq computes with: numpy's matrix products on one, and one helper beside it.

A recurrent network multiplies small matrices, hundreds of times per sequence. A
multithreaded BLAS (numpy's OpenBLAS) splits each of those products over the cores, and its
threads wait for each other, spinning, at the end of every one. On a quiet machine that
gains little on products this small; when another program holds a core, each wait lasts until
the operating system schedules the missing thread again, and training slows down many times
over. So tinyseq's training and inference run the products on one BLAS thread
(`single_threaded_blas`), and use a second core their own way: work that the loop over time
does not need at once (the fused kernels' input projection of the next steps and weight
gradients of the last ones) goes to a helper thread (`in_background`), which runs beside the
main one and sleeps, rather than spins, when it has nothing to do. numpy releases Python's
global lock while it computes, so the two threads really do run at once. Work the helper has
not started when the main thread needs it runs on the main thread, so a helper whose core is
taken by another program delays nothing. Only whole chunks of work are worth handing over:
a hand-over costs some microseconds, as much as a small operation.

`set_num_threads(1)` turns the helper off: everything then runs on the calling thread, in
the same order, with the same results (tinyseq's numbers never depend on the thread count).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import threading

_num_threads = None  # None: as many as the cores this process may use
_helper = None
_helper_lock = threading.Lock()


def available_cores():
    """The number of cores this process may run on (its CPU affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def get_num_threads():
    """How many threads tinyseq computes with: `set_num_threads`'s value, else the available
    cores. 1 means the calling thread only; more means it plus a helper thread."""
    return available_cores() if _num_threads is None else _num_threads


def set_num_threads(count):
    """Compute with `count` threads (1: only the calling thread); None goes back to the default,
    the available cores.

    Raises:
        TypeError / ValueError: for a count that is not a whole number ≥ 1.
    """
    global _num_threads
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool):
            raise TypeError(f"set_num_threads: the count must be a whole number ≥ 1 or None, got {count!r}")
        if count < 1:
            raise ValueError(f"set_num_threads: the count must be ≥ 1, got {count}")
    _num_threads = count


class Work:
    """A piece of work handed to the helper thread by `in_background`."""

    def __init__(self, function, args, future):
        self.function, self.args, self.future = function, args, future

    def result(self):
        """Wait until the work is done (and raise what it raised). If the helper has not started
        it yet (it is busy, or another program holds its core), run it here instead of waiting."""
        if self.future.cancel():
            self.future = concurrent.futures.Future()
            try:
                self.future.set_result(self.function(*self.args))
            except BaseException as error:  # noqa: BLE001 -- re-raised below, and by every later call
                self.future.set_exception(error)
        return self.future.result()


def in_background(function, *args):
    """Start `function(*args)` on the helper thread; return a `Work` whose `.result()` waits for it.

    The helper does one piece of work at a time, in the order given; a piece it has not
    started when `.result()` is called runs on the calling thread. So pieces that must not run
    at the same time (they add into the same array, say) must be waited for one by one: wait
    for the first before handing over the second. With one thread (`get_num_threads() == 1`)
    the function runs here and now.
    """
    if get_num_threads() == 1:
        future = concurrent.futures.Future()
        future.set_result(function(*args))
        return Work(function, args, future)
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tinyseq-helper")
    return Work(function, args, _helper.submit(function, *args))


def _forget_helper():
    """In a forked child: the parent's helper thread did not come along, so start afresh."""
    global _helper, _helper_lock
    _helper, _helper_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


@functools.cache
def _blas_controller():
    # Created on first use, once numpy (and its BLAS) is loaded; finding the libraries takes time.
    import threadpoolctl
    return threadpoolctl.ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas():
    """Inside this block (or a function it decorates), numpy's BLAS runs on one thread; the
    thread count it had before is restored at the end. Nested blocks cost next to nothing."""
    controller = _blas_controller()
    with controller.limit(limits=1, user_api="blas"):
        yield
