"""Files named on the command line: read only regular files, at most a stated size, and
turn every operating-system failure into :class:`~shieldwall.core.errors.InvalidInput`
(``error: <message>``, exit status 2), never a traceback or a hang.

A FIFO blocks on open until something writes to it, ``/dev/zero`` never ends and
``/proc/self/mem`` fails with EIO on read: so a path must name a regular file (checked
before opening, and again on the open descriptor in case the path was swapped between),
and it is opened with ``O_NONBLOCK`` so that a FIFO put there meanwhile cannot block.
Writing an output (``-o FILE``) goes through :func:`writing`, which reports a full disk or
a refused path in plain words.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from shieldwall.core.errors import InvalidInput

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["open_input_file", "read_input_file", "require_regular_file", "writing"]


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def require_regular_file(path: Path, what: str = "file") -> os.stat_result:
    """The stat of ``path`` (symlinks followed); :class:`InvalidInput` unless it names an
    existing regular file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path}: there is no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{what} {path}: cannot read it ({_why(exc)})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(f"{what} {path} is {_kind(st.st_mode)}; name a regular file")
    return st


class _Guarded(io.RawIOBase):
    """A read-only file whose read errors are :class:`InvalidInput` naming the file."""

    def __init__(self, fd: int, path: Path, what: str) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._label = f"{what} {path}"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        try:
            return self._file.readinto(buffer) or 0
        except BlockingIOError:
            raise InvalidInput(f"{self._label} cannot be read without waiting") from None
        except OSError as exc:
            raise InvalidInput(f"cannot read {self._label} ({_why(exc)})") from None

    def close(self) -> None:
        self._file.close()
        super().close()


@contextmanager
def open_input_file(path: Path, what: str = "file") -> Iterator[tuple[IO[bytes], int]]:
    """``path`` opened for reading in binary, with its size in bytes; see the module
    docstring for what is refused. Read errors raise :class:`InvalidInput`."""
    require_regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InvalidInput(f"cannot open {what} {path} ({_why(exc)})") from None
    try:
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise InvalidInput(f"cannot read {what} {path} ({_why(exc)})") from None
    if not stat.S_ISREG(st.st_mode):  # swapped for something else since the check
        os.close(fd)
        raise InvalidInput(f"{what} {path} is {_kind(st.st_mode)}; name a regular file")
    with io.BufferedReader(_Guarded(fd, path, what)) as stream:
        yield stream, st.st_size


def read_input_file(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``; :class:`InvalidInput` when it holds more
    than ``limit`` bytes or cannot be read."""
    with open_input_file(path, what) as (stream, size):
        if size > limit:
            raise InvalidInput(f"{what} {path} is larger than {limit:,} bytes")
        data = stream.read(limit + 1)
    if len(data) > limit:  # it grew, or its size was not told (files under /proc)
        raise InvalidInput(f"{what} {path} is larger than {limit:,} bytes")
    return data


@contextmanager
def writing(path: Path, what: str = "output", *, parents: bool = False) -> Iterator[IO[bytes]]:
    """``path`` opened (created or truncated) for writing in binary, its missing folders
    made first with ``parents``; an operating-system error while opening, writing or
    closing it (a full disk, a folder, no permission) raises :class:`InvalidInput` naming
    the file."""
    try:
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            yield fh
    except OSError as exc:
        raise InvalidInput(f"cannot write {what} {path} ({_why(exc)})") from None
