"""What every exchange adapter speaks: records, pages, errors, and one careful HTTP client.

An adapter turns a source's pages into :class:`Page` objects: the usable records (with
signal types already mapped to shieldwall's names), the rejected ones (with a reason that
never quotes a hash), and the checkpoint to resume from *after* this page. The fetch runner
(``shieldwall.exchanges.runner``) applies pages to the bank and commits progress; adapters
never touch the database.

Errors (all :class:`SourceError`, each with a message an operator can act on)::

    SourceError
     ├── TimeLimitReached     the run's time is up (not a failure: the next run resumes)
     ├── SourceBusy           429 / 5xx / network trouble outlasted the retries or the time left
     ├── SourceRefused        401 / 403 / 404 / other 4xx: credentials or settings are wrong
     └── SourceMalformed      the source sent something that cannot be read at all
"""

from __future__ import annotations

import email.utils
import random
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from shieldwall.core import jsondoc
from shieldwall.core.errors import InvalidInput
from shieldwall.integrations.url_fetch import (
    HostUnresolved,
    PinnedTransport,
    Resolver,
    UrlFetcher,
    UrlRefused,
    literal_host_refused,
    refuse_unreadable_location,
    system_resolver,
    tls_context,
)

USER_AGENT = "shieldwall-exchange/1"
#: Largest page body read from a source; a page that never ends stops here.
MAX_PAGE_BYTES = 64 * 1_048_576
_ALL_PORTS = frozenset(range(1, 65536))


class SourceError(Exception):
    """The fetch cannot go on now; ``str(exc)`` says why in plain words."""


class TimeLimitReached(SourceError):
    pass


class SourceBusy(SourceError):
    pass


class SourceRefused(SourceError):
    pass


class SourceMalformed(SourceError):
    pass


@dataclass(slots=True)  # not frozen: a frozen __init__ costs three times as much
class SourceRecord:
    """One record of the source, as the bank should see it (made a million times in a
    large fetch; treat it as immutable).

    ``signals`` are ``(signal_type, value)`` pairs in shieldwall's names, not yet validated;
    ``deleted`` means the source withdrew the record (its signals leave the bank unless
    another record still carries them).
    """

    record_id: str
    signals: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()
    deleted: bool = False


#: Longest record id a source's record may have (longer ones are refused).
MAX_RECORD_ID = 200


def signal_name(prefix: str, value: str) -> str | None:
    """``<prefix>:<value>``, the record id of a source that names a record after its one
    signal; None when that would be :data:`MAX_RECORD_ID` characters or longer (the source
    then names the record some other way)."""
    if len(prefix) + len(value) < MAX_RECORD_ID:
        return f"{prefix}:{value}"
    return None


@dataclass(frozen=True)
class RecordNames:
    """How a source names a record after its one signal: ``<prefix>:<value>``, the prefix
    being the source's name for our signal type (StopNCII's ``ImagePDQ`` for ``pdq``; a
    list's own ``pdq``). Such a record id says nothing its signal does not, so provenance
    does not keep it twice (see :mod:`shieldwall.exchanges.ingest`)."""

    #: our signal type -> the source's prefix
    prefixes: Mapping[str, str]
    _types: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_types", {p: ours for ours, p in self.prefixes.items()})

    def record_id(self, signal_type: str, value: str) -> str | None:
        """The record id of the record carrying this signal (canonical value), or None
        when the source names it otherwise (too long, or a type it has no name for)."""
        prefix = self.prefixes.get(signal_type)
        return None if prefix is None else signal_name(prefix, value)

    def signal(self, record_id: str) -> tuple[str, str] | None:
        """(our signal type, value as named) a record id names, or None; the value is not
        checked (a caller normalises it and compares :meth:`record_id` of the result)."""
        prefix, sep, value = record_id.partition(":")
        signal_type = self._types.get(prefix) if sep else None
        return None if signal_type is None or not value else (signal_type, value)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record (or a whole page) that cannot be used, and why."""

    record_id: str
    reason: str


@dataclass
class Page:
    records: list[SourceRecord] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    #: Records with nothing shieldwall uses (e.g. PhotoDNA only): counted, not kept.
    skipped: int = 0
    #: Where the next fetch resumes once this page is applied; None: unchanged.
    checkpoint: dict[str, Any] | None = None
    #: Snapshot sources (a whole list every time): after this page, every record of the
    #: exchange not seen since this time is gone from the source.
    sweep_before: datetime | None = None


class Adapter(Protocol):
    def pages(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        """Pages from ``checkpoint`` on, each with the checkpoint after it. Raises
        :class:`SourceError`; stops by itself when caught up."""
        ...


class Deadline:
    """The end of a run's time, on a monotonic clock (``clock`` is a test seam)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.seconds = seconds
        self.ends = clock() + seconds

    def remaining(self) -> float:
        return self.ends - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self) -> None:
        if self.expired():
            raise TimeLimitReached(
                f"the run's time limit ({self.seconds:g} s) was reached; the next run resumes "
                "from the checkpoint"
            )


