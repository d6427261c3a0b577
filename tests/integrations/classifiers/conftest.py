from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integrations.classifiers.fake_service import FakeService


@pytest.fixture
def service() -> Iterator[FakeService]:
    with FakeService() as running:
        yield running
