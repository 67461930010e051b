"""Atomic file output: never a half-written or clobbered file.

Every file the package writes goes through :func:`atomic_output`: the data
are written to a temporary file in the destination folder, which is renamed
onto the destination only when writing succeeded (``os.replace`` is atomic
on POSIX and Windows within one file system).  An existing destination is
replaced only when ``force`` is true, and the new file gets the permissions
a plain ``open(path, "w")`` would give (``0o666`` less the umask), which
``tempfile.mkstemp`` alone would not (it creates ``0o600`` files).

:func:`sha256_file` gives the checksum recorded for files the package
reads or writes (dataset shards, solve inputs).
"""

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["atomic_output", "sha256_file", "write_text", "write_json"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path, force=True):
    """Yield a temporary path that becomes ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        The destination file.
    force : bool, optional
        Replace an existing destination (default True); if False an existing
        file raises :class:`CrystalNetInputError`.

    Yields
    ------
    pathlib.Path
        The temporary file (already created, empty) to write to.

    Raises
    ------
    CrystalNetInputError
        If the destination exists and ``force`` is false, or its folder does
        not exist.

    Examples
    --------
    >>> with atomic_output("out.txt") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("hello")
    """
    path = Path(path)
    folder = path.parent
    if path.exists() and not force:
        raise CrystalNetInputError("exists; use force to overwrite it", path)
    if not folder.is_dir():
        raise CrystalNetInputError("the folder does not exist", path)
    fd, name = tempfile.mkstemp(
        dir=folder, prefix=f".{path.name}.", suffix=".tmp"
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        fd = os.open(tmp, os.O_RDONLY)
        try:  # the data reach the disk before the name changes
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text, force=True):
    """Write a text file atomically (UTF-8).

    Parameters
    ----------
    path : str or os.PathLike
        Destination.
    text : str
        Content.
    force : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The destination.
    """
    with atomic_output(path, force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, data, force=True, **dumps):
    """Write JSON atomically (``json.dumps(data, **dumps)`` and a newline).

    Parameters
    ----------
    path : str or os.PathLike
        Destination.
    data : object
        JSON-serialisable data.
    force : bool, optional
        Replace an existing file.
    **dumps
        Passed to :func:`json.dumps` (``indent``, ``sort_keys``, ...).

    Returns
    -------
    pathlib.Path
        The destination.
    """
    return write_text(path, json.dumps(data, **dumps) + "\n", force)


def sha256_file(path):
    """SHA-256 of a file's bytes, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    str
        The hexadecimal digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
