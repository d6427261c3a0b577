"""URLs as hotlines list them: normalisation, domains, and extraction from text.

Hotlines (IWF, NCMEC, Cybertip.ca...) distribute lists of URLs of known abuse material and of
domains given over to it. Two spellings of one address must compare equal, so every URL is
reduced to a *key* by :func:`normalise_url`:

- surrounding space trimmed; a missing scheme means ``http``; only ``http``/``https`` (and
  ``ftp``) are URLs here;
- the scheme, user name and password, and fragment are dropped (a list entry matches the
  address whichever way it was reached);
- the host is lower-cased, IDNA-encoded (``bücher.example`` → ``xn--bcher-kva.example``), its
  trailing dot and a leading ``www.`` removed; an IPv4/IPv6 literal is kept as written
  (IPv6 lower-cased, in brackets);
- the port is dropped when it is the scheme's default (80, 443, 21);
- in path and query, percent-escapes of unreserved characters are decoded (``%7E`` → ``~``),
  the remaining escapes upper-cased, and characters that must be escaped are escaped;
  ``.``/``..`` segments resolved; repeated slashes kept (servers differ); a trailing slash
  dropped (``/a/`` and ``/a`` are one entry; the root is the empty path);
- an empty query (``?``) is dropped; a non-empty one is kept as it is, in order.

The key is ``host[:port]path[?query]``. :func:`host_of` gives the normalised host and
:func:`domain_candidates` the host and each parent domain, which is how domain entries
match (an entry ``example.net`` matches ``a.b.example.net``).

:func:`extract_urls` finds URLs in free text, including the common obfuscations
``example[.]com``, ``example(.)com``, ``example dot com`` and ``hxxp://``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "MAX_URL_LENGTH",
    "domain_candidates",
    "extract_urls",
    "host_of",
    "normalise_domain",
    "normalise_url",
]

MAX_URL_LENGTH = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
# "mailto:x", "javascript:y": a scheme without "//" (a colon before a port has digits)
_OTHER_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d)")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# characters left as they are in a path/query (RFC 3986 pchar + "/" + "?"), besides escapes
_SAFE_PATH = "/:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

# every pattern here is linear: bounded runs, no nested repetition (texts are hostile)
_DEOBFUSCATE = [
    (re.compile(r"[ \t]{0,3}[\[\(\{][ \t]{0,3}(?:\.|dot)[ \t]{0,3}[\]\)\}][ \t]{0,3}", re.I), "."),
    (re.compile(r"(?<=[a-z0-9])[ \t]{1,3}dot[ \t]{1,3}(?=[a-z0-9])", re.IGNORECASE), "."),
    (re.compile(r"\bhxxp(s?)://", re.IGNORECASE), r"http\1://"),
    (re.compile(r"\[:\]//"), "://"),
]
# a cheap test before the substitutions above
_DEOBFUSCATE_ANY = re.compile(r"[\[\(\{]|\sdot\s|hxxp", re.IGNORECASE)
_DOT_LETTER = re.compile(r"\.[a-zA-Z]")
# URLs are looked for token by token (split on spaces and quotes), never with one regex
# over the whole text: a long "a.a.a.a..." run made such a regex take quadratic time
_TOKEN_SPLIT = re.compile(r"[\s<>\"'`]+")
_SCHEME_IN_TOKEN = re.compile(r"(?:https?|ftp)://", re.IGNORECASE)
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TLD = re.compile(r"[a-z]{2,24}|xn--[a-z0-9-]{1,59}")
_HOST_END = re.compile(r"[/:?#]")
_LEADING = "([{<\"'"
_TRAILING = ".,;:!?)]}'\""


class _BadUrl(ValueError):
    pass


def normalise_domain(value: str) -> str:
    """A domain as a list entry holds it: lower case, IDNA, no trailing dot, no ``www.``
    (a leading ``*.`` wildcard is accepted: a domain entry covers its subdomains anyway).

    Raises ``ValueError`` with a reason for anything that is not a host name.
    """
    host = value.strip().lower().rstrip(".").removeprefix("*.")  # "*.example.com" as lists write it
    if "://" in host or "/" in host or not host:
        raise ValueError(f"not a domain name: {value[:80]!r}")
    return _normalise_host(host)


def _normalise_host(host: str) -> str:
    host = host.rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise _BadUrl(f"bad IPv6 address {host[:60]!r}") from None
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise _BadUrl(f"host {host[:60]!r} is not a valid domain name") from None
    labels = ascii_host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise _BadUrl(f"host {host[:60]!r} is not a valid domain name")
    if labels[0] == "www" and len(labels) > 2:
        labels = labels[1:]
    return ".".join(labels)


def _normalise_escapes(part: str, safe: str) -> str:
    def decode_unreserved(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else f"%{m.group(1).upper()}"

    part = _ESCAPE.sub(decode_unreserved, part)
    # escape what must be escaped; keep existing escapes (the % of "%2F" stays)
    return quote(part, safe=safe + "%")


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if seg == ".":
            if i == len(segments) - 1:
                out.append("")
            continue
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if i == len(segments) - 1:
                out.append("")
            continue
        out.append(seg)
    return "/".join(out)


def normalise_url(value: str) -> str:
    """The comparison key of a URL (see the module docstring).

    Raises ``ValueError`` with a reason for text that is not an http(s)/ftp URL.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty URL")
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() for c in text):
        raise ValueError("a URL cannot contain spaces")
    m = _SCHEME.match(text)
    if m is None and (other := _OTHER_SCHEME.match(text)) is not None:
        raise ValueError(f"scheme {other.group(1)[:20]!r} is not http, https or ftp")
    if m is None:
        text = "http://" + text.lstrip("/")
        scheme = "http"
    else:
        scheme = m.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"scheme {scheme[:20]!r} is not http, https or ftp")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed URL: {exc}") from None
    raw_host = parts.hostname
    if not raw_host:
        raise ValueError("URL has no host")
    if ":" in raw_host:
        raw_host = f"[{raw_host}]"
    try:
        host = _normalise_host(unquote(raw_host))
    except _BadUrl as exc:
        raise ValueError(str(exc)) from None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_normalise_escapes(parts.path, _SAFE_PATH))
    path = path.rstrip("/")
    if path and not path.startswith("/"):
        path = "/" + path
    query = _normalise_escapes(parts.query, _SAFE_QUERY)
    return f"{netloc}{path}?{query}" if query else f"{netloc}{path}"


