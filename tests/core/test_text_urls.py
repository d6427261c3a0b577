"""shieldwall.core.text_urls: hotline-style URL keys, domains and extraction."""

from __future__ import annotations

import pytest

from shieldwall.core.text_urls import (
    domain_candidates,
    extract_urls,
    host_of,
    normalise_domain,
    normalise_url,
)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("HTTP://WWW.Example.COM:80/a/b/../c/?", "example.com/a/c"),
        ("https://example.com:443/", "example.com"),
        ("example.com", "example.com"),
        ("//example.com/x", "example.com/x"),
        ("http://user:pw@example.com/p#frag", "example.com/p"),
        ("http://example.com:8080/p/", "example.com:8080/p"),
        ("http://example.com/%7Euser/%2f", "example.com/~user/%2F"),
        ("http://example.com/a b".replace(" ", "%20"), "example.com/a%20b"),
        ("http://example.com/caf\u00e9", "example.com/caf%C3%A9"),
        ("http://b\u00fccher.example/", "xn--bcher-kva.example"),
        ("http://example.com./x", "example.com/x"),
        ("http://[2001:DB8::1]:80/", "[2001:db8::1]"),
        ("http://10.0.0.1/p?q=1&r=2", "10.0.0.1/p?q=1&r=2"),
        ("ftp://files.example/x", "files.example/x"),
    ],
)
def test_normalise_url(url: str, key: str) -> None:
    assert normalise_url(url) == key


def test_http_and_https_spellings_are_one_entry() -> None:
    spellings = [
        "http://example.com/gallery/",
        "https://EXAMPLE.com/gallery",
        "example.com/gallery/",
        "http://www.example.com:80/gallery",
        "http://example.com/./gallery",
        "http://example.com/%67allery",  # percent-encoded unreserved letter
    ]
    assert {normalise_url(u) for u in spellings} == {"example.com/gallery"}


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "javascript:alert(1)",
        "http://",
        "http://a..b/",
        "mailto:x@y.z",
        "http://x y/",
        "http://example.com:99999/",
        "http://" + "a" * 5000,
    ],
)
def test_bad_urls_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        normalise_url(bad)


def test_domains_and_parents() -> None:
    assert normalise_domain("WWW.Example.COM.") == "example.com"
    assert normalise_domain("*.Example.com") == "example.com"
    with pytest.raises(ValueError, match="not a domain"):
        normalise_domain("http://example.com/")
    assert host_of("a.example.com:8080/p") == "a.example.com"
    assert domain_candidates("a.b.example.net") == [
        "a.b.example.net",
        "b.example.net",
        "example.net",
        "net",
    ]
    assert domain_candidates("10.0.0.1") == ["10.0.0.1"]


def test_extract_urls_from_text_with_obfuscations() -> None:
    text = (
        "see www.Example.com/a, or bad[.]site dot net/x and hxxps://evil.example/p?x=1. "
        "also https://evil.example/p?x=1 again; e.g. 3.5 is a number"
    )
    found = [key for _raw, key in extract_urls(text)]
    assert found == ["example.com/a", "bad.site.net/x", "evil.example/p?x=1"]


def test_extract_urls_is_bounded() -> None:
    text = " ".join(f"site{i}.example" for i in range(500))
    assert len(extract_urls(text, limit=100)) == 100
