"""``shieldwall demo``: a ready-to-try installation."""

from __future__ import annotations

import typer

from shieldwall.cli.console import load, note, open_database, out
from shieldwall.demo import seed_demo

app = typer.Typer(
    help="Set up a demo installation to try shieldwall locally.",
    no_args_is_help=True,
)


@app.command()
def seed() -> None:
    """Create the demo accounts and API key, and print the admin login.

    Creates (once) an admin (the demo_admin_username setting, default admin), a reviewer
    demo-reviewer, an analyst demo-analyst, and an integration API key "demo upload
    service" with scope scan. Their random passwords and the key are saved in
    <data_dir>/demo-credentials.txt, readable by you only. Running it again reuses them and
    changes nothing. The embedded SQLite database is migrated first if needed.

    Not for production: anyone who can read that file can log in as admin.

    Examples:

        shieldwall demo seed && shieldwall serve
    """
    settings = load()
    with open_database(settings) as db:
        login = seed_demo(db, settings)
    if login.created:
        note(f"created: {'; '.join(login.created)}", style="green")
    else:
        note("the demo was already set up; nothing changed")
    note(f"credentials (and the demo API key) are in {login.credentials_file}")
    out().print(f"demo login: {login.username} / {login.password}", markup=False, soft_wrap=True)