#: A new pass over a source read by time (NCMEC, StopNCII, ThreatExchange) starts this far
#: before where the last one ended and reads that stretch again (applying a record twice
#: changes nothing): a record stamped with a time the last pass had already gone past (the
#: source's clock behind ours, or a record that became visible after its timestamp) is
#: still read. pytx moves on from exactly where it stopped.
LOOKBACK_SECONDS = 600


@dataclass
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def certificate_refusal(exc: BaseException) -> str | None:
    """Why TLS refused the server's certificate, when that is what ``exc`` (or an error it
    was raised from) is; otherwise None."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain, never a cycle, but bounded all the same
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            reason = seen.verify_message or seen.reason or "certificate verify failed"
            return str(reason).rstrip(".")[:200]
        seen = seen.__cause__ or seen.__context__
    return None


def printable(text: str) -> str:
    """``text`` with anything unprintable (NUL, control and format characters, lone
    surrogates) replaced, so a hostile source cannot make a row or a message unstorable."""
    if text.isprintable():
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in text)


#: What to mend when our egress proxy refuses us (407), to a request or to a tunnel.
_PROXY_LOGIN = "check the user name and password in exchange_proxy_url"


def _status_words(status: int) -> str:
    try:
        phrase = httpx.codes.get_reason_phrase(status)
    except ValueError:
        phrase = ""
    return f"{status} {phrase}".strip()


class SourceClient:
    """HTTP for adapters: a time limit for everything, bounded bodies, retries with
    exponential backoff (and the source's ``Retry-After``, when it fits in the time left)
    on 429, 5xx and network errors.

    ``transport`` (httpx) and ``sleep`` are test seams; ``allow_private`` lets a source
    live on a private or loopback address (a partner on an internal network, a test fake).
    With ``proxy`` (an HTTP proxy's URL) every request goes through that proxy, which
    resolves and connects: a source written as a refused address is still refused, but
    names are left to the proxy (and its egress rules). ``ca_file`` (PEM) adds certificate
    authorities to the public ones that sources' certificates may be signed by.
    """

    def __init__(
        self,
        deadline: Deadline,
        *,
        allow_private: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        request_timeout: float = 60.0,
        max_bytes: int = MAX_PAGE_BYTES,
        on_wait: Callable[[], None] | None = None,
        resolver: Resolver = system_resolver,
        proxy: str | None = None,
        ca_file: str | Path | None = None,
    ) -> None:
        self.deadline = deadline
        self.proxy = proxy or None
        self.allow_private = allow_private
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.request_timeout = request_timeout
        self.max_bytes = max_bytes
        #: Called before each wait (the runner renews its lease there).
        self.on_wait = on_wait
        self.retries = 0
        self._checked_hosts: set[str] = set()
        self.resolver = resolver
        if transport is None:
            try:
                context = tls_context(ca_file)
            except ValueError as exc:  # the operator's to mend; feedback waits for it
                raise SourceBusy(
                    f"exchange_ca_file: {exc}; fix the setting; the next run tries again"
                ) from None
            transport = (
                httpx.HTTPTransport(proxy=self.proxy, verify=context, trust_env=False)
                if self.proxy
                # every connection resolves and checks its address itself (DNS rebinding)
                else PinnedTransport(
                    allow_private=allow_private, resolver=resolver, ssl_context=context
                )
            )
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
            # a Location httpx cannot read is refused (UrlRefused), not an IDNAError
            event_hooks={"response": [refuse_unreadable_location]},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SourceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def check_url(self, url: str) -> None:
        """Refuse (:class:`SourceRefused`) URLs that are not http(s), that cannot be read
        (an empty or over-long label in the host, an unclosed ``[``, a control character),
        or (unless allowed) that reach private addresses."""
        checker = UrlFetcher(
            max_bytes=1,
            timeout_seconds=1,
            allow_private=self.allow_private,
            allowed_ports=_ALL_PORTS,
            resolver=self.resolver,
        )
        try:
            # the form first (every request: a cached host is no excuse for a malformed URL)
            scheme, host, _port = checker.parse(url)
            key = f"{scheme}://{host}"
            if key in self._checked_hosts:
                return
            if self.proxy is None:
                try:
                    checker.check(url)
                except HostUnresolved:
                    # maybe passing: the connection resolves the name again, and a failure
                    # there is retried like any network trouble
                    return
            else:  # the proxy resolves names; judge what is written
                if not self.allow_private and literal_host_refused(host):
                    raise UrlRefused(
                        f"{host} is a private, loopback, link-local or reserved address; "
                        "such URLs are not fetched"
                    )
        except InvalidInput as exc:
            raise SourceRefused(f"the source address is refused: {exc.message}") from None
        self._checked_hosts.add(key)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        ok: Callable[[int], bool] = lambda s: 200 <= s < 300,
        retry: bool = True,
    ) -> HttpReply:
        """One request with retries; returns the reply whose status ``ok`` accepts.

        Raises :class:`SourceBusy` (429/5xx/network errors beyond the retries or the time
        left), :class:`SourceRefused` (other statuses), :class:`TimeLimitReached`.
        """
        self.check_url(url)
        attempt = 0
        while True:
            self.deadline.check()
            wait: float | None = None
            try:
                reply = self._once(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    auth=auth,
                    content=content,
                    json=json,
                )
            except (HostUnresolved, httpx.TransportError) as exc:
                problem = self._network_problem(what, exc)
            except InvalidInput as exc:  # the address it resolves to now is refused
                raise SourceRefused(f"the source address is refused: {exc.message}") from None
            except httpx.InvalidURL as exc:  # not a TransportError; check_url says it first
                raise SourceRefused(f"the source address cannot be read ({exc})") from None
            else:
                if ok(reply.status):
                    return reply
                problem = _answered(what, reply.status)
                if reply.status != 429 and reply.status < 500:
                    said = source_says(reply.body, _secrets_of(headers, params, auth))
                    raise SourceRefused(_refusal(problem, reply.status, said))
                wait = retry_after_seconds(reply.headers.get("retry-after"))
            attempt += 1
            self._wait_to_retry(problem, attempt, wait, retry=retry)

    @contextmanager
    def open_lines(
        self, url: str, *, what: str, headers: Mapping[str, str] | None = None
    ) -> Iterator[tuple[int, Mapping[str, str], Iterator[bytes]]]:
        """A streamed GET: (status, headers, lines without their line ends). Retries like
        :meth:`request` until the status is 200 or 304; the body is never held whole.
        The line iterator checks the time limit as it goes."""
        self.check_url(url)
        attempt = 0
        while True:
            self.deadline.check()
            limit = min(self.request_timeout, max(0.01, self.deadline.remaining()))
            wait: float | None = None
            try:
                with self._client.stream(
                    "GET", url, headers=headers, timeout=httpx.Timeout(limit)
                ) as response:
                    status = response.status_code
                    if status in (200, 304):
                        yield status, dict(response.headers), self._lines(response)
                        return
                    problem = _answered(what, status)
                    if status != 429 and status < 500:
                        raise SourceRefused(_refusal(problem, status))
                    wait = retry_after_seconds(response.headers.get("retry-after"))
            except (HostUnresolved, httpx.TransportError) as exc:
                problem = self._network_problem(what, exc)
            except InvalidInput as exc:  # the address it resolves to now is refused
                raise SourceRefused(f"the source address is refused: {exc.message}") from None
            except httpx.InvalidURL as exc:  # not a TransportError; check_url says it first
                raise SourceRefused(f"the source address cannot be read ({exc})") from None
            attempt += 1
            self._wait_to_retry(problem, attempt, wait)

    def _lines(self, response: httpx.Response) -> Iterator[bytes]:
        # The unfinished line grows in place and only a chunk holding a line break is split:
        # a hostile line as long as the limit costs one pass over its bytes, not one copy
        # (and one scan) of everything so far per chunk (33 s of CPU for 64 MiB in 64 KiB
        # chunks, before).
        pending = bytearray()
        chunks = response.iter_bytes()
        while True:
            try:
                chunk = next(chunks, None)
            except httpx.TransportError as exc:
                raise SourceBusy(
                    f"the connection failed while reading the list ({type(exc).__name__}); "
                    "the next run tries again"
                ) from None
            except httpx.DecodingError:
                raise SourceMalformed(undecodable(response)) from None
            if chunk is None:
                break
            self.deadline.check()
            if b"\n" in chunk:
                first, *complete, rest = chunk.split(b"\n")
                pending += first
                for line in (bytes(pending), *complete):
                    if len(line) > self.max_bytes:
                        raise SourceMalformed(f"a line is longer than {self.max_bytes:,} bytes")
                    yield line.rstrip(b"\r")
                pending = bytearray(rest)
            else:
                pending += chunk
            if len(pending) > self.max_bytes:
                raise SourceMalformed(f"a line is longer than {self.max_bytes:,} bytes")
        if pending:
            yield bytes(pending).rstrip(b"\r")

    def _network_problem(self, what: str, exc: HostUnresolved | httpx.TransportError) -> str:
        """The words for a failed connection, to be retried (a name that does not resolve
        is often passing: a resolver timeout); a certificate that TLS refused is not
        retried in this run (it does not mend itself in seconds) but stays busy, not
        refused, so queued feedback waits for it to be fixed."""
        self.deadline.check()  # cut short by the run's time limit: not the source
        if isinstance(exc, HostUnresolved):
            return f"{what}: {exc.message}"
        if isinstance(exc, httpx.ProxyError):  # the proxy would not open a tunnel (https)
            answer = printable(str(exc)[:80])
            if answer.startswith("407"):
                raise SourceRefused(
                    f"{what}: the exchange proxy answered {answer} to the tunnel request: "
                    f"{_PROXY_LOGIN}"
                )
            return f"{what}: the exchange proxy would not open a tunnel to the source ({answer})"
        refused = certificate_refusal(exc)
        if refused is not None:
            raise SourceBusy(
                f"{what}: the source's TLS certificate was not accepted ({refused}); check "
                "the exchange's address and the source's certificate; the next run tries again"
            )
        return f"{what}: the connection failed ({type(exc).__name__})"

    def _wait_to_retry(
        self, problem: str, attempt: int, wait: float | None, *, retry: bool = True
    ) -> None:
        """After failed attempt number ``attempt``: sleep before the next one (as long as
        the source's ``Retry-After`` asked, else backing off), or give up as busy when
        retrying is off, the attempts are spent, or the wait outlasts the run."""
        if not retry or attempt >= self.max_attempts:
            raise SourceBusy(f"{problem} ({attempt} attempt(s)); the next run tries again")
        delay = wait if wait is not None else self._backoff(attempt)
        if delay >= self.deadline.remaining():
            raise SourceBusy(
                f"{problem}; it asked to wait {delay:.0f} s, longer than this run has "
                "left; the next run tries again"
                if wait is not None
                else f"{problem}; no time left in this run to retry; the next run tries again"
            )
        self.retries += 1
        if self.on_wait is not None:
            self.on_wait()
        self.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        delay = float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret

    def _once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        content: bytes | None,
        json: Any,
    ) -> HttpReply:
        remaining = max(0.01, self.deadline.remaining())
        limit = min(self.request_timeout, remaining)
        with self._client.stream(
            method,
            url,
            params=params,
            headers=headers,
            auth=auth,
            content=content,
            json=json,
            timeout=httpx.Timeout(limit),
        ) as response:
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise SourceMalformed(
                            f"a page from the source is larger than {self.max_bytes:,} bytes; "
                            "stopped reading it"
                        )
                    chunks.append(chunk)
                    self.deadline.check()
            except httpx.DecodingError:
                if response.status_code == 429 or response.status_code >= 500:
                    chunks = []  # the status says what matters: retried
                else:
                    raise SourceMalformed(undecodable(response)) from None
            return HttpReply(
                status=response.status_code,
                headers=dict(response.headers),
                body=b"".join(chunks),
                url=str(response.url),
            )


def undecodable(response: httpx.Response) -> str:
    """Words for a body its own ``Content-Encoding`` does not decode (a misconfigured
    server, or a proxy that altered it)."""
    encoding = printable(response.headers.get("content-encoding", "")[:40])
    return (
        f"the source's answer could not be decoded as the Content-Encoding it names "
        f"({encoding!r}); the source or a proxy on the way sent it damaged"
    )


def loads_json(body: bytes, what: str, *, object_hook: Callable[..., Any] | None = None) -> Any:
    """``body`` parsed as JSON, or :class:`SourceMalformed` saying why in plain words (not
    JSON at all, or nested too deeply: see :mod:`shieldwall.core.jsondoc`)."""
    try:
        return jsondoc.loads(body, object_hook=object_hook)
    except ValueError as exc:
        raise SourceMalformed(f"{what} is not JSON ({exc})") from None


def same_origin(url: str, base: str) -> bool:
    """Whether ``url`` goes to the scheme, host and port of ``base``, with no user name in
    it (as httpx, which sends the request, reads both). A paging link a source sends is
    followed only then: requests carry the exchange's credentials."""
    try:
        target, home = httpx.URL(url), httpx.URL(base)
        # .host decodes xn-- labels: idna.IDNAError (a UnicodeError) for one that is no punycode
        return not target.userinfo and (target.scheme, target.host, target.port) == (
            home.scheme,
            home.host,
            home.port,
        )
    except (httpx.InvalidURL, TypeError, UnicodeError):
        return False


def _answered(what: str, status: int) -> str:
    who = "the exchange proxy" if status == 407 else "the source"
    return f"{what}: {who} answered {_status_words(status)}"


def _refusal(problem: str, status: int, said: str | None = None) -> str:
    hint = ""
    if status in (401, 403):
        hint = ": check the exchange's credentials"
    elif status == 404:
        hint = ": check the exchange's address and settings"
    elif status == 407:  # from our egress proxy, not the source
        hint = f": {_PROXY_LOGIN}"
    return f"{problem}{hint}" + (f" (it says: {said})" if said else "")


#: Where JSON error answers keep their words: Graph API ``{"error": {"type", "code",
#: "message"}}``, Azure API Management ``{"statusCode", "message"}``, problem+json
#: ``{"title", "detail"}`` (another shieldwall deployment), and plain ``{"error": "..."}``.
_SAID_KEYS = ("message", "Message", "error_description", "title", "detail")
SAID_CHARS = 200


def source_says(body: bytes, secrets: Iterable[str] = ()) -> str | None:
    """The words of a JSON error answer (at most :data:`SAID_CHARS` printable characters),
    with ``secrets`` (the request's credentials, should the source echo them) masked; None
    when the answer is not such JSON (an HTML page says nothing useful here)."""
    if len(body) > 16_384 or not body.lstrip().startswith(b"{"):
        return None
    try:
        doc = jsondoc.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    words: list[str] = []
    error = doc.get("error")
    if isinstance(error, dict):
        for key in ("type", "code", "message"):
            value = error.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                words.append(str(value))
    elif isinstance(error, str):
        words.append(error)
    if not words:
        words = [v for k in _SAID_KEYS if isinstance(v := doc.get(k), str)][:2]
    text = " ".join(" ".join(words).split())
    for secret in secrets:
        text = text.replace(secret, "***")
    text = printable(text)
    if len(text) > SAID_CHARS:
        text = text[: SAID_CHARS - 3] + "..."
    return text or None


def _secrets_of(
    headers: Mapping[str, str] | None,
    params: Mapping[str, Any] | None,
    auth: tuple[str, str] | None,
) -> list[str]:
    """The values a request carried that may be credentials (every header and parameter
    value of some length, and the Basic password): masked wherever a source repeats them."""
    values = [*(headers or {}).values(), *(str(v) for v in (params or {}).values())]
    if auth is not None:
        values.append(auth[1])
    return sorted({v for v in values if isinstance(v, str) and len(v) >= 6}, key=len, reverse=True)


def utc_now() -> datetime:
    return datetime.now(UTC)
