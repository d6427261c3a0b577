"""A local fake of NCMEC's CyberTipline ESP Reporting API, over real HTTP.

Speaks the documented endpoints under ``/ispws``: ``GET /status``, ``POST /submit`` (the
report XML, validated against shieldwall's schema; answers a ``reportResponse`` with a new
``reportId``), ``/upload`` (multipart ``id`` + ``file``; answers a ``fileId`` and the
file's MD5), ``/fileinfo`` (validated ``fileDetails``), ``/finish`` (``reportDoneResponse``
with the report's file ids) and ``/retract``. HTTP Basic credentials are checked.

Faults, queued in :attr:`faults` (in order; each applies to the next request whose path
contains ``path``), or sent as JSON to ``POST /_fake/faults`` when run from the CLI:

* ``status``  answer with that HTTP status (and ``Retry-After``) — 400 carries a
  ``reportResponse`` with ``responseCode`` 4100 and a reason
* ``timeout`` wait ``seconds`` (longer than the client's timeout), then answer normally
* ``slow``    wait ``seconds``, then answer normally
* ``garbage`` a 200 whose body is not XML

Used by the tests and by ``shieldwall dev fake-cybertipline``. It keeps no file bytes, only
their sizes and digests.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from xml.sax.saxutils import escape

from shieldwall.devtools.fake_http import FakeService, Fault, Reply, Request
from shieldwall.integrations.cybertipline.documents import ReportInvalid, validate

__all__ = ["PASSWORD", "PREFIX", "USERNAME", "FakeCyberTipline", "FakeReport"]

USERNAME = "fake-esp"
PASSWORD = "fake-cybertipline-password"  # noqa: S105 - the fake's own test credential
PREFIX = "/ispws"


@dataclass
class FakeReport:
    report_id: str
    xml: bytes
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    file_details: dict[str, bytes] = field(default_factory=dict)
    finished: bool = False
    retracted: bool = False


def _xml(root: str, code: int, description: str, **values: str) -> bytes:
    parts = [f"<responseCode>{code}</responseCode>"]
    parts.append(f"<responseDescription>{escape(description)}</responseDescription>")
    for name, value in values.items():
        parts.append(f"<{name}>{escape(value)}</{name}>")
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}>{"".join(parts)}</{root}>'.encode()


def _ok(**values: str) -> Reply:
    return Reply(200, _xml("reportResponse", 0, "Success", **values), {"Content-Type": "text/xml"})


def _refuse(status: int, code: int, description: str) -> Reply:
    return Reply(status, _xml("reportResponse", code, description), {"Content-Type": "text/xml"})


def _form(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """Fields of a multipart or urlencoded body: name -> (file name, bytes)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.body
        )
        out: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes | None):
                out[name] = (part.get_filename(), payload or b"")
        return out
    from urllib.parse import parse_qs

    fields = parse_qs(request.body.decode("utf-8", "replace"))
    return {k: (None, v[-1].encode()) for k, v in fields.items()}


