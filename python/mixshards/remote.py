"""Shard directories over HTTP(S) or any fsspec URL, read through a local cache.

``mixshards.open("https://host/dir", cache="/scratch/mixshards")``:

- ``manifest.json`` is fetched (at most 256 MiB) and written into the cache's
  mirror of the directory, ``CACHE/<16 hex digits of the URL's SHA-256>/``;
- each shard's header, footer and chunk index are read by byte ranges when its
  epoch is opened (three small requests), so a rank learns the epoch's layout
  without downloading it;
- the first time a chunk of a shard is needed, the whole file is fetched in
  parts of 8 MiB by byte ranges (a dropped connection is retried from the byte
  where it stopped, up to ``retries`` times without progress), its SHA-256
  compared with the manifest's, and only then renamed into the mirror and read;
  the source copy and the file lists likewise;
- the cache holds at most ``cache_limit`` bytes of verified files (default
  16 GiB, ``MIXSHARDS_CACHE_LIMIT``): after each download the least recently
  used files are removed, except those another reader of this machine holds
  (each read takes a shared ``flock`` on the file's lock; the source copy is
  held while its dataset is open). A file larger than the limit is still
  fetched and kept while it is needed. Processes on one machine (DataLoader
  workers, ranks) share the cache: one downloads a file, the others wait for it.

``http://`` and ``https://`` are read with the standard library; other schemes
(``s3://``, ``gs://``, ``az://``, …) with fsspec, when it and the scheme's
backend are installed. Every error is one line naming the URL.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

from . import fileio, layout, manifest as manifest_mod
from .errors import ShardError
from .shard import ShardFile

#: Default cache limit: 16 GiB (``MIXSHARDS_CACHE_LIMIT`` overrides it).
DEFAULT_CACHE_LIMIT = 16 << 30
#: Bytes per range request when a file is downloaded.
PART_BYTES = 8 << 20
#: Attempts in a row without progress before a download fails.
DEFAULT_RETRIES = 5
#: Seconds a request may wait for the server.
DEFAULT_TIMEOUT = 30.0
_META = ".mixshards-cache"


def is_url(directory) -> bool:
    """Whether ``directory`` is a URL read remotely (``scheme://…``; ``file://`` is local)."""
    s = str(directory)
    scheme, sep, _ = s.partition("://")
    return bool(sep) and scheme.isidentifier() and scheme.lower() != "file"


def default_cache() -> str:
    return os.environ.get("MIXSHARDS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "mixshards")


def _limit(cache_limit: Optional[int]) -> int:
    if cache_limit is None:
        env = os.environ.get("MIXSHARDS_CACHE_LIMIT")
        cache_limit = int(env) if env else DEFAULT_CACHE_LIMIT
    if cache_limit < 0:
        raise ValueError(f"cache_limit must be ≥ 0 bytes (got {cache_limit})")
    return int(cache_limit)


# -- backends ----------------------------------------------------------------------------------

class HTTPBackend:
    """Whole files and byte ranges of ``base`` (``http://`` or ``https://``), with retries."""

    def __init__(self, base: str, retries: int = DEFAULT_RETRIES, timeout: float = DEFAULT_TIMEOUT):
        self.base = base.rstrip("/")
        self.retries, self.timeout = retries, timeout

    def url(self, name: str) -> str:
        return self.base + "/" + urllib.parse.quote(name)

    def _open(self, name: str, start: int = 0, end: Optional[int] = None):
        req = urllib.request.Request(self.url(name))
        if start or end is not None:
            req.add_header("Range", f"bytes={start}-{'' if end is None else end - 1}")
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code in (404, 403, 401, 410, 416):
                raise ShardError(f"{self.url(name)}: HTTP {e.code} {e.reason}") from None
            raise
        if (start or end is not None) and resp.status == 200 and start:
            resp.close()
            raise ShardError(f"{self.url(name)}: the server ignores byte ranges (HTTP 200 to a Range request)")
        return resp

    def get(self, name: str, limit: int) -> bytes:
        """The whole file (at most ``limit`` bytes)."""
        def once(_done):
            with self._open(name) as resp:
                length = resp.headers.get("Content-Length")
                if length is not None and int(length) > limit:
                    raise ShardError(f"{self.url(name)}: is {int(length):,} bytes, more than a manifest may have "
                                     f"({limit:,})")
                data = resp.read(limit + 1)
                if len(data) > limit:
                    raise ShardError(f"{self.url(name)}: more than {limit:,} bytes")
                if length is not None and len(data) != int(length):
                    raise http.client.IncompleteRead(data, int(length) - len(data))
                return data
        return _retrying(self.url(name), once, self.retries)

    def stream(self, name: str, start: int, end: int):
        """Yields the bytes ``[start, end)`` in blocks; raises on a short or failed transfer."""
        with self._open(name, start, end) as resp:
            want = end - start
            got = 0
            while got < want:
                block = resp.read(min(1 << 20, want - got))
                if not block:
                    raise http.client.IncompleteRead(b"", want - got)
                got += len(block)
                yield block


class FsspecBackend:
    """The same through fsspec (``s3://``, ``gs://``, ``memory://``, …)."""

    def __init__(self, base: str, retries: int = DEFAULT_RETRIES):
        try:
            import fsspec
        except ImportError:
            raise ShardError(f"{base}: reading {base.partition('://')[0]}:// URLs needs fsspec and the scheme's "
                             "backend (pip install fsspec s3fs, gcsfs, …)") from None
        try:
            self.fs, self.root = fsspec.core.url_to_fs(base)
        except (ImportError, ValueError) as e:
            raise ShardError(f"{base}: fsspec cannot read it ({e})") from None
        self.base, self.retries = base.rstrip("/"), retries

    def url(self, name: str) -> str:
        return self.base + "/" + name

    def _path(self, name: str) -> str:
        return self.root.rstrip("/") + "/" + name

    def get(self, name: str, limit: int) -> bytes:
        def once(_done):
            try:
                size = self.fs.size(self._path(name))
            except FileNotFoundError:
                raise ShardError(f"{self.url(name)}: not found") from None
            if size is not None and size > limit:
                raise ShardError(f"{self.url(name)}: is {size:,} bytes, more than a manifest may have ({limit:,})")
            return self.fs.cat_file(self._path(name))
        return _retrying(self.url(name), once, self.retries)

    def stream(self, name: str, start: int, end: int):
        try:
            data = self.fs.cat_file(self._path(name), start=start, end=end)
        except FileNotFoundError:
            raise ShardError(f"{self.url(name)}: not found") from None
        if len(data) != end - start:
            raise http.client.IncompleteRead(data, end - start - len(data))
        yield data


def _transient(e: BaseException) -> bool:
    if isinstance(e, ShardError):
        return False
    if isinstance(e, urllib.error.HTTPError):
        return e.code >= 500 or e.code in (408, 429)
    return isinstance(e, (OSError, http.client.HTTPException, TimeoutError, socket.timeout, EOFError)) or \
        type(e).__module__.split(".")[0] in ("aiohttp", "botocore", "fsspec", "gcsfs", "s3fs")


def _retrying(url: str, once, retries: int, progress=lambda: 0):
    """``once(progress())`` until it succeeds; a failure is retried (after 0.05 s, doubling up to
    2 s) until ``retries`` attempts in a row made no progress."""
    failures, last = 0, progress()
    while True:
        try:
            return once(last)
        except Exception as e:  # noqa: BLE001 - classified below, re-raised as one line
            if not _transient(e):
                raise
            now = progress()
            failures = 1 if now > last else failures + 1
            last = now
            if failures >= retries:
                reason = getattr(e, "reason", None) or e.__class__.__name__
                raise ShardError(f"{url}: download failed after {failures} attempts without progress "
                                 f"({reason}{': ' + str(e) if str(e) and str(e) != str(reason) else ''})") from None
            time.sleep(min(2.0, 0.05 * 2 ** (failures - 1)))


def backend_for(url: str, retries: int = DEFAULT_RETRIES, timeout: float = DEFAULT_TIMEOUT):
    scheme = url.partition("://")[0].lower()
    if scheme in ("http", "https"):
        return HTTPBackend(url, retries, timeout)
    return FsspecBackend(url, retries)


# -- the cache ---------------------------------------------------------------------------------

class _Lock:
    """``flock`` on a lock file: shared while a file is read, exclusive while it is written or removed."""

    def __init__(self, path: str):
        self.path = path
        self.fd: Optional[int] = None

    def acquire(self, exclusive: bool, block: bool = True) -> bool:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if block else fcntl.LOCK_NB))
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class RemoteStore:
    """One remote directory and its mirror in the cache; hands :class:`mixshards.Dataset`
    its files (see the module's documentation)."""

    def __init__(self, url: str, cache: Optional[str] = None, cache_limit: Optional[int] = None,
                 retries: int = DEFAULT_RETRIES, timeout: float = DEFAULT_TIMEOUT):
        self.url = url.rstrip("/")
        self.root = os.path.abspath(cache or default_cache())
        self.limit = _limit(cache_limit)
        self.backend = backend_for(self.url, retries, timeout)
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        #: The local mirror: what :class:`mixshards.Dataset` opens.
        self.mirror = os.path.join(self.root, key)
        self._meta = os.path.join(self.mirror, _META)
        self._pins: list[_Lock] = []
        try:
            os.makedirs(self._meta, exist_ok=True)
            with open(os.path.join(self._meta, "url"), "w") as f:
                f.write(self.url + "\n")
        except OSError as e:
            raise ShardError(f"{self.root}: cannot use it as the cache of {self.url} ({e.strerror or e})") from None

    # Paths of a listed file: the data in the mirror, its record of verification, its lock.
    def _paths(self, name: str) -> tuple[str, str, str]:
        return (os.path.join(self.mirror, name), os.path.join(self._meta, "verified", name + ".sha256"),
                os.path.join(self._meta, "locks", name + ".lock"))

    def fetch_manifest(self, expect_sha256: Optional[str] = None) -> None:
        """Puts ``manifest.json`` in the mirror: the cached one when its SHA-256 is ``expect_sha256``
        (a DataLoader worker of a dataset the main process opened), else the server's."""
        path = os.path.join(self.mirror, manifest_mod.FILE_NAME)
        if expect_sha256 is not None and os.path.exists(path):
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() == expect_sha256:
                    return
        data = self.backend.get(manifest_mod.FILE_NAME, manifest_mod.MAX_MANIFEST_BYTES)
        if os.path.exists(path):
            with open(path, "rb") as f:
                if f.read() == data:
                    return
        _write_atomic(path, data)

    def valid(self, entry: manifest_mod.ShardEntry) -> bool:
        """Whether the mirror holds ``entry`` verified (its recorded SHA-256 is the manifest's)."""
        data, record, _ = self._paths(entry.file)
        try:
            with open(record) as f:
                ok = f.read().strip() == entry.sha256
            return ok and os.path.getsize(data) == entry.bytes
        except OSError:
            return False

    def fetch(self, entry: manifest_mod.ShardEntry, pin: bool = False) -> str:
        """The local path of a listed file, downloaded and verified first when needed. With
        ``pin``, this process holds it (it is not evicted) until :meth:`close`."""
        data, record, lock_path = self._paths(entry.file)
        if pin:
            self._pin(lock_path)
        if self.valid(entry):
            _touch(record)
            return data
        with _Lock(lock_path) as lock:
            if pin:  # a shared lock is held by this process: upgrade by waiting for nobody else
                self._unpin(lock_path)
            lock.acquire(exclusive=True)
            try:
                if not self.valid(entry):
                    self._download(entry, data, record)
            finally:
                lock.release()
                if pin:
                    self._pin(lock_path)
        self.evict(keep=entry.file)
        return data

    def _download(self, entry: manifest_mod.ShardEntry, data: str, record: str) -> None:
        digest = hashlib.sha256()
        done = [0]
        url = self.backend.url(entry.file)
        with fileio.AtomicFile(data, ".part") as out:  # renamed into the mirror only once its SHA-256 holds
            def once(_progress):
                while done[0] < entry.bytes:
                    end = min(entry.bytes, done[0] + PART_BYTES)
                    for block in self.backend.stream(entry.file, done[0], end):
                        out.write(block)
                        digest.update(block)
                        done[0] += len(block)
            if entry.bytes:
                _retrying(url, once, getattr(self.backend, "retries", DEFAULT_RETRIES), lambda: done[0])
            got = digest.hexdigest()
            if got != entry.sha256:
                raise ShardError(f"{url}: SHA-256 {got[:16]}… differs from the manifest's {entry.sha256[:16]}… "
                                 "(not cached)")
        _write_atomic(record, (entry.sha256 + "\n").encode())

    def _pin(self, lock_path: str) -> None:
        lock = _Lock(lock_path)
        lock.acquire(exclusive=False)
        self._pins.append(lock)

    def _unpin(self, lock_path: str) -> None:
        for i, lock in enumerate(self._pins):
            if lock.path == lock_path:
                lock.release()
                del self._pins[i]
                return

    def reading(self, entry: manifest_mod.ShardEntry) -> _Lock:
        """A shared lock on ``entry`` for the length of a read (so it is not evicted meanwhile)."""
        lock = _Lock(self._paths(entry.file)[2])
        lock.acquire(exclusive=False)
        return lock

    def cached_bytes(self) -> list[tuple[float, int, str, str, str]]:
        """Every verified file of the whole cache: ``(last use, bytes, data, record, lock)``."""
        out = []
        try:
            mirrors = [os.path.join(self.root, m) for m in os.listdir(self.root)]
        except OSError:
            return out
        for mirror in mirrors:
            verified = os.path.join(mirror, _META, "verified")
            for folder, _dirs, files in os.walk(verified):
                for name in files:
                    if not name.endswith(".sha256"):
                        continue
                    record = os.path.join(folder, name)
                    rel = os.path.relpath(record, verified)[:-len(".sha256")]
                    data = os.path.join(mirror, rel)
                    try:
                        used, size = os.path.getmtime(record), os.path.getsize(data)
                    except OSError:
                        continue
                    out.append((used, size, data, record, os.path.join(mirror, _META, "locks", rel + ".lock")))
        return out

    def evict(self, keep: Optional[str] = None) -> int:
        """Removes least recently used verified files until the cache holds at most its limit,
        skipping ``keep`` and files another reader holds; returns the bytes removed."""
        files = sorted(self.cached_bytes())
        total = sum(f[1] for f in files)
        removed = 0
        keep_path = os.path.join(self.mirror, keep) if keep else None
        for _used, size, data, record, lock_path in files:
            if total <= self.limit:
                break
            if data == keep_path:
                continue
            lock = _Lock(lock_path)
            if not lock.acquire(exclusive=True, block=False):
                continue
            try:
                for p in (record, data):
                    try:
                        os.unlink(p)
                    except FileNotFoundError:
                        pass
                total -= size
                removed += size
            finally:
                lock.release()
        return removed

    def shard(self, entry: manifest_mod.ShardEntry, path: str, source, source_count: int, split: str):
        """What :class:`mixshards.Dataset` reads a listed shard through."""
        return RemoteShard(self, entry, path, source, source_count, split)

    def close(self) -> None:
        for lock in self._pins:
            lock.release()
        self._pins.clear()


