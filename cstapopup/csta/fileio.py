"""Writing a file so that a crash or a full disk leaves the old file or the new one, never
half of one: the one place for it.  In the protocol library, the lowest layer, so that its
spec cache and the app's settings and login items share it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`.

    The file gets `mode` (on POSIX; mkstemp creates it 0600, so it is never more open than
    asked while being written).  `durable`: sync the file and then its folder, so that the
    new file survives a power cut, not only a crash of this process (a cache need not).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if os.name == "posix":
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable and os.name == "posix":
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every file system allows it)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
