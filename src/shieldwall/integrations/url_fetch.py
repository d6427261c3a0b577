"""Fetching media from a URL a caller gave us, without becoming a proxy into our network.

Server-side request forgery protection:

* only ``http`` and ``https`` URLs, without user:password, on the allowed ports, whose host
  is an IP address or a name a resolver can look up (labels of 1-63 characters, 253 in all:
  :func:`check_host`), in a form httpx can send (:func:`split_url`);
* the host name is resolved once and **every** address is checked: loopback, private,
  link-local (cloud metadata at 169.254.169.254), multicast, reserved, unspecified and
  shared (100.64/10) addresses are refused unless ``scan_url_allow_private`` is on;
* the connection goes to the address that was checked (no second DNS answer can swap in
  an internal one), with the original Host header and TLS server name;
* redirects are followed by hand, each hop checked the same way, at most
  ``scan_url_max_redirects``;
* the body is streamed and cut off at ``scan_max_bytes``; the whole fetch is bounded by
  ``scan_url_timeout_seconds``.

Failures raise :class:`UrlRefused` (the caller's URL is not acceptable) or
:class:`UrlFetchFailed` (the remote side failed), both :class:`InvalidInput` subclasses, with
a message that names the reason.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from shieldwall.core.errors import InvalidInput, PayloadTooLarge

Resolver = Callable[[str, int], list[str]]
ALLOWED_PORTS = frozenset({80, 443, 8080, 8443})
#: The longest label of a host name, and the longest name (RFC 1035, without the final dot).
MAX_LABEL = 63
MAX_NAME = 253


class UrlRefused(InvalidInput):
    slug = "url-refused"
    title = "URL refused"


class UrlFetchFailed(InvalidInput):
    status = 502
    slug = "url-fetch-failed"
    title = "Could not fetch the URL"


class HostUnresolved(UrlFetchFailed):
    """The host name has no address now. Often passing (a resolver timeout, ``EAI_AGAIN``),
    so callers that retry treat it as network trouble, not as a refused address."""


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes
    content_type: str | None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostUnresolved(f"the host name {host!r} does not resolve ({exc.strerror})") from None
    except ValueError:  # UnicodeError from the idna codec: an empty or too long label
        raise UrlRefused(_bad_name(host)) from None
    return sorted({str(info[4][0]) for info in infos})


def _bad_name(host: str) -> str:
    return (
        f"the host name {host[:100]!r} is not a valid name: each part between dots must be "
        f"1-{MAX_LABEL} characters (once IDNA-encoded), the whole name at most {MAX_NAME}, "
        "with only characters a host name may hold"
    )


def check_host(host: str) -> str:
    """``host`` (as :func:`urllib.parse.urlsplit` gives it: no brackets) if it is an IP
    address or a name the resolver can look up: every dot-separated label 1-63 characters
    once IDNA-encoded, at most 253 in all (one final dot allowed). Raises
    :class:`UrlRefused` otherwise (the ``idna`` codec would raise UnicodeError)."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    name = host.removesuffix(".")
    try:
        encoded = name.encode("idna")
    except UnicodeError:  # a label empty, too long, or with a character IDNA refuses
        raise UrlRefused(_bad_name(host)) from None
    if len(encoded) > MAX_NAME:  # the codec itself refuses empty and over-long labels
        raise UrlRefused(_bad_name(host))
    return host


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an ``http`` or ``https`` URL whose form can be fetched: no
    user name or password, a host :func:`check_host` accepts, a port that is a number, and
    nothing httpx refuses (spaces and control characters, IDNA it cannot read). Raises
    :class:`UrlRefused` naming the problem; names are not resolved and ports not judged."""
    if len(url) > 4096:
        raise UrlRefused("the URL is longer than 4096 characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": an unclosed [ or a bad address in [ ]
        raise UrlRefused(f"the URL cannot be read ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused(f"only http and https URLs can be fetched, not {scheme or 'none'!r}")
    if parts.username or parts.password:
        raise UrlRefused("URLs with a user name or password are not fetched")
    host = parts.hostname
    if not host:
        raise UrlRefused("the URL has no host")
    check_host(host)
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("the URL's port is not a number between 0 and 65535") from None
    try:  # what the request will be built from: httpx reads URLs more strictly
        parsed = httpx.URL(url)
        _ = parsed.host  # decodes xn-- labels, which may fail
    except httpx.InvalidURL as exc:
        raise UrlRefused(f"the URL cannot be read ({exc})") from None
    except UnicodeError:  # idna.IDNAError: an xn-- label that is no valid punycode
        raise UrlRefused(
            f"the host name {host[:100]!r} is not a valid international name"
        ) from None
    if not host.isascii():  # the Host header and TLS name are ASCII: the xn-- form httpx sends
        host = parsed.raw_host.decode("ascii")
    return scheme, host, port


def refuse_unreadable_location(response: httpx.Response) -> None:
    """An httpx response hook: :class:`UrlRefused` for a redirect whose ``Location`` httpx
    cannot read. httpx builds the next request of every redirect, followed or not, and fails
    on such a Location with RemoteProtocolError or ``idna.IDNAError`` (a UnicodeError, which
    no handler of HTTP errors catches)."""
    location = response.headers.get("location")
    if location is None or not response.is_redirect:
        return
    try:
        _ = httpx.URL(location).host
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise UrlRefused(
            f"the server redirects to an address that cannot be read ({str(exc)[:100]})"
        ) from None


def tls_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """httpx's TLS context (the public authorities of certifi), also trusting the
    authorities in ``ca_file`` (PEM) when given. Raises ValueError naming the problem (never
    quoting the file's content)."""
    context = httpx.create_ssl_context()
    if ca_file is None:
        return context
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except FileNotFoundError:
        raise ValueError("the certificate authority file does not exist") from None
    except IsADirectoryError:
        raise ValueError("the certificate authority file is a folder, not a file") from None
    except PermissionError:
        raise ValueError("the certificate authority file cannot be read (permissions)") from None
    except (ssl.SSLError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(
            "the certificate authority file holds no PEM certificate that loads "
            f"({type(exc).__name__})"
        ) from None
    return context


def check_proxy_url(url: str) -> str:
    """``url`` as an HTTP proxy address (``http(s)://[user:password@]host:port``); raises
    ValueError naming the problem, never quoting the URL (it may hold a password)."""
    text = url.strip()
    try:
        parts = httpx.URL(text)
    except httpx.InvalidURL:
        raise ValueError("the proxy address is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ValueError("the proxy address must be http://host:port or https://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("the proxy address takes no path, query or fragment")
    return text


def literal_host_refused(host: str) -> bool:
    """Whether ``host`` is, as written, a private, loopback, link-local or reserved address
    (or localhost): what can be judged without resolving a name."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = str(ipaddress.ip_address(name))
    except ValueError:
        try:  # the forms resolvers also read as IPv4: 127.1, 0x7f.0.0.1, 2130706433
            address = str(ipaddress.IPv4Address(socket.inet_aton(name)))
        except (OSError, ValueError):
            return False
    return not _is_public(address)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    shared = ipaddress.ip_network("100.64.0.0/10")
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in shared)
    )


def checked_addresses(
    host: str, port: int, *, resolver: Resolver, allow_private: bool
) -> list[str]:
    """The addresses of ``host``, all of them public unless ``allow_private``; raises
    :class:`UrlRefused` / :class:`UrlFetchFailed` naming the reason."""
    addresses = resolver(host, port)
    if not addresses:
        raise HostUnresolved(f"the host name {host!r} has no address")
    if not allow_private:
        internal = [a for a in addresses if not _is_public(a)]
        if internal:
            raise UrlRefused(
                f"{host} resolves to a private, loopback, link-local or reserved address "
                f"({internal[0]}); such URLs are not fetched"
            )
    return addresses


class _CheckedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses :func:`checked_addresses` accepts, resolving
    the name itself at connect time: the address checked is the address connected to, so a
    DNS answer that changes between a check and the connection (DNS rebinding) cannot send
    a request inside our network. TLS still verifies the certificate against the host name
    (httpcore passes the URL's host as the server name)."""

    def __init__(self, resolver: Resolver, allow_private: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._resolver = resolver
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(
            host, port, resolver=self._resolver, allow_private=self._allow_private
        )
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # try the next address of the name
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise UrlRefused("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through :class:`_CheckedBackend`.
    Refusals surface as :class:`UrlRefused` (not retried: the address is not acceptable)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or tls_context()
        super().__init__(verify=context)  # one TLS context (loading CAs costs ~20 ms), shared
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            network_backend=_CheckedBackend(resolver, allow_private),
        )


class UrlFetcher:
    """Fetches one URL under the rules in the module docstring.

    ``transport`` and ``resolver`` are the test seams: tests serve real HTTP from a local
    server and decide what a name resolves to.
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout_seconds: float,
        max_redirects: int = 3,
        allow_private: bool = False,
        allowed_ports: frozenset[int] = ALLOWED_PORTS,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout_seconds
        self.max_redirects = max_redirects
        self.allow_private = allow_private
        self.allowed_ports = allowed_ports
        self.resolver = resolver
        self.transport = transport

    def check(self, url: str) -> tuple[str, str, int, str]:
        """(scheme, host, port, address to connect to) for an acceptable URL."""
        scheme, host, port = self.parse(url)
        addresses = checked_addresses(
            host, port, resolver=self.resolver, allow_private=self.allow_private
        )
        return scheme, host, port, addresses[0]

    def parse(self, url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of a URL whose form is acceptable (see :func:`split_url`) on
        an allowed port (its addresses are not looked at: see :meth:`check`)."""
        scheme, host, port = split_url(url)
        if port not in self.allowed_ports and not self.allow_private:
            ports = ", ".join(str(p) for p in sorted(self.allowed_ports))
            raise UrlRefused(f"port {port} is not fetched; allowed ports: {ports}")
        return scheme, host, port

    def fetch(self, url: str) -> Fetched:
        deadline = time.monotonic() + self.timeout
        current = url
        with httpx.Client(
            transport=self.transport,
            follow_redirects=False,
            trust_env=False,
            event_hooks={"response": [refuse_unreadable_location]},
        ) as client:
            for _hop in range(self.max_redirects + 1):
                scheme, host, port, address = self.check(current)
                response_or_next = self._one(client, current, scheme, host, port, address, deadline)
                if isinstance(response_or_next, Fetched):
                    return response_or_next
                current = response_or_next
        raise UrlFetchFailed(f"more than {self.max_redirects} redirects")

    def _one(
        self,
        client: httpx.Client,
        url: str,
        scheme: str,
        host: str,
        port: int,
        address: str,
        deadline: float,
    ) -> Fetched | str:
        parts = urlsplit(url)
        netloc = f"[{address}]" if ":" in address else address
        target = f"{scheme}://{netloc}:{port}{parts.path or '/'}"
        if parts.query:
            target += f"?{parts.query}"
        default_port = 443 if scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UrlFetchFailed(f"fetching took longer than {self.timeout:g} s")
        try:
            with client.stream(
                "GET",
                target,
                headers={
                    "Host": host_header,
                    "User-Agent": "shieldwall-scan/1",
                    "Accept": "image/*,video/*,*/*;q=0.5",
                },
                extensions={
                    "sni_hostname": host,
                    "timeout": {
                        "connect": remaining,
                        "read": remaining,
                        "write": remaining,
                        "pool": remaining,
                    },
                },
            ) as response:
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        raise UrlFetchFailed(f"{response.status_code} redirect without Location")
                    try:
                        return str(urljoin(url, str(location)))
                    except ValueError as exc:  # what urlsplit refuses; the next hop checks the rest
                        raise UrlRefused(
                            f"the server redirects to an address that cannot be read ({exc})"
                        ) from None
                if response.status_code != 200:
                    raise UrlFetchFailed(f"the server answered HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise PayloadTooLarge(
                        f"the file at the URL is {int(declared):,} bytes; the limit is "
                        f"{self.max_bytes:,}"
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        raise PayloadTooLarge(
                            f"the file at the URL is larger than the {self.max_bytes:,}-byte limit"
                        )
                    if time.monotonic() > deadline:
                        raise UrlFetchFailed(f"fetching took longer than {self.timeout:g} s")
                return Fetched(url, bytes(body), response.headers.get("content-type"))
        except httpx.TimeoutException:
            raise UrlFetchFailed(f"fetching took longer than {self.timeout:g} s") from None
        except httpx.InvalidURL as exc:  # not an HTTPError; split_url should have said so
            raise UrlRefused(f"the URL cannot be read ({exc})") from None
        except httpx.HTTPError as exc:
            raise UrlFetchFailed(f"could not fetch the URL ({type(exc).__name__})") from None
