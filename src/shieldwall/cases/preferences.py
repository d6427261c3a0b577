"""How media is shown to reviewers: each reviewer's own choices over the organisation's
defaults over the built-in defaults (blurred, grayscale, muted — the wellness floor).

A reviewer's row holds ``NULL`` for "use the organisation's default"; the organisation's row
(``owner = 'organisation'``) always holds all three values once set. Changes write
``review.preferences_changed`` (own) or ``review.defaults_changed`` (organisation).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.cases import repository
from shieldwall.cases.models import ReviewPreference
from shieldwall.cases.schemas import ResolvedPreferences, ReviewPreferences, ReviewPreferencesIn
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import NotFound, PermissionDenied
from shieldwall.db.base import utcnow
from shieldwall.users import repository as users_repository
from shieldwall.users.models import User

ORGANISATION = "organisation"
FIELDS = ("blur", "grayscale", "video_muted")
BUILT_IN = ReviewPreferences()
#: Media display protects reviewers (principle 8's care for people, and their wellbeing).
PRINCIPLES = (8,)


def _owner(user_id: int) -> str:
    return f"user:{user_id}"


def _user_id(user: User | int | None) -> int | None:
    return user.id if isinstance(user, User) else user


def organisation_preferences(session: Session) -> ReviewPreferences:
    """The organisation's defaults (built-in ones where never set)."""
    row = repository.get_preference(session, ORGANISATION)
    values = {
        f: getattr(row, f)
        if row is not None and getattr(row, f) is not None
        else getattr(BUILT_IN, f)
        for f in FIELDS
    }
    return ReviewPreferences(**values)


def own_preferences(session: Session, user: User | int | None) -> ReviewPreferencesIn:
    """A reviewer's own choices; ``None`` fields follow the organisation."""
    uid = _user_id(user)
    row = repository.get_preference(session, _owner(uid)) if uid is not None else None
    if row is None:
        return ReviewPreferencesIn()
    return ReviewPreferencesIn(blur=row.blur, grayscale=row.grayscale, video_muted=row.video_muted)


def preferences_for(session: Session, user: User | int | None) -> ResolvedPreferences:
    """What applies to ``user`` (a user, a user id, or None for "nobody signed in"), and
    where each value came from."""
    org_row = repository.get_preference(session, ORGANISATION)
    mine = own_preferences(session, user)
    values: dict[str, bool] = {}
    sources: dict[str, str] = {}
    for f in FIELDS:
        own = getattr(mine, f)
        org = getattr(org_row, f) if org_row is not None else None
        if own is not None:
            values[f], sources[f] = own, "user"
        elif org is not None:
            values[f], sources[f] = org, "organisation"
        else:
            values[f], sources[f] = getattr(BUILT_IN, f), "built-in"
    return ResolvedPreferences(**values, sources=sources)


def _upsert(
    session: Session, owner: str, user_id: int | None, actor: Principal
) -> ReviewPreference:
    row = repository.get_preference(session, owner)
    if row is None:
        row = ReviewPreference(owner=owner, user_id=user_id, updated_by=actor.actor)
        session.add(row)
    return row


def set_own_preferences(
    session: Session, user: User | int, changes: ReviewPreferencesIn, *, actor: Principal
) -> ResolvedPreferences:
    """Set a reviewer's own preferences (every field: a value, or ``None`` to follow the
    organisation). People change their own; changing someone else's needs ``users:manage``."""
    uid = _user_id(user)
    assert uid is not None
    if actor.user_id != uid and not actor.can(Scope.USERS_MANAGE):
        raise PermissionDenied("reviewers change their own preferences only")
    if users_repository.get_user(session, uid) is None:
        raise NotFound(f"no user with id {uid}", user_id=uid)
    row = _upsert(session, _owner(uid), uid, actor)
    changed = [f for f in FIELDS if getattr(row, f) != getattr(changes, f)]
    for f in FIELDS:
        setattr(row, f, getattr(changes, f))
    row.updated_by = actor.actor
    row.updated_at = utcnow()
    session.flush()
    if changed:
        audit.record(
            session,
            "review.preferences_changed",
            actor=actor,
            subject=f"user:{uid}",
            principles=PRINCIPLES,
            payload={"changed": changed, **{f: getattr(changes, f) for f in FIELDS}},
        )
    return preferences_for(session, uid)


def set_organisation_preferences(
    session: Session, defaults: ReviewPreferences, *, actor: Principal
) -> ReviewPreferences:
    """Set the organisation's defaults (admins: ``users:manage``)."""
    if not actor.can(Scope.USERS_MANAGE):
        raise PermissionDenied(
            "organisation defaults are set by admins (the 'users:manage' scope)",
            required_scope=Scope.USERS_MANAGE.value,
        )
    row = _upsert(session, ORGANISATION, None, actor)
    changed = [f for f in FIELDS if getattr(row, f) != getattr(defaults, f)]
    for f in FIELDS:
        setattr(row, f, getattr(defaults, f))
    row.updated_by = actor.actor
    row.updated_at = utcnow()
    session.flush()
    if changed:
        audit.record(
            session,
            "review.defaults_changed",
            actor=actor,
            subject="review_preferences:organisation",
            principles=PRINCIPLES,
            payload={"changed": changed, **{f: getattr(defaults, f) for f in FIELDS}},
        )
    return organisation_preferences(session)
