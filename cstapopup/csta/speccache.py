"""The compiled ASN.1 spec on disk: where a file may be read from, its format, and writing it.

Compiling the modules takes a few hundred milliseconds; unpickling a compiled spec about a
tenth of that, which is why the codec keeps one (see `codec.configure`).  Unpickling runs
code chosen by whoever wrote the file, so a file is read only from a place nobody else can
write, and this is checked on every read rather than assumed:

- a cache folder the caller chose: it must be a real folder (not a symbolic link) owned by
  this user and private (0700; the library makes it so when it creates it, and narrows a
  folder of ours that is more open), and the file in it a regular file owned by this user
  that nobody else can write;
- the folder of the ASN.1 modules (a frozen app ships its spec there): owned by this user or
  root and writable by nobody else, like the code beside it.

Checked through the opened file descriptor (no symbolic link followed), so the file checked
is the file read.  On systems without POSIX owners and modes (Windows) the checks cannot be
made and the user cache is not used at all; the file shipped beside the modules is trusted
like the code that ships it.

Each file starts with a header: a magic line, the key of what it was compiled from (module
texts, asn1tools, Python; also in the file name) and the SHA-256 of the pickle.  The digest
catches a torn or damaged file and a file of another build before anything is unpickled;
it is not a defence against a writer, which the owner and mode checks are.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from pathlib import Path

from .fileio import write_atomically

log = logging.getLogger(__name__)

MAGIC = b"cstapopup compiled ASN.1 spec\n"
SUFFIX = ".spec"
#: Whether owners and modes can be checked here.
POSIX = os.name == "posix"


class UntrustedLocation(Exception):
    """A cache file or folder that others could have written: not read."""


def _check_folder(path: Path, *, private: bool) -> None:
    """Raise UntrustedLocation unless `path` is a folder only this user (or, when not
    `private`, root) can write; `private` also wants it unreadable by others."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UntrustedLocation(f"{path} is not a folder (a symbolic link?)")
    owners = {os.getuid()} if private else {os.getuid(), 0}
    if st.st_uid not in owners:
        raise UntrustedLocation(f"{path} belongs to user id {st.st_uid}, not to this user")
    open_bits = stat.S_IMODE(st.st_mode) & (0o077 if private else 0o022)
    if open_bits:
        raise UntrustedLocation(f"{path} is open to others (mode {stat.S_IMODE(st.st_mode):o})")


def _check_file(st: os.stat_result, path: Path, *, private: bool) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedLocation(f"{path} is not a regular file")
    owners = {os.getuid()} if private else {os.getuid(), 0}
    if st.st_uid not in owners:
        raise UntrustedLocation(f"{path} belongs to user id {st.st_uid}, not to this user")
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise UntrustedLocation(f"{path} is writable by others (mode {stat.S_IMODE(st.st_mode):o})")


def read(path: Path, key: str, *, private: bool) -> bytes | None:
    """The pickle stored in `path` for `key`; None when there is no such file.

    Raises UntrustedLocation when the file or its folder fails the checks above, and
    ValueError when the file is not one for `key` or is damaged.
    """
    if POSIX:
        try:
            _check_folder(path.parent, private=private)
        except FileNotFoundError:
            return None
    elif private:
        raise UntrustedLocation("owners and modes cannot be checked on this system")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if POSIX:
            _check_file(os.fstat(fd), path, private=private)
        data = fh.read()
    return _unwrap(data, key, path)


def _unwrap(data: bytes, key: str, path: Path) -> bytes:
    if not data.startswith(MAGIC):
        raise ValueError(f"{path} is not a compiled spec file")
    header_end = len(MAGIC)
    key_line, digest_line, payload = (data[header_end:].split(b"\n", 2) + [b"", b""])[:3]
    if key_line.decode("ascii", "replace") != key:
        raise ValueError(f"{path} was compiled from other sources")
    if hashlib.sha256(payload).hexdigest().encode() != digest_line:
        raise ValueError(f"{path} is damaged (its checksum does not match)")
    return payload


def prepare_folder(folder: Path) -> None:
    """Create the private cache folder (0700), or narrow one of ours that is more open; then
    check it.  Raises OSError or UntrustedLocation when it cannot be made safe."""
    if not POSIX:
        raise UntrustedLocation("owners and modes cannot be checked on this system")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    _check_folder(folder, private=True)


def file_name(stem: str, key: str) -> str:
    """The file holding the spec `stem` (e.g. "asn1-spec") compiled for `key`."""
    return f"{stem}-{key}{SUFFIX}"


def write(folder: Path, stem: str, key: str, payload: bytes) -> Path:
    """Store `payload` for `key` as `folder/file_name(stem, key)`, whole or not at all, mode
    0600 (a cache: not synced to disk; a lost file is compiled again).  The folder's files of
    the same `stem` for other keys (other versions, older formats) are removed."""
    prepare_folder(folder)
    path = folder / file_name(stem, key)
    write_atomically(
        path,
        b"".join(
            (
                MAGIC,
                key.encode("ascii"),
                b"\n",
                hashlib.sha256(payload).hexdigest().encode("ascii"),
                b"\n",
                payload,
            )
        ),
        durable=False,
    )
    stale = re.compile(re.escape(stem) + r"-[0-9a-f]+\.(spec|pickle)")
    for old in folder.iterdir():
        if old.name != path.name and stale.fullmatch(old.name):
            try:
                old.unlink()
            except OSError as exc:
                log.debug("cannot remove the old spec file %s: %s", old, exc)
    return path
