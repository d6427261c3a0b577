"""Files that belong to database rows (sealed media kept for review, evidence).

One discipline for every such folder, so a crash at any point leaves nothing harmful:

* a file is written durably **before** its row is inserted (temp file, fsync, rename, fsync of
  the folder), so a committed row always has its file;
* a file whose row is deleted is unlinked only **after** that deletion commits (a rolled-back
  purge removes nothing);
* what a crash leaves behind — a file whose row never committed, an interrupted temp file, an
  unlink that never ran — is an *orphan*, removed by the next sweep once older than
  :data:`ORPHAN_GRACE` (a younger file may belong to a transaction still in flight elsewhere).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

ORPHAN_GRACE = timedelta(hours=1)
SWEEP_BATCH = 500
_PENDING_UNLINK = "shieldwall.files.unlink_after_commit"


def write_durably(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` atomically and durably (temp file, fsync, rename), mode 0600
    in a folder of mode 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def unlink_after_commit(session: Session, paths: Iterable[Path]) -> None:
    """Remove ``paths`` once ``session`` commits; forget them if it rolls back."""
    wanted = list(paths)
    if wanted:
        session.info.setdefault(_PENDING_UNLINK, []).extend(wanted)


@event.listens_for(Session, "after_commit")
def _unlink_pending(session: Session) -> None:
    for path in session.info.pop(_PENDING_UNLINK, []):
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # left for the next sweep
            log.warning(
                "files.unlink_failed",
                extra={"folder": path.parent.name, "file": path.name, "error": exc.errno},
            )


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING_UNLINK, None)


def remove_orphans(
    session: Session,
    folder: Path,
    *,
    is_row_file: Callable[[str], bool],
    known: Callable[[Session, list[str]], set[str]],
) -> int:
    """Remove files in ``folder`` older than :data:`ORPHAN_GRACE` that no row names.

    ``is_row_file(name)`` says whether a file name is one a row would own (others, apart from
    interrupted temp files, are left alone); ``known(session, names)`` returns the names that
    rows still own. Files already waiting for this session's commit are not counted twice.
    """
    if not folder.is_dir():
        return 0
    # File times are real time: a sweep asked to act "as of" a later date must still not take
    # a file that another process wrote a moment ago and has not committed yet.
    cutoff = time.time() - ORPHAN_GRACE.total_seconds()
    candidates: list[Path] = []
    removed = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                Path(entry.path).unlink(missing_ok=True)  # an interrupted write
                removed += 1
            elif is_row_file(entry.name):
                candidates.append(Path(entry.path))
    pending = set(session.info.get(_PENDING_UNLINK, []))
    for start in range(0, len(candidates), SWEEP_BATCH):
        chunk = candidates[start : start + SWEEP_BATCH]
        owned = known(session, [p.name for p in chunk])
        for path in chunk:
            if path.name not in owned and path not in pending:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
