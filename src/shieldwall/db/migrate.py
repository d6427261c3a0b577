"""Alembic, driven from code: no alembic.ini needed beside the package."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from shieldwall.core.errors import DatabaseNotMigrated


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "shieldwall:db/migrations")
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def ensure_current(engine: Engine, *, auto_migrate: bool) -> None:
    """Upgrade when allowed; otherwise refuse with a message naming the fix."""
    if is_current(engine):
        return
    if auto_migrate:
        upgrade(engine)
        return
    current = current_revision(engine) or "empty"
    raise DatabaseNotMigrated(
        f"the database is at revision {current} but this shieldwall needs "
        f"{head_revision(engine)}; run `shieldwall db upgrade` first",
        current=current,
        head=head_revision(engine),
    )
