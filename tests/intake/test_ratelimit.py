"""Rate limits kept in the database: the sliding-window arithmetic, caller keys that never
hold an address, and counting shared by every process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.core.errors import RateLimited
from shieldwall.db.engine import Database
from shieldwall.intake import ratelimit
from shieldwall.intake.models import RateLimitWindow

SECRET = b"test-secret"
RULE = ratelimit.Limit("test_bucket", 3, 60, what="tries")
#: 10 seconds into a one-minute window.
T0 = datetime(2026, 11, 29, 12, 0, 10, tzinfo=UTC)


# ---- arithmetic ----------------------------------------------------------------------------


def test_window_start_aligns_to_the_window() -> None:
    assert ratelimit.window_start(T0, 60) == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert ratelimit.window_start(T0, 3600) == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "expected"),
    [(0, 3, 10, 3.0), (6, 0, 30, 3.0), (6, 1, 0, 7.0), (6, 1, 60, 1.0), (4, 2, 45, 3.0)],
)
def test_estimate_fades_the_previous_window(
    previous: int, current: int, elapsed: float, expected: float
) -> None:
    assert ratelimit.estimate(previous, current, elapsed, 60) == pytest.approx(expected)


def test_retry_after_is_when_one_more_request_fits() -> None:
    # previous window 6, this window 0, limit 3: fits once 6 * (1 - t/60) <= 2, t >= 40
    assert ratelimit.retry_after(3, 60, 10, 6, 0) == 30
    # this window alone is full: wait for the next window, and then for it to fade
    # (3 * (1 - t/60) <= 2 from t = 20 into the next window)
    assert ratelimit.retry_after(3, 60, 10, 0, 3) == 50 + 20
    # the answer is never below one second
    assert ratelimit.retry_after(3, 60, 59.9, 0, 2) == 1


@pytest.mark.parametrize("elapsed", [0, 5, 17.5, 30, 59])
@pytest.mark.parametrize(("previous", "current"), [(0, 3), (3, 0), (6, 2), (10, 1), (2, 2)])
def test_retry_after_agrees_with_the_estimate(elapsed: float, previous: int, current: int) -> None:
    """After waiting the answer, one more request fits; a second earlier it did not."""
    limit, window = 3, 60
    if ratelimit.estimate(previous, current + 1, elapsed, window) <= limit:
        return  # it fits now; retry_after is not asked
    wait = ratelimit.retry_after(limit, window, elapsed, previous, current)

    def fits_at(t: float) -> bool:
        at = elapsed + t
        if at < window:
            return ratelimit.estimate(previous, current + 1, at, window) <= limit
        return ratelimit.estimate(current, 1, at - window, window) <= limit + 1e-9

    assert fits_at(wait)
    assert not fits_at(wait - 1.0001)


# ---- caller keys ---------------------------------------------------------------------------


def test_address_keys_are_keyed_hashes_not_addresses() -> None:
    key = ratelimit.address_key(SECRET, "203.0.113.7")
    assert len(key) == 64
    assert "203.0.113" not in key
    assert key != ratelimit.address_key(b"another-secret", "203.0.113.7")
    assert key != ratelimit.address_key(SECRET, "203.0.113.8")


def test_ipv6_addresses_count_per_slash_64() -> None:
    one = ratelimit.address_key(SECRET, "2001:db8:1:2::1")
    assert one == ratelimit.address_key(SECRET, "2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert one != ratelimit.address_key(SECRET, "2001:db8:1:3::1")


def test_ipv4_mapped_addresses_are_the_ipv4_address() -> None:
    assert ratelimit.address_key(SECRET, "::ffff:198.51.100.4") == ratelimit.address_key(
        SECRET, "198.51.100.4"
    )


def test_unknown_or_odd_addresses_still_get_a_key() -> None:
    assert ratelimit.address_key(SECRET, None) == ratelimit.address_key(SECRET, "")
    assert len(ratelimit.address_key(SECRET, "testclient")) == 64


# ---- counting in the database --------------------------------------------------------------


def _hit(db: Database, key: str, at: datetime, rule: ratelimit.Limit = RULE) -> int:
    with db.session() as s:
        return ratelimit.hit(s, rule, key, now=at)


@pytest.mark.db
def test_the_limit_admits_that_many_then_refuses_with_retry_after(db: Database) -> None:
    assert [_hit(db, "k", T0 + timedelta(seconds=i)) for i in range(3)] == [1, 2, 3]
    with pytest.raises(RateLimited) as refused:
        _hit(db, "k", T0 + timedelta(seconds=5))
    # 45 s left in this window, then the full window's count fades for 20 s
    assert refused.value.retry_after == 65
    assert "too many tries: at most 3 in a minute" in refused.value.message
    # other callers and other buckets are not affected
    assert _hit(db, "other", T0) == 1
    assert _hit(db, "k", T0, ratelimit.Limit("another_bucket", 3, 60)) == 1


@pytest.mark.db
def test_a_refused_request_is_not_counted(db: Database) -> None:
    for i in range(3):
        _hit(db, "k", T0 + timedelta(seconds=i))
    for _ in range(5):
        with pytest.raises(RateLimited):
            _hit(db, "k", T0 + timedelta(seconds=20))
    with db.session() as s:
        count = s.scalar(select(RateLimitWindow.count).where(RateLimitWindow.caller_key == "k"))
    assert count == 3


@pytest.mark.db
def test_the_window_slides(db: Database) -> None:
    start = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    for i in range(3):
        _hit(db, "k", start + timedelta(seconds=50 + i))
    # 10 s into the next minute the previous window still weighs 3 * 50/60 = 2.5
    with pytest.raises(RateLimited):
        _hit(db, "k", start + timedelta(seconds=70))
    # 40 s in, it weighs 1: two more fit
    assert _hit(db, "k", start + timedelta(seconds=100)) == 2
    assert _hit(db, "k", start + timedelta(seconds=101)) == 3
    with pytest.raises(RateLimited):
        _hit(db, "k", start + timedelta(seconds=102))


@pytest.mark.db
def test_old_windows_are_deleted_as_new_ones_start(db: Database) -> None:
    start = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    _hit(db, "a", start)
    _hit(db, "b", start + timedelta(seconds=60))
    _hit(db, "c", start + timedelta(seconds=125))  # two windows later: a's window goes
    with db.session() as s:
        keys = sorted(s.scalars(select(RateLimitWindow.caller_key)))
    assert keys == ["b", "c"]


@pytest.mark.db
def test_the_sweep_covers_every_limit(db: Database) -> None:
    start = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    _hit(db, "a", start, ratelimit.Limit("short", 3, 60))
    _hit(db, "b", start, ratelimit.Limit("long", 3, 3600))
    _hit(db, "c", start + timedelta(seconds=130))  # a new window of a third limit
    with db.session() as s:
        assert sorted(s.scalars(select(RateLimitWindow.caller_key))) == ["b", "c"]
        assert ratelimit.purge_expired(s, now=start + timedelta(hours=3)) == 2
        assert s.scalar(select(func.count()).select_from(RateLimitWindow)) == 0


@pytest.mark.db
def test_two_connections_share_one_count(db: Database) -> None:
    """Two engines stand in for two server processes: the count lives in the database."""
    other = Database(db.url)
    try:
        assert _hit(db, "k", T0) == 1
        assert _hit(other, "k", T0 + timedelta(seconds=1)) == 2
        assert _hit(db, "k", T0 + timedelta(seconds=2)) == 3
        with pytest.raises(RateLimited):
            _hit(other, "k", T0 + timedelta(seconds=3))
    finally:
        other.dispose()


@pytest.mark.db
def test_the_count_is_taken_in_the_callers_transaction(db: Database, session: Session) -> None:
    ratelimit.hit(session, RULE, "k", now=T0)
    session.rollback()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RateLimitWindow)) == 0
