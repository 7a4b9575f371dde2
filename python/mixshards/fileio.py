"""Checked file reading, and the one atomic writer, in one place (mirrors ``FileIO`` of ``Sources/MixCore/FileIO.swift``).

Every file the reader opens — ``manifest.json``, shards, the source copy, the
file lists — is opened here: non-blocking, then checked with ``fstat`` before
any read, so that a FIFO, device, socket or directory where a file belongs is
refused by name (``…: is a FIFO, not a regular file``) instead of hanging a read
(opening a FIFO to read blocks until a writer comes) or ending in a traceback.

Shards are read with ``os.pread``, not memory-mapped: a mapped file truncated by
another process kills the reader with SIGBUS, which Python cannot catch; a short
``pread`` is an error naming the file (and the chunk).
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Optional

from .errors import ShardError

_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def _strerror(e: OSError) -> str:
    return e.strerror or str(e)


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """Opens ``path`` read-only and returns ``(fd, fstat result)``; refuses anything but a
    regular file without reading from it. The caller closes ``fd``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ShardError(f"{path}: cannot open ({_strerror(e)})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "a special file")
            raise ShardError(f"{path}: is {kind}, not a regular file")
        os.set_blocking(fd, True)
    except OSError as e:
        os.close(fd)
        raise ShardError(f"{path}: cannot stat ({_strerror(e)})") from None
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def pread_exact(fd: int, n: int, offset: int, path: str, where: str = "", part: str = "the read") -> bytes:
    """Exactly ``n`` bytes at ``offset``. A file that ends sooner (truncated since it was
    checked) is ``"{path}: {where}the file ends at byte N, {part} needs M"``, e.g.
    ``"x.mxs: chunk 3: the file ends at byte 4096, the chunk needs 9000"``."""
    parts = []
    done = 0
    try:
        while done < n:
            b = os.pread(fd, min(n - done, 1 << 30), offset + done)
            if not b:
                break
            parts.append(b)
            done += len(b)
        if done < n:
            size = os.fstat(fd).st_size
            raise ShardError(f"{path}: {where}the file ends at byte {size}, {part} needs {offset + n}")
    except OSError as e:
        raise ShardError(f"{path}: {where}read failed ({_strerror(e)})") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_file(path: str, limit: int | None = None, what: str = "file") -> bytes:
    """The whole of a regular file (see :func:`open_regular`); with ``limit``, a larger one is
    refused before it is read (``"…: is N bytes, more than a {what} may have (LIMIT)"``)."""
    fd, st = open_regular(path)
    try:
        if limit is not None and st.st_size > limit:
            raise ShardError(f"{path}: is {st.st_size:,} bytes, more than a {what} may have ({limit:,})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)  # reads until it has them or the file ends
        if len(data) != st.st_size:
            raise ShardError(f"{path}: changed size while it was read ({st.st_size:,} bytes, then {len(data):,})")
        return data
    except OSError as e:
        raise ShardError(f"{path}: read failed ({_strerror(e)})") from None
    finally:
        os.close(fd)


def read_listed(path: str, expected_size: int) -> tuple[Optional[bytes], int, str]:
    """A file the manifest lists with its size: ``(bytes, size, SHA-256 hex)`` when it has
    ``expected_size`` bytes; else ``(None, size, "")`` without reading it, so a file far larger
    than listed (a sparse 4 GiB extension) costs neither memory nor time."""
    fd, st = open_regular(path)
    try:
        if st.st_size != expected_size:
            return None, st.st_size, ""
        data = pread_exact(fd, st.st_size, 0, path, "", "reading it")
        return data, st.st_size, hashlib.sha256(data).hexdigest()
    finally:
        os.close(fd)


class AtomicFile:
    """A file written under a temporary name beside ``path`` — ``path.<pid>-<n><suffix>``,
    created exclusively and never through a symbolic link — and renamed to ``path`` after an
    fsync when the ``with`` block ends without an exception; removed when it raises, so
    nothing that is not whole ever appears under ``path`` (Swift's ``FileIO.AtomicWriter``).
    Errors are the ``OSError`` of the failing call; the caller names what was written."""

    def __init__(self, path: str, suffix: str = ".tmp"):
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        for n in range(1000):
            self.tmp = f"{path}.{os.getpid()}-{n}{suffix}"
            try:
                self._fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
                return
            except FileExistsError:
                continue
        raise FileExistsError(f"{path}: every temporary name is taken")

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(self._fd, view):]

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, kind, *_exc) -> None:
        try:
            if kind is None:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            if kind is None:
                os.replace(self.tmp, self.path)
            else:
                os.unlink(self.tmp)


class RegularFile:
    """A regular file to be read by offset, reopened for each read (so a reader holding
    thousands of shards holds no descriptor between reads) and checked to be the same
    file each time: ``(st_dev, st_ino)`` of the first open. A file replaced since is an
    error; a file truncated since is an error at the first read past its new end."""

    def __init__(self, path: str):
        self.path = path
        fd, st = open_regular(path)
        os.close(fd)
        #: Size when opened.
        self.size = st.st_size
        self._identity = (st.st_dev, st.st_ino)

    def open(self, where: str = "") -> int:
        """A descriptor of the same file (the caller closes it)."""
        fd, st = open_regular(self.path)
        if (st.st_dev, st.st_ino) != self._identity:
            os.close(fd)
            raise ShardError(f"{self.path}: {where}the file was replaced since it was opened")
        return fd

    def read(self, offset: int, n: int, where: str = "", part: str = "the read") -> bytes:
        """``n`` bytes at ``offset`` (``where``: ``"chunk 3: "``, ``part``: ``"the chunk"``,
        naming what was read in errors; see :func:`pread_exact`)."""
        fd = self.open(where)
        try:
            return pread_exact(fd, n, offset, self.path, where, part)
        finally:
            os.close(fd)
