"""Fixtures the hostile-input tests share with the web tests (a logged-in browser)."""

from tests.web.conftest import login_as, new_client, sql  # noqa: F401 - fixtures
