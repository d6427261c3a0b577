"""shieldwall: open-source child-safety infrastructure.

The pure library lives in :mod:`shieldwall.core`; everything else (database, API, web, CLI)
builds on it. See ``docs/architecture.md`` for the layers.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
