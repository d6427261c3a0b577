"""Imports every domain's models so ``Base.metadata`` is complete (for Alembic and tests)."""

from shieldwall.accountability import models as accountability_models
from shieldwall.actions import models as actions_models
from shieldwall.apikeys import models as apikeys_models
from shieldwall.audit import models as audit_models
from shieldwall.banks import models as banks_models
from shieldwall.cases import models as cases_models
from shieldwall.db.base import Base
from shieldwall.evidence import models as evidence_models
from shieldwall.exchanges import models as exchanges_models
from shieldwall.intake import models as intake_models
from shieldwall.jobs import models as jobs_models
from shieldwall.matching import models as matching_models
from shieldwall.media import models as media_models
from shieldwall.reporting import models as reporting_models
from shieldwall.textsignals import models as textsignals_models
from shieldwall.transparency import models as transparency_models
from shieldwall.users import models as users_models

__all__ = [
    "Base",
    "accountability_models",
    "actions_models",
    "apikeys_models",
    "audit_models",
    "banks_models",
    "cases_models",
    "evidence_models",
    "exchanges_models",
    "intake_models",
    "jobs_models",
    "matching_models",
    "media_models",
    "reporting_models",
    "textsignals_models",
    "transparency_models",
    "users_models",
]
