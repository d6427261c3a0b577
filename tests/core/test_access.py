import pytest

from shieldwall.core.access import (
    INTEGRATION_SCOPES,
    Principal,
    PrincipalKind,
    Role,
    Scope,
    parse_scopes,
    scopes_for_role,
)


def test_admin_holds_every_scope() -> None:
    assert scopes_for_role(Role.ADMIN) == frozenset(Scope)


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ANALYST])
def test_only_admins_manage_people_and_keys(role: Role) -> None:
    scopes = scopes_for_role(role)
    assert Scope.USERS_MANAGE not in scopes
    assert Scope.APIKEYS_MANAGE not in scopes


def test_analyst_reads_and_only_edits_the_public_tracker() -> None:
    """Analysts read; the one thing they write is the accountability tracker's public
    facts (issue 7: editing needs the analyst or admin role). Never cases, banks or people."""
    writes = {s for s in scopes_for_role("analyst") if not s.value.endswith(":read")}
    assert writes == {Scope.ACCOUNTABILITY_WRITE}


def test_integration_keys_never_see_reviewers_work_or_people() -> None:
    forbidden = {Scope.CASES_READ, Scope.CASES_WRITE, Scope.USERS_MANAGE,
                 Scope.APIKEYS_MANAGE, Scope.EVENTS_READ}
    assert not (INTEGRATION_SCOPES & forbidden)


def test_parse_scopes_names_the_unknown_one() -> None:
    assert parse_scopes(["scan", "banks:read"]) == {Scope.SCAN, Scope.BANKS_READ}
    with pytest.raises(ValueError, match="'banks:delete'"):
        parse_scopes(["scan", "banks:delete"])


def test_actor_strings_carry_ids_not_names() -> None:
    user = Principal(PrincipalKind.USER, name="alice", user_id=4, role=Role.ADMIN, scopes=[])
    key = Principal(PrincipalKind.API_KEY, name="uploads", api_key_id=9, scopes=[Scope.SCAN])
    assert user.actor == "user:4"
    assert key.actor == "apikey:9"
    assert Principal.system("cli").actor == "system:cli"
    assert key.can(Scope.SCAN)
    assert not key.can(Scope.BANKS_WRITE)