def host_of(key: str) -> str:
    """The host (without port) of a key from :func:`normalise_url`."""
    netloc = key.split("/", 1)[0].split("?", 1)[0]
    if netloc.startswith("["):
        return netloc[: netloc.index("]") + 1]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def domain_candidates(host: str) -> list[str]:
    """``a.b.example.net`` → ``[a.b.example.net, b.example.net, example.net, net]``; an IP
    address only itself."""
    if host.startswith("[") or host.replace(".", "").isdigit():
        return [host]
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _bare_host(token: str) -> bool:
    """``host.tld`` or ``host.tld/...`` (no scheme): every label valid, an alphabetic TLD."""
    cut = _HOST_END.search(token)
    host = (token[: cut.start()] if cut else token).lower()
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253:
        return False
    return _TLD.fullmatch(labels[-1]) is not None and all(
        _HOST_LABEL.fullmatch(label) for label in labels[:-1]
    )


def _candidate(token: str) -> str | None:
    token = token.lstrip(_LEADING).rstrip(_TRAILING)
    if len(token) < 4 or len(token) > MAX_URL_LENGTH or "." not in token:
        return None
    scheme = _SCHEME_IN_TOKEN.search(token)
    if scheme is not None:
        return token[scheme.start() :]
    if token[:4].lower() == "www." or _bare_host(token):
        return token
    return None


def extract_urls(text: str, *, limit: int = 100) -> list[tuple[str, str]]:
    """``(as written, normalised key)`` for each distinct URL-like string in ``text``, in
    order, at most ``limit``; strings that do not normalise are skipped. Linear in the
    length of the text."""
    cleaned = text
    if _DEOBFUSCATE_ANY.search(text) is not None:
        for pattern, repl in _DEOBFUSCATE:
            cleaned = pattern.sub(repl, cleaned)
    if _DOT_LETTER.search(cleaned) is None:  # no host.tld anywhere: nothing to extract
        return []
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for token in _TOKEN_SPLIT.split(cleaned):
        raw = _candidate(token)
        if raw is None:
            continue
        try:
            key = normalise_url(raw)
        except ValueError:
            continue
        if key in seen:
            continue
        seen.add(key)
        found.append((raw, key))
        if len(found) >= limit:
            break
    return found
