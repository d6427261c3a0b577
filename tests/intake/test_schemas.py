"""What intake accepts: hashes checked by core.signals with their position named, the
taxonomy's categories, and status tokens."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shieldwall.intake import tokens
from shieldwall.intake.schemas import TakedownRequestIn, UserReportIn
from tests.intake.conftest import hashes_of, md5_of, pdq_of


def errors(model: type[Any], body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


# ---- hashes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        ({"signal_type": "md5", "value": "xyz"}, "hashes.1.value", "non-hex"),
        ({"signal_type": "md5", "value": "ab" * 15}, "hashes.1.value", "32 hex characters"),
        ({"signal_type": "pdq", "value": "0" * 63}, "hashes.1.value", "64 hex characters"),
        ({"signal_type": "sha256", "value": " "}, "hashes.1.value", "empty"),
        ({"signal_type": "vpdq", "value": "[1, 2]"}, "hashes.1.value", "vpdq"),
        ({"signal_type": "photodna", "value": "ab"}, "hashes.1.signal_type", "md5"),
        ({"signal_type": "md5", "value": md5_of(2), "quality": 80}, "hashes.1", "pdq hashes only"),
        ({"signal_type": "pdq", "value": pdq_of(2), "quality": 101}, "hashes.1.quality", "100"),
        ({"signal_type": "md5"}, "hashes.1.value", "required"),
        ({"signal_type": "md5", "value": md5_of(2), "name": "me.jpg"}, "hashes.1.name", "extra"),
    ],
)
def test_malformed_hashes_are_named_by_position(
    item: dict[str, Any], field: str, words: str
) -> None:
    found = errors(TakedownRequestIn, {"hashes": [hashes_of(1)[0], item]})
    assert field in found, found
    assert words.lower() in found[field].lower()


def test_every_bad_hash_is_reported_not_only_the_first() -> None:
    body = {
        "hashes": [
            {"signal_type": "md5", "value": "nothex"},
            *hashes_of(1),
            {"signal_type": "pdq", "value": "f" * 10},
        ]
    }
    assert {"hashes.0.value", "hashes.4.value"} <= errors(TakedownRequestIn, body).keys()


def test_hashes_are_canonicalised_and_repeats_dropped() -> None:
    body = TakedownRequestIn.model_validate(
        {
            "hashes": [
                {"signal_type": "MD5", "value": f"  {md5_of(1).upper()} "},
                {"signal_type": "md5", "value": md5_of(1)},
            ]
        }
    )
    assert [h.pair for h in body.hashes] == [("md5", md5_of(1))]


def test_a_takedown_request_needs_a_hash() -> None:
    assert "hashes" in errors(TakedownRequestIn, {"hashes": []})
    assert "hashes" in errors(TakedownRequestIn, {})


def test_only_hashes_and_what_the_requester_chooses_are_accepted() -> None:
    found = errors(TakedownRequestIn, {"hashes": hashes_of(1), "image": "aGk=", "ip": "1.2.3.4"})
    assert {"image", "ip"} <= found.keys()


def test_contact_is_one_line() -> None:
    assert "contact" in errors(TakedownRequestIn, {"hashes": hashes_of(1), "contact": "a\nb"})
    ok = TakedownRequestIn.model_validate({"hashes": hashes_of(1), "contact": "  ", "message": " "})
    assert (ok.contact, ok.message) == (None, None)


# ---- user reports --------------------------------------------------------------------------


def report(**extra: Any) -> dict[str, Any]:
    return {"reporter_id": "u-1", "category": "grooming", "content_id": "post-1", **extra}


def test_unknown_categories_are_refused_listing_the_known_ones() -> None:
    found = errors(UserReportIn, report(category="spam"))
    assert "category" in found
    for known in (
        "child_sexual_exploitation",
        "grooming",
        "sextortion",
        "non_consensual_imagery",
        "other",
    ):
        assert known in found["category"]


def test_a_takedown_category_must_be_known_too() -> None:
    found = errors(TakedownRequestIn, {"hashes": hashes_of(1), "category": "adult"})
    assert "category" in found
    assert "non_consensual_imagery" in found["category"]


def test_a_report_must_point_at_something() -> None:
    body = report()
    del body["content_id"]
    found = errors(UserReportIn, body)
    assert "content_id, url, hashes, account_id or conversation_id" in " ".join(found.values())
    for enough in (
        {"url": "https://example.org/p/1"},
        {"hashes": hashes_of(1)[:1]},
        {"account_id": "acct-1"},
        {"conversation_id": "conv-1"},
    ):
        assert UserReportIn.model_validate({**body, **enough})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reporter_id", ""),
        ("reporter_id", "x" * 201),
        ("content_id", "a\tb"),
        ("url", "ftp://example.org/x"),
        ("url", "not a url"),
        ("url", "https://example.org/" + "a" * 2100),
        ("text", "x" * 100_001),
        ("hashes", [{"signal_type": "md5", "value": md5_of(n)} for n in range(21)]),
    ],
)
def test_bad_report_fields(field: str, value: Any) -> None:
    assert any(k.startswith(field) for k in errors(UserReportIn, report(**{field: value})))


# ---- status tokens -------------------------------------------------------------------------


def test_tokens_are_random_and_long() -> None:
    made = {tokens.new_token() for _ in range(50)}
    assert len(made) == 50
    assert all(len(t) >= 43 for t in made)  # 32 bytes of randomness, base64url


def test_a_token_matches_only_its_own_digest() -> None:
    token = tokens.new_token()
    stored = tokens.digest(token)
    assert stored != token
    assert len(stored) == 64
    assert tokens.matches(token, stored)
    assert not tokens.matches(token[:-1], stored)
    assert not tokens.matches(tokens.new_token(), stored)
    assert not tokens.matches(None, stored)
    assert not tokens.matches("", stored)
    assert not tokens.matches(token, None)  # no such request
    assert not tokens.matches("", tokens.digest(""))  # an empty token never matches