class FakeCyberTipline(FakeService):
    def __init__(self, *, username: str = USERNAME, password: str = PASSWORD) -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.reports: dict[str, FakeReport] = {}
        self._ids = itertools.count(90_000_001)
        self._files = itertools.count(1)

    # ---- what the tests look at ---------------------------------------------------------

    def submits(self) -> int:
        return sum(1 for r in self.requests if r.path.endswith("/submit"))

    def calls(self, endpoint: str) -> int:
        return sum(1 for r in self.requests if r.path.endswith("/" + endpoint))

    # ---- faults -------------------------------------------------------------------------

    def add_fault(
        self,
        kind: str,
        *,
        status: int = 503,
        path: str | None = None,
        seconds: float = 0.0,
        retry_after: str | None = None,
    ) -> None:
        fault = Fault(kind=kind, status=status, retry_after=retry_after, path=path)
        fault.seconds = seconds  # type: ignore[attr-defined]
        with self.lock:
            self.faults.append(fault)

    def dispatch(self, request: Request) -> Reply:
        if request.path == "/_fake/faults" and request.method == "POST":
            spec = json.loads(request.body or b"{}")
            self.add_fault(
                str(spec.get("kind", "status")),
                status=int(spec.get("status", 503)),
                path=spec.get("path"),
                seconds=float(spec.get("seconds", 0)),
                retry_after=spec.get("retry_after"),
            )
            return Reply(204)
        with self.lock:
            self.requests.append(request)
            fault = None
            if self.faults and (self.faults[0].path is None or self.faults[0].path in request.path):
                fault = self.faults.popleft()
        if fault is not None:
            if fault.kind in ("timeout", "slow"):
                time.sleep(getattr(fault, "seconds", 0.0))
            elif fault.kind == "garbage":
                return Reply(200, b"\x00\xffnot xml{{{<<", {})
            elif fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                if 400 <= fault.status < 500:
                    reply = _refuse(fault.status, 4100, "Validation failed (injected fault)")
                    reply.headers.update(headers)
                    return reply
                return Reply(fault.status, b"<html>Service Unavailable</html>", headers)
        return self.handle(request)

    # ---- the API ------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def handle(self, request: Request) -> Reply:
        if not request.path.startswith(PREFIX + "/"):
            return Reply(404, b"not found")
        if not self._authorised(request):
            return _refuse(401, 1000, "Authentication failed")
        endpoint = request.path[len(PREFIX) + 1 :]
        if endpoint == "status" and request.method == "GET":
            return _ok()
        if request.method != "POST":
            return Reply(405, b"method not allowed")
        with self.lock:
            if endpoint == "submit":
                return self._submit(request)
            if endpoint == "upload":
                return self._upload(request)
            if endpoint == "fileinfo":
                return self._fileinfo(request)
            if endpoint in ("finish", "retract"):
                return self._close(request, endpoint)
        return Reply(404, b"not found")

    def _submit(self, request: Request) -> Reply:
        try:
            root = validate(request.body)
        except ReportInvalid as exc:
            return _refuse(400, 4100, f"Report XML failed validation: {exc.problems[0]}")
        if root.tag != "report":
            return _refuse(400, 4100, "expected a <report> document")
        report_id = str(next(self._ids))
        self.reports[report_id] = FakeReport(report_id, request.body)
        return _ok(reportId=report_id)

    def _open_report(self, report_id: str) -> FakeReport | Reply:
        report = self.reports.get(report_id)
        if report is None:
            return _refuse(400, 4300, "Unknown report id")
        if report.finished or report.retracted:
            return _refuse(400, 4301, "The report is already finished or retracted")
        return report

    def _upload(self, request: Request) -> Reply:
        form = _form(request)
        report = self._open_report(form.get("id", (None, b""))[1].decode())
        if isinstance(report, Reply):
            return report
        if "file" not in form:
            return _refuse(400, 4400, "No file in the upload")
        name, data = form["file"]
        file_id = f"file-{next(self._files)}"
        digest = hashlib.md5(data).hexdigest()  # noqa: S324 - NCMEC answers an MD5
        report.files[file_id] = {"name": name, "size": len(data), "md5": digest}
        return _ok(reportId=report.report_id, fileId=file_id, hash=digest)

    def _fileinfo(self, request: Request) -> Reply:
        try:
            root = validate(request.body)
        except ReportInvalid as exc:
            return _refuse(400, 4100, f"File details failed validation: {exc.problems[0]}")
        if root.tag != "fileDetails":
            return _refuse(400, 4100, "expected a <fileDetails> document")
        report = self._open_report(root.findtext("reportId") or "")
        if isinstance(report, Reply):
            return report
        file_id = root.findtext("fileId") or ""
        if file_id not in report.files:
            return _refuse(400, 4401, "Unknown file id for this report")
        report.file_details[file_id] = request.body
        return _ok()

    def _close(self, request: Request, endpoint: str) -> Reply:
        form = _form(request)
        report = self._open_report(form.get("id", (None, b""))[1].decode())
        if isinstance(report, Reply):
            return report
        if endpoint == "retract":
            report.retracted = True
            return _ok(reportId=report.report_id)
        report.finished = True
        files = "".join(f"<fileId>{escape(f)}</fileId>" for f in report.files)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><reportDoneResponse>'
            "<responseCode>0</responseCode><responseDescription>Success</responseDescription>"
            f"<reportId>{report.report_id}</reportId><files>{files}</files></reportDoneResponse>"
        ).encode()
        return Reply(200, body, {"Content-Type": "text/xml"})
