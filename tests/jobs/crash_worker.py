"""An outbox worker process that stops dead at a chosen point, for the crash tests.

``python -m tests.jobs.crash_worker MODE MARKER_DIR`` runs the real worker with the real
webhook handler (settings from the environment), wrapped so that it writes a marker file
and then hangs — until the test kills it with SIGKILL:

* ``before_send``: the item is claimed (committed as ``sending``) but nothing was sent;
* ``after_send``: the receiver answered 2xx, but the outcome was not recorded.

Test-only: the crash points live here, not in the product code.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from shieldwall.actions.delivery import webhook_handler
from shieldwall.config import load_settings
from shieldwall.db.engine import Database
from shieldwall.jobs import handlers
from shieldwall.jobs.models import OutboxItem


def main(mode: str, markers: Path) -> None:
    settings = load_settings()
    db = Database(settings.effective_database_url)
    real = webhook_handler(db, settings)

    def handler(item: OutboxItem) -> None:
        if mode == "before_send":
            (markers / "claimed").write_text(str(item.id))
            threading.Event().wait()
        real(item)
        if mode == "after_send":
            (markers / "sent").write_text(str(item.id))
            threading.Event().wait()

    worker = handlers.build_worker(db, settings, overrides={"webhook": handler})
    worker.run_forever()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