class RemoteShard:
    """A shard of a remote directory, standing in for :class:`mixshards.ShardFile`: its header
    and chunk index come from three ranged reads (or the cached file), and the file is
    downloaded and verified the first time a chunk is read."""

    def __init__(self, store: RemoteStore, entry: manifest_mod.ShardEntry, path: str, source, source_count: int,
                 split: str):
        self.store, self.entry, self.path = store, entry, path
        self.source, self.source_count, self.split_name = source, source_count, split
        self._local: Optional[ShardFile] = None
        self.size = entry.bytes
        if store.valid(entry):
            self._local = ShardFile(path, source, source_count=source_count, split_name=split)
            self.header, self.index = self._local.header, self._local.index
            return
        name = store.backend.url(entry.file)

        def read(offset: int, n: int) -> bytes:
            parts = []

            def once(_p):
                parts[:] = list(store.backend.stream(entry.file, offset, offset + n))
            _retrying(name, once, getattr(store.backend, "retries", DEFAULT_RETRIES))
            return b"".join(parts)
        self.header = layout.decode_header(read(0, min(self.size, layout.HEADER_BYTES)), name)
        footer = layout.decode_footer(read, self.size, name)
        self.index = layout.decode_index(read, self.size, self.header, footer, name)

    @property
    def sample_count(self) -> int:
        return self.header.sample_count

    @property
    def chunk_count(self) -> int:
        return self.header.chunk_count

    def chunk_of(self, sample: int) -> int:
        return sample // self.header.samples_per_chunk

    def local(self) -> ShardFile:
        """The verified local file, downloaded now if needed (or again, after an eviction)."""
        shard = self._local
        if shard is not None:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == shard.file._identity and self.store.valid(self.entry):
                    return shard
            except OSError:
                pass
        self.store.fetch(self.entry)
        self._local = ShardFile(self.path, self.source, source_count=self.source_count, split_name=self.split_name)
        return self._local

    def read_chunk(self, i: int):
        for _ in range(3):  # evicted by another process between the download and the read: again
            shard = self.local()
            with self.store.reading(self.entry):
                try:
                    st = os.stat(self.path)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) == shard.file._identity and self.store.valid(self.entry):
                    _touch(self.store._paths(self.entry.file)[1])
                    return shard.read_chunk(i)
        raise ShardError(f"{self.path}: evicted from the cache while it was being read, three times: "
                         "raise cache_limit")

    def sha256(self) -> str:
        return self.local().sha256()

    def close(self) -> None:
        if self._local is not None:
            self._local.close()


def _touch(path: str) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _write_atomic(path: str, data: bytes) -> None:
    with fileio.AtomicFile(path) as out:
        out.write(data)


def open_remote(url: str, cache: Optional[str] = None, cache_limit: Optional[int] = None, cache_chunks: int = 8,
                expect_manifest_sha256: Optional[str] = None, retries: int = DEFAULT_RETRIES,
                timeout: float = DEFAULT_TIMEOUT, cache_bytes: Optional[int] = None,
                source_cache_bytes: Optional[int] = None):
    """:func:`mixshards.open` for a URL: a :class:`mixshards.Dataset` over the cache's mirror."""
    from .dataset import Dataset
    store = RemoteStore(url, cache, cache_limit, retries, timeout)
    store.fetch_manifest(expect_manifest_sha256)
    ds = Dataset(store.mirror, cache_chunks=cache_chunks, storage=store, cache_bytes=cache_bytes,
                 source_cache_bytes=source_cache_bytes)
    #: The directory's URL (``ds.path`` is its mirror in the cache).
    ds.url = store.url
    return ds
