"""Writing files atomically: a reader never sees half a file, and a failed write leaves the old one.

Models, checkpoints, caches, downloads and results all go through `atomic_write`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_arguments):
    """Write through a temporary file beside `path`, renamed over it once complete.

    The temporary file (named `.tmp-*`) is flushed to disk before the rename, and removed if
    the block raises.

    Args:
        path: the file to (re)write; its folder is created if needed.
        mode: "wb" or "w"; `open_arguments` (encoding, newline) go to `open`.

    Example:
        >>> with atomic_write("result.txt", "w") as file:
        ...     _ = file.write("done")
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(handle, mode, **open_arguments) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
