"""An HTTP client for NCMEC's CyberTipline ESP Reporting API.

The lifecycle the API defines: ``/submit`` the report XML (→ report id), ``/upload`` each
file (multipart ``id`` + ``file`` → file id), ``/fileinfo`` each file's details XML,
``/finish`` (→ the report is done); ``/retract`` withdraws a report that is not finished;
``GET /status`` checks the credentials. Every call uses HTTP Basic authentication. Replies
are XML with ``responseCode`` (0 = success) and ``responseDescription``.

Errors::

    CyberTiplineError          message in plain words (never a body or a credential)
    ├── Refused                NCMEC answered 4xx or a non-zero responseCode: retrying the
    │                          same request cannot help; ``status``, ``code``, ``description``
    └── Unavailable            5xx, a timeout, a refused connection, an unreadable reply:
                               worth trying again later; ``retry_after`` when NCMEC sent one

The client takes an httpx ``transport`` (tests speak real HTTP to a local fake).
"""

from __future__ import annotations

from enum import StrEnum

import httpx

from shieldwall import __version__
from shieldwall.integrations.cybertipline.documents import Response, parse_response

__all__ = [
    "ENVIRONMENT_URLS",
    "CyberTiplineClient",
    "CyberTiplineError",
    "Environment",
    "Refused",
    "Unavailable",
]


class Environment(StrEnum):
    TEST = "test"
    PRODUCTION = "production"


#: NCMEC's documented base URLs.
ENVIRONMENT_URLS: dict[Environment, str] = {
    Environment.TEST: "https://exttest.cybertip.org/ispws",
    Environment.PRODUCTION: "https://report.cybertip.org/ispws",
}


class CyberTiplineError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refused(CyberTiplineError):
    def __init__(
        self, message: str, *, status: int, code: int | None = None, description: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.description = description


class Unavailable(CyberTiplineError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class CyberTiplineClient:
    """One configured endpoint. ``base_url`` is an environment's URL (or a fake's)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": f"shieldwall/{__version__}"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CyberTiplineClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- the calls ---------------------------------------------------------------------

    def status(self) -> Response:
        """``GET /status``: are the credentials accepted?"""
        return self._call("GET", "/status")

    def submit(self, report_xml: bytes) -> str:
        """``POST /submit``; returns NCMEC's report id."""
        reply = self._call(
            "POST",
            "/submit",
            content=report_xml,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        report_id = reply.get("reportId")
        if not report_id:
            raise Unavailable("NCMEC accepted the report but sent no report id")
        return report_id

    def upload(self, report_id: str, file_name: str, data: bytes) -> str:
        """``POST /upload``; returns NCMEC's file id."""
        reply = self._call(
            "POST",
            "/upload",
            data={"id": report_id},
            files={"file": (file_name, data, "application/octet-stream")},
        )
        file_id = reply.get("fileId")
        if not file_id:
            raise Unavailable("NCMEC accepted the upload but sent no file id")
        return file_id

    def file_info(self, details_xml: bytes) -> None:
        """``POST /fileinfo`` with one file's details."""
        self._call(
            "POST",
            "/fileinfo",
            content=details_xml,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )

    def finish(self, report_id: str) -> tuple[str, ...]:
        """``POST /finish``; returns the file ids NCMEC holds for the report."""
        return self._call("POST", "/finish", data={"id": report_id}).file_ids

    def retract(self, report_id: str) -> None:
        """``POST /retract``: withdraw a report that has not been finished."""
        self._call("POST", "/retract", data={"id": report_id})

    # ---- transport ---------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: object) -> Response:
        try:
            response = self._http.request(method, self.base_url + path, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            raise Unavailable(f"NCMEC did not answer {path} in time") from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"could not reach NCMEC for {path} ({type(exc).__name__})") from None
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise Unavailable(
                f"NCMEC answered {path} with HTTP {status} (a temporary failure)",
                retry_after=_retry_after(response),
            )
        try:
            reply = parse_response(response.content)
        except ValueError:
            if status >= 400:
                raise Refused(
                    f"NCMEC refused {path} with HTTP {status}{_hint(status)}", status=status
                ) from None
            raise Unavailable(f"NCMEC's reply to {path} could not be read") from None
        if status >= 400 or not reply.ok:
            words = reply.description or "no reason given"
            code = f", response code {reply.code}" if reply.code is not None else ""
            raise Refused(
                f"NCMEC refused {path} (HTTP {status}{code}): {words}{_hint(status)}",
                status=status,
                code=reply.code,
                description=reply.description,
            )
        return reply


def _hint(status: int) -> str:
    if status == 401:
        return " — check the CyberTipline user name and password in the configuration"
    if status == 403:
        return " — the account may not be allowed to use this environment"
    return ""
