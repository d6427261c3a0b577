"""The HTTP API: ``create_app(settings)`` builds the whole ASGI application."""

from shieldwall.api.app import create_app

__all__ = ["create_app"]
