"""What a final decision does beyond the case itself.

* ``violating`` on content or an account (not an appeal):
    - **hash-on-confirm**: the hashes the case's signals carried (not survivors' hashes,
      which their own hook banks) go into the ``case_confirm_bank`` bank, created if
      missing, with provenance source ``case`` and ``source_record_id`` ``case:<id>``;
      the entries added or revived are remembered on the decision;
    - ``content.remove`` for a content subject;
    - ``account.suspend`` for the posting account (or an account subject) when the label
      is in ``case_suspend_labels``.
* An **appeal** decided ``not_violating`` (upheld): ``content.restore`` for a content
  subject, and the entries the original case's decision added are removed from their bank
  (soft removal through banks.service). Event ``case.overturned`` on the original case.
  An appeal decided ``violating`` (the decision stands) changes nothing else.

Actions go through :func:`shieldwall.actions.service.request_action` with stable keys
(``case:<id>:<action type>``), so deciding can never ask the platform twice.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shieldwall.actions.service import ActionType, list_actions, request_action
from shieldwall.audit import service as audit
from shieldwall.banks import repository as banks_repository
from shieldwall.banks import service as banks
from shieldwall.banks.schemas import AddOutcome, BankCreate, EntryIn, EntrySource
from shieldwall.cases import repository
from shieldwall.cases.models import Case, CaseDecision
from shieldwall.cases.schemas import CaseSource, Outcome, SubjectKind
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, NotFound

#: Who creates the hash-on-confirm bank when it is missing.
SYSTEM_ACTOR = "system:cases"


def apply(
    session: Session, settings: Settings, case: Case, decision: CaseDecision, actor: Principal
) -> None:
    """Run the effects of ``decision`` (final) on ``case``; see the module docstring."""
    if case.appeal_of_case_id is not None:
        if decision.outcome == Outcome.NOT_VIOLATING:
            _appeal_upheld(session, settings, case, actor)
        return
    if decision.outcome != Outcome.VIOLATING:
        return
    if set(case.sources) == {CaseSource.SURVIVOR_REQUEST.value}:
        # A takedown request is hashes sent by a survivor, not content on the platform: its
        # hook banks the hashes and re-surfaces matching uploads as their own cases.
        return
    hash_on_confirm(session, settings, case, decision, actor)
    labels = [decision.label] if decision.label else []
    reason = f"violating: {decision.label}" if decision.label else "violating"
    if case.subject_kind == SubjectKind.CONTENT:
        request_action(
            session,
            settings,
            ActionType.CONTENT_REMOVE,
            subject_kind=case.subject_kind,
            subject_ref=case.subject_ref,
            case_id=case.id,
            labels=labels,
            reason=reason,
            key=f"case:{case.id}:{ActionType.CONTENT_REMOVE.value}",
            actor=actor,
            principles=case.principles,
        )
    account = case.subject_ref if case.subject_kind == SubjectKind.ACCOUNT else case.account_ref
    if account and decision.label in settings.case_suspend_labels:
        request_action(
            session,
            settings,
            ActionType.ACCOUNT_SUSPEND,
            subject_kind=SubjectKind.ACCOUNT.value,
            subject_ref=account,
            case_id=case.id,
            labels=labels,
            reason=reason,
            key=f"case:{case.id}:{ActionType.ACCOUNT_SUSPEND.value}",
            actor=actor,
            principles=case.principles,
        )


def _confirm_bank_name(settings: Settings, session: Session) -> str | None:
    name = settings.case_confirm_bank.strip()
    if not name:
        return None
    if banks_repository.get_bank_by_name(session, name) is None:
        banks.create_bank(
            session,
            BankCreate(
                name=name,
                description="Hashes of media reviewers confirmed as violating (hash-on-confirm).",
            ),
            actor=SYSTEM_ACTOR,
        )
    return name


def hash_on_confirm(
    session: Session, settings: Settings, case: Case, decision: CaseDecision, actor: Principal
) -> list[int]:
    """Add the case's media hashes to the configured bank; returns the entry ids added or
    revived (duplicates already there are left alone and not remembered)."""
    pairs: list[tuple[str, str]] = []
    for signal in repository.signals_of(session, case.id):
        if signal.source == CaseSource.SURVIVOR_REQUEST:
            continue
        for signal_type, value in signal.hashes:
            if (signal_type, value) not in pairs:
                pairs.append((signal_type, value))
    if not pairs:
        return []
    name = _confirm_bank_name(settings, session)
    if name is None:
        return []
    bank = banks.get_bank(session, name)
    labels = (
        [decision.label]
        if decision.label and (not bank.labels or decision.label in bank.labels)
        else []
    )
    items = [
        EntryIn(
            signal_type=signal_type,
            value=value,
            labels=labels,
            source=EntrySource.CASE,
            source_record_id=f"case:{case.id}",
        )
        for signal_type, value in pairs
    ]
    added = banks.add_entries(session, name, items, actor=actor)
    ids = [
        item.id for item in added.items if item.outcome in (AddOutcome.ADDED, AddOutcome.REVIVED)
    ]
    decision.bank = name
    decision.bank_entry_ids = ids
    session.flush()
    return ids


def _appeal_upheld(session: Session, settings: Settings, appeal: Case, actor: Principal) -> None:
    original_id = appeal.appeal_of_case_id
    assert original_id is not None
    original = repository.get_case(session, original_id)
    original_decision = repository.final_decision(session, original_id)
    if original is None or original_decision is None:
        return
    labels = [original_decision.label] if original_decision.label else []
    reason = f"appeal upheld (case {original.id})"
    if original.subject_kind == SubjectKind.CONTENT:
        request_action(
            session,
            settings,
            ActionType.CONTENT_RESTORE,
            subject_kind=original.subject_kind,
            subject_ref=original.subject_ref,
            case_id=appeal.id,
            labels=labels,
            reason=reason,
            key=f"case:{appeal.id}:{ActionType.CONTENT_RESTORE.value}",
            actor=actor,
            principles=appeal.principles,
        )
    for suspended in list_actions(
        session, case_id=original.id, action_type=ActionType.ACCOUNT_SUSPEND, limit=10
    ):
        request_action(
            session,
            settings,
            ActionType.ACCOUNT_RESTORE,
            subject_kind=suspended.subject_kind,
            subject_ref=suspended.subject_ref,
            case_id=appeal.id,
            labels=labels,
            reason=reason,
            key=f"case:{appeal.id}:{ActionType.ACCOUNT_RESTORE.value}:{suspended.id}",
            actor=actor,
            principles=appeal.principles,
        )
    removed: list[int] = []
    if original_decision.bank:
        for entry_id in original_decision.bank_entry_ids:
            try:
                banks.remove_entry(session, original_decision.bank, entry_id, actor=actor)
            except (Conflict, NotFound):
                continue  # already removed, or the bank is gone: nothing left to undo
            removed.append(entry_id)
    audit.record(
        session,
        "case.overturned",
        actor=actor,
        subject=f"case:{original.id}",
        principles=original.principles,
        payload={"appeal_case_id": appeal.id, "bank_entries_removed": removed},
    )
