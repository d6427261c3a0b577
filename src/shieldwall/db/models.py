"""Imports every domain's models so ``Base.metadata`` is complete (for Alembic and tests)."""

from shieldwall.apikeys import models as apikeys_models
from shieldwall.audit import models as audit_models
from shieldwall.banks import models as banks_models
from shieldwall.db.base import Base
from shieldwall.matching import models as matching_models
from shieldwall.users import models as users_models

__all__ = [
    "Base",
    "apikeys_models",
    "audit_models",
    "banks_models",
    "matching_models",
    "users_models",
]
