"""Reading shieldwall's server-rendered pages the way a browser would: forms, fields, test ids.

Uses only the standard library's HTML parser, so the page tests need no extra dependency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from httpx import Response


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    #: every <input>, as (type, name, value), in document order
    inputs: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def is_post(self) -> bool:
        return self.method == "post"

    def hidden(self, name: str) -> str | None:
        for kind, n, value in self.inputs:
            if kind == "hidden" and n == name:
                return value
        return None


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.attrs: list[tuple[str, dict[str, str]]] = []
        self.testids: dict[str, list[str]] = {}
        self._form: Form | None = None
        self._capture: list[tuple[str, str, list[str]]] = []  # (tag, testid, text parts)
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        self.attrs.append((tag, a))
        if tag == "form":
            self._form = Form(method=a.get("method", "get").lower(), action=a.get("action", ""))
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            kind = a.get("type", "text").lower()
            name = a.get("name", "")
            self._form.inputs.append((kind, name, a.get("value", "")))
            if name and (kind not in ("checkbox", "radio") or "checked" in a):
                self._form.fields.setdefault(name, a.get("value", ""))
        elif tag == "select" and self._form is not None:
            self._select = a.get("name", "")
        elif (
            tag == "option"
            and self._form is not None
            and self._select
            and ("selected" in a or self._select not in self._form.fields)
        ):
            self._form.fields[self._select] = a.get("value", "")
        if "data-testid" in a:
            self._capture.append((tag, a["data-testid"], []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        if self._capture and self._capture[-1][0] == tag:
            _, testid, parts = self._capture.pop()
            self.testids.setdefault(testid, []).append("".join(parts).strip())

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._capture:
            parts.append(data)


@dataclass
class Page:
    forms: list[Form]
    #: (tag, attributes) of every start tag
    tags: list[tuple[str, dict[str, str]]]
    #: text inside elements with a data-testid, by test id
    testids: dict[str, list[str]]

    def forms_to(self, action: str, method: str = "post") -> list[Form]:
        return [f for f in self.forms if f.action == action and f.method == method]

    def form_to(self, target: str, /, **hidden: str) -> Form:
        """The one form posting to ``target`` whose hidden inputs match ``hidden``."""
        found = [
            f for f in self.forms_to(target) if all(f.hidden(k) == v for k, v in hidden.items())
        ]
        assert len(found) == 1, f"expected one form to {target} with {hidden}, found {found}"
        return found[0]

    def text_of(self, testid: str) -> str:
        values = self.testids.get(testid)
        assert values, f"no element with data-testid={testid!r} on the page"
        return values[0]


def parse(html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return Page(forms=parser.forms, tags=parser.attrs, testids=parser.testids)


_COUNT = re.compile(r'<dd data-key="([a-z0-9_]+)">([0-9,]+)</dd>')


def counts(html: str) -> dict[str, int]:
    """The numbers on the home page's "Now" panel, by key."""
    return {key: int(value.replace(",", "")) for key, value in _COUNT.findall(html)}


def submit(client: TestClient, form: Form, **overrides: str | list[str]) -> Response:
    """Post a form as a browser would: its fields (hidden ones included) plus ``overrides``."""
    data: dict[str, str | list[str]] = dict(form.fields)
    data.update(overrides)
    return client.post(form.action, data=data, follow_redirects=False)


def login(client: TestClient, username: str, password: str, next_path: str = "/") -> Response:
    """Log in through the real login form (GET the page for its token, then POST)."""
    page = client.get("/login", params={"next": next_path}, follow_redirects=False)
    assert page.status_code == 200, page.text
    form = parse(page.text).form_to("/login")
    return submit(client, form, username=username, password=password)
