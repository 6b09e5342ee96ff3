"""Keras's per-epoch progress line, without a dependency.

In a terminal the line is redrawn in place (carriage return); in a log file or CI, where
redrawing would leave hundreds of half-lines, only the finished line is written.

    196/196 [==============================] - 71s 362ms/step - loss: 0.4810 - accuracy: 0.7664 - val_loss: ...
"""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """One epoch's progress: `update(steps_done, logs)` as batches finish, `finish(logs)` at the end.

    Args:
        total_steps: batches in the epoch.
        verbose: 1 for a bar (redrawn in a terminal), 2 for one summary line per epoch, 0 silent.
        stream: where to write (default sys.stdout).
        width: characters in the bar.
    """

    def __init__(self, total_steps, verbose=1, stream=None, width=30):
        self.total_steps = total_steps
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.width = width
        self.start = time.perf_counter()
        self.interactive = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()
        self._last_draw = 0.0

    def update(self, steps_done, logs):
        """Redraw the bar (at most 20 times a second) when writing to a terminal."""
        now = time.perf_counter()
        if self.interactive and (now - self._last_draw > 0.05 or steps_done == self.total_steps):
            self._last_draw = now
            self.stream.write("\r" + self._line(steps_done, logs, finished=False))
            self.stream.flush()

    def finish(self, logs):
        """Write the epoch's final line, validation metrics included."""
        if self.verbose == 0:
            return
        line = self._line(self.total_steps, logs, finished=True)
        if self.verbose == 2:
            line = line[line.index(" - ") + 3:]  # Keras's verbose=2: no bar, just the numbers
        self.stream.write(("\r" if self.interactive else "") + line + "\n")
        self.stream.flush()

    def _line(self, steps_done, logs, finished):
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(steps_done, 1)
        digits = len(str(self.total_steps))
        filled = int(self.width * steps_done / max(self.total_steps, 1))
        bar = "=" * filled if filled == self.width else "=" * max(filled - 1, 0) + ">" + "." * (self.width - filled)
        if finished:
            timing = f"{elapsed:.0f}s {_duration(per_step)}/step"
        else:
            timing = f"ETA: {_clock(per_step * (self.total_steps - steps_done))}"
        numbers = "".join(f" - {name}: {value:.4f}" for name, value in logs.items())
        return f"{steps_done:{digits}d}/{self.total_steps} [{bar}] - {timing}{numbers}"


def _duration(seconds):
    return f"{seconds * 1e3:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
