"""Timestamps that come from outside: the pydantic type every input schema uses for one.

``datetime`` covers years 1 to 9999 *in its own offset*, so ``0001-01-01T00:00:00+01:00``
and ``9999-12-31T23:59:59-01:00`` parse, but their UTC form (which is what is stored and
compared) lies outside that range: converting them raises ``OverflowError`` deep in a
service or the database layer. :data:`Timestamp` refuses such a value where it is read, as
invalid input naming the field; a naive value is taken as UTC (as the API documents) and
passes unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Timestamp", "representable_in_utc"]


def representable_in_utc(value: datetime) -> datetime:
    """``value`` unchanged when its UTC form is a ``datetime``; ``ValueError`` otherwise."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError(
                f"{value.isoformat()} is out of range once converted to UTC (years 1 to 9999)"
            ) from None
    return value


#: A datetime whose UTC form exists: the type of every timestamp an input schema accepts.
Timestamp = Annotated[datetime, AfterValidator(representable_in_utc)]
