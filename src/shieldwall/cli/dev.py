"""``shieldwall dev``: local stand-ins for outside services, for trying things out."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from shieldwall.cli.console import note

app = typer.Typer(
    help="Local stand-ins for outside services (never for production).", no_args_is_help=True
)


@app.command("fake-cybertipline")
def fake_cybertipline(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1.")] = 8765,
    username: Annotated[str, typer.Option(help="User name it accepts.")] = "fake-esp",
    password: Annotated[
        str, typer.Option(help="Password it accepts.")
    ] = "fake-cybertipline-password",  # noqa: S107 - the fake's own test credential
) -> None:
    """Serve a fake NCMEC CyberTipline reporting API on 127.0.0.1 until Ctrl-C.

    It validates the XML it gets against shieldwall's schema. Tell it to misbehave with
    POST /_fake/faults {"kind": "status"|"timeout"|"slow"|"garbage", "status": 503,
    "seconds": 5, "path": "/submit"}.

    Example:

        shieldwall dev fake-cybertipline --port 8765 &
        SHIELDWALL_CYBERTIPLINE_URL=http://127.0.0.1:8765/ispws \\
        SHIELDWALL_CYBERTIPLINE_USERNAME=fake-esp \\
        SHIELDWALL_CYBERTIPLINE_PASSWORD=fake-cybertipline-password shieldwall serve
    """
    from shieldwall.devtools.fake_cybertipline import FakeCyberTipline
    from shieldwall.devtools.fake_http import Running

    fake = FakeCyberTipline(username=username, password=password)
    running = Running(fake, port=port)
    note(f"fake CyberTipline at {running.url}/ispws (user {username}); Ctrl-C stops it")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
