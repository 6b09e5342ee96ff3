"""Writing files atomically: a reader never sees half a file, and a failed write leaves the old one.

Models, checkpoints, caches, downloads and results all go through `atomic_write`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_arguments):
    """Write through a temporary file beside `path`, renamed over it once complete.

    The temporary file (named `.tmp-*`) is flushed to disk before the rename, and removed if
    anything fails, Ctrl-C (KeyboardInterrupt) included. The file gets the permissions any new
    file gets (0666 less the user's umask: usually 0644).

    Args:
        path: the file to (re)write; its folder is created if needed.
        mode: "wb" or "w"; `open_arguments` (encoding, newline) go to `open`.

    Raises:
        OSError: `path` is a folder, or its folder cannot take the file; the error names
            `path` (not the temporary file).

    Example:
        >>> with atomic_write("result.txt", "w") as file:
        ...     _ = file.write("done")
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "it is a folder; give a file name", path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise type(error)(error.errno, f"cannot create its folder {folder} ({error.strerror})", path) from None
    # Mode 0666, which the kernel reduces by the umask as for any new file (tempfile.mkstemp
    # would make it 0600 whatever the umask).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    temporary = None
    try:
        while temporary is None:
            temporary = os.path.join(folder, f".tmp-{secrets.token_hex(4)}-{os.path.basename(path)}")
            try:
                handle = os.open(temporary, flags, 0o666)
            except FileExistsError:
                temporary = None  # another writer's file: draw another name
            except OSError as error:
                temporary = None  # nothing was created
                raise type(error)(error.errno, f"its folder {folder} does not accept new files ({error.strerror})",
                                  path) from None
        with os.fdopen(handle, mode, **open_arguments) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise
