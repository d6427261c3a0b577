"""Database access: engine, sessions, the declarative base and migrations.

The caller owns the transaction: a request, job or CLI command opens a session with
:func:`session_scope` (or the API dependency) and commits; services only flush.
"""

from shieldwall.db.base import Base, UTCDateTime, utcnow
from shieldwall.db.engine import Database, make_engine

__all__ = ["Base", "Database", "UTCDateTime", "make_engine", "utcnow"]
