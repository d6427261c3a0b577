"""Which adapter fetches an exchange of each type, built from its settings and credentials."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from shieldwall.config import Settings
from shieldwall.exchanges.models import Exchange
from shieldwall.exchanges.schemas import ExchangeType
from shieldwall.integrations.exchanges.base import (
    Adapter,
    Deadline,
    RecordNames,
    SourceClient,
    SourceRefused,
)


def source_client(settings: Settings, deadline: Deadline, **options: Any) -> SourceClient:
    """The HTTP client for exchange traffic under ``settings`` (private addresses, the
    egress proxy, extra certificate authorities); ``options`` go to :class:`SourceClient`."""
    return SourceClient(
        deadline,
        allow_private=settings.exchange_allow_private_addresses,
        proxy=settings.exchange_proxy(),
        ca_file=settings.exchange_ca_file,
        **options,
    )


def _need(credentials: dict[str, Any], *names: str) -> list[str]:
    missing = [n for n in names if not credentials.get(n)]
    if missing:
        raise SourceRefused(
            f"the exchange has no credentials ({', '.join(missing)}); set them with "
            "PATCH /v1/exchanges/{name} or on its page"
        )
    return [str(credentials[n]) for n in names]


PYTX_TYPES = frozenset({ExchangeType.NCMEC, ExchangeType.STOP_NCII, ExchangeType.FB_THREATEXCHANGE})


def require_pytx(kind: ExchangeType) -> None:
    """A friendly error when python-threatexchange (the ``exchanges`` extra) is missing."""
    if kind not in PYTX_TYPES:
        return
    try:
        import threatexchange  # noqa: F401
    except ImportError:
        raise SourceRefused(
            f"{kind.value} exchanges need python-threatexchange: pip install "
            "'shieldwall[exchanges]' (or: pip install threatexchange)"
        ) from None


#: Exchange types whose record ids name the record's one signal (``<prefix>:<value>``), so
#: a record can never carry another signal than the one it carries now.
SIGNAL_KEYED = frozenset({ExchangeType.STOP_NCII, ExchangeType.LOCAL_FILE, ExchangeType.URL})


def record_names(kind: str) -> RecordNames | None:
    """How an exchange of this type names records after their signal (None: not
    :data:`SIGNAL_KEYED`)."""
    if kind == ExchangeType.STOP_NCII:
        from shieldwall.integrations.exchanges.stop_ncii import RECORD_NAMES as stop_ncii

        return stop_ncii
    if kind in SIGNAL_KEYED:  # a list, at a path or an address
        from shieldwall.integrations.exchanges.local_file import RECORD_NAMES as lists

        return lists
    return None


def build_adapter(
    exchange: Exchange,
    credentials: dict[str, Any],
    http: SourceClient,
    *,
    clock: Callable[[], float] = time.time,
) -> Adapter:
    kind = ExchangeType(exchange.type)
    require_pytx(kind)
    settings = dict(exchange.settings or {})
    if kind is ExchangeType.NCMEC:
        from shieldwall.integrations.exchanges.ncmec import (
            NcmecAdapter,
            NcmecClient,
            environment_named,
        )

        username, password = _need(credentials, "username", "password")
        start = settings.get("start_time")
        start_ts = 0
        if start:
            from datetime import datetime

            parsed = datetime.fromisoformat(str(start))
            start_ts = int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
        client = NcmecClient(
            username,
            password,
            environment_named(str(settings.get("environment", "Industry"))),
            http=http,
            base_url=settings.get("base_url"),
        )
        return NcmecAdapter(
            client,
            member_ids=frozenset(int(m) for m in settings.get("member_ids") or ()),
            start_time=start_ts,
            window_seconds=settings.get("page_window_seconds"),
            clock=clock,
        )
    if kind is ExchangeType.STOP_NCII:
        from shieldwall.integrations.exchanges.stop_ncii import StopNciiAdapter, StopNciiClient

        subscription, fetch_key = _need(credentials, "subscription_key", "fetch_function_key")
        stop_client = StopNciiClient(
            subscription,
            fetch_key,
            http=http,
            feedback_function_key=credentials.get("feedback_function_key"),
            base_url=settings.get("base_url"),
        )
        return StopNciiAdapter(
            stop_client,
            page_size=int(settings.get("page_size", 800)),
            start_timestamp=int(settings.get("start_timestamp", 10)),
            clock=clock,
        )
    if kind is ExchangeType.FB_THREATEXCHANGE:
        from shieldwall.integrations.exchanges.fb_threatexchange import (
            ThreatExchangeAdapter,
            ThreatExchangeClient,
        )

        (token,) = _need(credentials, "access_token")
        te_client = ThreatExchangeClient(token, http=http, base_url=settings.get("base_url"))
        return ThreatExchangeAdapter(
            te_client, privacy_group=int(settings["privacy_group"]), clock=clock
        )
    if kind is ExchangeType.LOCAL_FILE:
        from shieldwall.integrations.exchanges.local_file import LocalFileAdapter

        return LocalFileAdapter(str(settings["path"]), signal_type=settings.get("signal_type"))
    if kind is ExchangeType.URL:
        from shieldwall.integrations.exchanges.url import UrlListAdapter

        return UrlListAdapter(
            http,
            str(settings["url"]),
            bearer_token=credentials.get("bearer_token"),
            signal_type=settings.get("signal_type"),
        )
    from shieldwall.integrations.exchanges.shieldwall import ShieldwallFeedAdapter

    (api_key,) = _need(credentials, "api_key")
    return ShieldwallFeedAdapter(
        http,
        base_url=str(settings["url"]),
        bank=str(settings["bank"]),
        public_key=str(settings["public_key"]),
        api_key=api_key,
    )
