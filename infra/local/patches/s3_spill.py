"""P11: an S3 object too big for moto's in-memory buffer lives in a named file, with no descriptor held open.

moto keeps each object's bytes in a ``tempfile.SpooledTemporaryFile``: in memory up to
``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE`` (the stack sets 16 KB, so images do not stay in memory), then in an
anonymous temporary file, whose descriptor stays open for the object's life. A stack that archives a
10,000-job manifest holds about 25,000 objects over the buffer: past the process's descriptor limit
(often 1,024 to 20,000), where every accept(), open() and fork() fails. Here a spilled object is a file
in one spill directory per process (removed on stop, and any left by a killed stack on the next start),
opened for each read or write.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .bookkeeping import replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them. (The ``value`` and ``etag`` properties use the
#: buffer too: seek, read, truncate and write; tests/integration/local/test_s3_spill.py round-trips them.)
RECORDED: dict[tuple[str, str], str] = {
    ("moto.s3.models:FakeKey", "__init__"): "cd9d1347667a9ccf2179874051aebed2261ecb260ca12e048f20b9140a325383",
    ("moto.s3.models:FakeKey", "__setstate__"): "5ce39b3d465a7e700f116ce2991205cb2fc058ce836b5f51035d611b31ceaa3d",
    ("moto.s3.models:FakeKey", "dispose"): "3e18a93bddaad7ba1b3a89b50092dbbda5c98226bd002870e78a57eb4e6ace61",
}

PREFIX = "swapflow-s3-"
_DIRECTORY: list[Path] = []
_NAMES = itertools.count()
_LOCK = threading.Lock()


def spill_directory() -> Path:
    """This process's spill directory (made on first use; those of dead processes are removed then)."""
    with _LOCK:
        if not _DIRECTORY:
            _remove_orphans()
            _DIRECTORY.append(Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")))
        return _DIRECTORY[0]


def remove_spill_directory() -> None:
    """Remove this process's spill directory (the stack's objects are gone with the stack)."""
    with _LOCK:
        while _DIRECTORY:
            shutil.rmtree(_DIRECTORY.pop(), ignore_errors=True)


def _remove_orphans() -> None:
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = path.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


class SpilledBuffer:
    """The part of ``SpooledTemporaryFile`` moto's ``FakeKey`` uses: in memory up to ``max_size`` bytes,
    beyond it in a named file opened per call (a file position is kept, as a file object would)."""

    def __init__(self, max_size: int = 0, *_: Any, **__: Any) -> None:
        self._max = max_size
        self._memory = bytearray()
        self._path: Path | None = None
        self._position = 0
        self.closed = False

    def _spill(self) -> None:
        path = spill_directory() / f"{next(_NAMES)}"
        path.write_bytes(bytes(self._memory))
        self._memory = bytearray()
        self._path = path

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:  # what moto does before every read and write: no size needed
            self._position = offset
        elif whence == 1:
            self._position += offset
        else:
            self._position = (self._path.stat().st_size if self._path else len(self._memory)) + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def truncate(self, size: int | None = None) -> int:
        size = self._position if size is None else size
        if self._path:
            os.truncate(self._path, size)
        else:
            del self._memory[size:]
        return size

    def write(self, data: bytes) -> int:
        if self._path is None and max(len(self._memory), self._position + len(data)) > self._max:
            self._spill()
        if self._path is None:
            if self._position > len(self._memory):  # a write past the end: the gap reads as zeros
                self._memory.extend(bytes(self._position - len(self._memory)))
            self._memory[self._position : self._position + len(data)] = data
        else:
            with open(self._path, "r+b") as file:
                file.seek(self._position)
                file.write(data)
        self._position += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if self._path is None:
            end = len(self._memory) if size < 0 else self._position + size
            data = bytes(self._memory[self._position : end])
        else:
            with open(self._path, "rb") as file:
                file.seek(self._position)
                data = file.read(size)
        self._position += len(data)
        return data

    def close(self) -> None:
        if self._path is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()
            self._path = None
        self._memory = bytearray()
        self.closed = True


def patch_s3_spill() -> None:
    """P11: moto's S3 objects spill to named files instead of anonymous ones that hold a descriptor."""
    from moto.s3 import models

    replace(models, "tempfile", SimpleNamespace(SpooledTemporaryFile=SpilledBuffer))
