"""Settings: the only reader of the environment.

Sources, highest priority first: keyword arguments (tests), environment variables
``SHIELDWALL_<NAME>``, a TOML file (``SHIELDWALL_CONFIG_FILE``, default ``./shieldwall.toml``
when it exists), then the defaults below. ``shieldwall config show`` prints the result with
secrets masked.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shieldwall.core.sealing import Keyring, new_master_key_text, parse_master_key
from shieldwall.integrations.classifiers.config import ClassifierConfig, check_unique_names

DEFAULT_CONFIG_FILE = "shieldwall.toml"


def _config_file() -> Path | None:
    explicit = os.environ.get("SHIELDWALL_CONFIG_FILE")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"SHIELDWALL_CONFIG_FILE points at {path}, which is not a file")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


class Settings(BaseSettings):
    """Every knob shieldwall has. Field descriptions double as the README's table."""

    model_config = SettingsConfigDict(
        env_prefix="SHIELDWALL_",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("var"),
        description="Folder for the embedded database, the generated secret key and demo files.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL. Empty means the SQLite file <data_dir>/shieldwall.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    auto_migrate: bool | None = Field(
        None,
        description="Apply pending migrations when the server starts. Default: yes for SQLite, "
        "no for PostgreSQL (the server refuses to start until `shieldwall db upgrade` ran).",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs CSRF tokens. Empty: generated once into <data_dir>/secret_key. "
        "Set the same value on every server process in production.",
    )
    host: str = Field("127.0.0.1", description="Address `shieldwall serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `shieldwall serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    public_url: str = Field(
        "",
        description="Public base URL (https://...) used in printed links; empty: http://host:port.",
    )
    session_cookie_secure: bool = Field(
        True,
        description="Mark the login cookie Secure (sent over HTTPS only; browsers also accept it "
        "on http://127.0.0.1 and http://localhost). Turn off only for plain-HTTP test rigs.",
    )
    session_lifetime_minutes: int = Field(
        480, ge=5, le=60 * 24 * 30, description="How long a web login lasts."
    )
    login_max_failures: int = Field(
        5, ge=1, le=100, description="Failed logins in a row that lock an account."
    )
    login_lockout_minutes: int = Field(
        15, ge=1, le=60 * 24, description="How long a locked account stays locked."
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body the JSON API accepts (bytes); larger gets 413.",
    )
    import_max_bytes: int = Field(
        200 * 1_048_576,
        ge=1024,
        description="Largest bank file an import request (paths ending in /import) accepts "
        "(bytes); larger gets 413.",
    )
    import_max_rejected: int = Field(
        10_000,
        ge=0,
        description="A bank import with more rejected (malformed) lines than this is stopped "
        "and nothing of it is kept.",
    )
    api_key_touch_seconds: int = Field(
        60, ge=0, description="Record an API key's last use at most this often (seconds)."
    )
    pdq_quality_floor: int = Field(
        50,
        ge=0,
        le=100,
        description="PDQ hashes below this quality are reported as low quality and not used "
        "for perceptual matching (Meta's recommendation: 50).",
    )
    max_image_pixels: int = Field(
        50_000_000, ge=1, description="Largest image (width x height) hashed; larger is refused."
    )
    scan_max_bytes: int = Field(
        52_428_800,
        ge=1024,
        description="Largest file accepted by /v1/scan, /h/hash and /m/lookup (upload or URL).",
    )
    scan_url_timeout_seconds: float = Field(
        15.0, gt=0, le=300, description="Time limit for fetching a URL given to /v1/scan."
    )
    scan_url_max_redirects: int = Field(3, ge=0, le=10, description="Redirects followed per fetch.")
    scan_url_allow_private: bool = Field(
        False,
        description="Allow fetching URLs on private, loopback and link-local addresses (SSRF "
        "protection off). Only for closed test networks.",
    )
    idempotency_ttl_hours: int = Field(
        24, ge=1, le=24 * 30, description="How long an Idempotency-Key's answer is kept."
    )
    index_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="How often each server process applies bank changes to its index "
        "(every 0.25 s while banks are changing: for 30 s after a poll found changes).",
    )
    index_stale_seconds: float = Field(
        30.0, gt=0, description="/readyz reports the index stale after this long without an update."
    )
    index_save_seconds: float = Field(
        300.0, gt=0, description="How often a changed index is saved to <data_dir>/index."
    )
    # ---- hash exchanges (principle 10) ----
    exchange_scheduler: bool = Field(
        True,
        description="Run scheduled exchange fetches in this server process (the lease keeps "
        "it to one process per exchange; turn off on processes that should only answer).",
    )
    exchange_poll_seconds: float = Field(
        30.0, gt=0, le=3600, description="How often the server looks for exchanges due a fetch."
    )
    exchange_lease_seconds: float = Field(
        120.0,
        ge=10,
        le=3600,
        description="How long a fetcher's lease on an exchange lasts without renewal; a "
        "crashed fetcher's exchange can be fetched again after this.",
    )
    exchange_batch_records: int = Field(
        100_000,
        ge=1,
        le=1_000_000,
        description="Most records an exchange fetch commits per transaction (they are applied "
        "10,000 at a time within it, and a transaction is committed after five seconds "
        "whatever its size). Larger transactions fetch large feeds faster; while one is open, "
        "other writers of banks (and, on SQLite, every writer) wait.",
    )
    exchange_feedback_give_up_days: int = Field(
        30,
        ge=1,
        le=365,
        description="How long feedback to an exchange (NCMEC, StopNCII) is retried before it "
        "is given up as failed.",
    )
    exchange_allow_private_addresses: bool = Field(
        False,
        description="Let exchanges fetch from private, loopback and link-local addresses (a "
        "partner on an internal network, local test fakes).",
    )
    exchange_proxy_url: SecretStr | None = Field(
        None,
        description="Send every exchange request (fetches and feedback) through this HTTP "
        "proxy: http://host:port, or http://user:password@host:port. The proxy resolves and "
        "connects, so its egress rules decide which addresses are reached: shieldwall still "
        "refuses a source written as a private, loopback or link-local address (or "
        "localhost), but no longer resolves names itself. Empty: direct connections, every "
        "address checked.",
    )
    exchange_ca_file: Path | None = Field(
        None,
        description="A PEM file of certificate authorities that exchange sources' TLS "
        "certificates may also be signed by, besides the usual public ones: a partner whose "
        "certificate an internal authority signed (another shieldwall deployment on an "
        "internal network), or an egress proxy that inspects TLS. Empty: the public "
        "authorities only.",
    )
    case_priority_rules: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Review queue priority rules (a list of tables: name, priority, due_hours, "
        "sources, labels, child_in_danger, escalated, min_score, score_weight). Empty: the "
        "built-in rules in docs/review.md.",
    )
    case_two_person_labels: list[str] = Field(
        default_factory=list,
        description="Decision labels (e.g. A1, A2) whose violating decisions a second, "
        "different reviewer must confirm before they take effect.",
    )
    case_confirm_bank: str = Field(
        "",
        description="Hash-on-confirm: the bank (created if missing, kind block) that receives the "
        "hashes of media a reviewer decides is violating. Empty: off.",
    )
    case_suspend_labels: list[str] = Field(
        default_factory=list,
        description="Decision labels whose violating decisions also send account.suspend for "
        "the posting account, when the platform gave its id.",
    )
    scan_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="How long each scan's record (references, hashes, verdict; never the "
        "media) is kept, so later knowledge such as a survivor's hashes can find past uploads.",
    )
    scan_review_media: bool = Field(
        True,
        description="Keep an uploaded or fetched file (encrypted) for the reviewer when its scan "
        "opens a case.",
    )
    webhook_url: str = Field(
        "",
        description="The platform's endpoint for signed action webhooks (content.block, "
        "content.remove, content.restore, account.suspend, account.restore). Empty: actions "
        "are recorded but not sent.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Shared secret for the webhooks' HMAC-SHA256 signature "
        "(Shieldwall-Signature header). Webhooks are never sent unsigned: without it they wait.",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Time limit for one webhook delivery attempt."
    )
    webhook_give_up_hours: float = Field(
        72.0,
        gt=0,
        le=24 * 90,
        description="Keep retrying a webhook (with capped exponential backoff) for this long "
        "after it was queued, then give up (event webhook.failed).",
    )
    webhook_on_block_verdict: bool = Field(
        False,
        description="Send content.block when a scan's verdict is block and the caller named "
        "the content (content_id).",
    )
    outbox_poll_seconds: float = Field(
        2.0, gt=0, le=300, description="How often an outbox worker looks for due work."
    )
    outbox_lease_seconds: float = Field(
        120.0,
        ge=1,
        le=3600,
        description="How long a worker holds an item it is sending; a worker that dies leaves "
        "the item to be sent again after this (never shorter than one webhook timeout).",
    )
    outbox_in_server: bool = Field(
        True,
        description="Run an outbox worker inside each server process. Off: run "
        "`shieldwall jobs run` separately.",
    )
    master_key: SecretStr | None = Field(
        None,
        description="Master key (32 bytes, base64 or hex) that wraps the keys of everything "
        "encrypted at rest (media kept for review, evidence, exchange credentials). Empty: "
        "generated once into <data_dir>/master_key. Set the same value on every server process.",
    )
    master_key_file: Path | None = Field(
        None, description="Read the master key from this file instead (e.g. a mounted secret)."
    )
    previous_master_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Older master keys still accepted for decryption while objects are "
        "re-wrapped after a rotation (`shieldwall keys rotate`).",
    )
    # ---- reporting to the authorities: CyberTipline and other hotlines (issue 5) ----
    cybertipline_environment: Literal["test", "production"] = Field(
        "test",
        description="Which NCMEC CyberTipline environment reports go to: `test` "
        "(exttest.cybertip.org) or `production` (report.cybertip.org).",
    )
    cybertipline_url: str = Field(
        "",
        description="Override the CyberTipline base URL (e.g. a local `shieldwall dev "
        "fake-cybertipline`). Empty: the environment's documented URL.",
    )
    cybertipline_username: str = Field(
        "", description="CyberTipline reporting user name (HTTP Basic), issued by NCMEC."
    )
    cybertipline_password: SecretStr | None = Field(
        None, description="CyberTipline reporting password (HTTP Basic), issued by NCMEC."
    )
    cybertipline_timeout_seconds: float = Field(
        60.0, gt=0, le=600, description="Time limit for one CyberTipline call."
    )
    reporting_labels: list[str] = Field(
        default_factory=lambda: [
            "A1", "A2", "B1", "B2", "grooming", "solicitation", "sextortion", "other_csea"
        ],
        description="Decision labels whose violating decision queues a report to the "
        "authorities (in the deciding transaction).",
    )
    reporting_give_up_days: float = Field(
        30.0,
        gt=0,
        le=365,
        description="Keep retrying a report that fails for a temporary reason (5xx, timeout, "
        "missing configuration) for this long, then give up (event `<kind>.failed`).",
    )
    reporting_group_by_user: bool = Field(
        False,
        description="Bundle the violating cases of one user (account) into one report while "
        "it waits to be sent, instead of one report per case.",
    )
    reporting_group_window_minutes: int = Field(
        0,
        ge=0,
        le=7 * 24 * 60,
        description="How long a grouped report waits for more of the same user's cases "
        "before it is sent (with reporting_group_by_user).",
    )
    reporting_default_destination: str = Field(
        "ncmec",
        description="Where a report goes when no routing rule matches: `ncmec` or a hotline "
        "name (`cybertip_ca`, `iwf`, `esafety`, `inhope`, or one from reporting_hotlines).",
    )
    reporting_routes: list[dict[str, Any]] = Field(
        default_factory=list,
        description='Routing rules by jurisdiction, first match wins: [{"country": "CA", '
        '"on": "user"|"content"|"any", "destination": "cybertip_ca"}].',
    )
    reporting_hotlines: list[dict[str, Any]] = Field(
        default_factory=list,
        description='Extra hotlines without an API: [{"name": "x", "title": "...", '
        '"contact": "reports@example.org"}]; they get signed JSON packages.',
    )
    reporter_company: str = Field(
        "", description="Company named as the reporter (NCMEC companyTemplate / espService)."
    )
    reporter_email: str = Field(
        "", description="Reporting person's e-mail address (required by NCMEC)."
    )
    reporter_first_name: str = Field("", description="Reporting person's first name.")
    reporter_last_name: str = Field("", description="Reporting person's last name.")
    reporter_contact_name: str = Field(
        "", description="Contact person for law enforcement (first and last name)."
    )
    reporter_contact_email: str = Field("", description="Contact person's e-mail address.")
    reporter_contact_phone: str = Field("", description="Contact person's phone number.")
    reporter_terms_of_service_url: str = Field(
        "", description="The platform's terms of service (URL), sent with each report."
    )
    reporter_legal_url: str = Field(
        "", description="Where law enforcement sends legal process (URL), sent with each report."
    )
    # ---- intake: user reports and survivors' takedown requests (principle 8) ----
    user_report_max_text_chars: int = Field(
        4000,
        ge=0,
        le=100_000,
        description="Longest free text a user report may carry (characters); longer gets 422.",
    )
    user_report_rate_limit: int = Field(
        20,
        ge=1,
        description="User reports accepted per reporter per window; more get 429.",
    )
    user_report_rate_window_seconds: int = Field(
        3600, ge=1, le=7 * 86400, description="The window of user_report_rate_limit (seconds)."
    )
    takedown_max_hashes: int = Field(
        100, ge=1, le=10_000, description="Most hashes one takedown request may carry."
    )
    takedown_max_message_chars: int = Field(
        2000,
        ge=0,
        le=100_000,
        description="Longest message a takedown request may carry for the reviewers "
        "(characters); longer gets 422.",
    )
    takedown_rate_limit: int = Field(
        10,
        ge=1,
        description="Takedown requests accepted per client address per window; more get 429.",
    )
    takedown_status_rate_limit: int = Field(
        120,
        ge=1,
        description="Takedown status look-ups answered per client address per window.",
    )
    takedown_rate_window_seconds: int = Field(
        3600,
        ge=1,
        le=7 * 86400,
        description="The window of takedown_rate_limit and takedown_status_rate_limit (seconds).",
    )
    survivor_bank: str = Field(
        "SURVIVOR_REQUESTS",
        description="Bank that approved takedown requests add their hashes to (created as a "
        "block bank on first use).",
    )
    text_regex_timeout_ms: int = Field(
        50,
        ge=1,
        le=5000,
        description="Time limit for one regular expression (term-list entry or grooming rule) "
        "on one text; a pattern that runs out of time counts as no match and is reported.",
    )
    search_block_severity: Literal["low", "medium", "high"] = Field(
        "high",
        description="Search checks: a csam_seeking match of this severity or higher blocks the "
        "query; a lower one warns (both show the deterrence message).",
    )
    deterrence_messages_dir: Path | None = Field(
        None,
        description="Folder of <locale>.json deterrence messages (title, body, resources) that "
        "replace or add to the shipped English and French ones. See docs/text-signals.md.",
    )
    deterrence_default_locale: str = Field(
        "en", description="Locale of the deterrence message when the caller's is not available."
    )
    text_case_min_severity: Literal["low", "medium", "high"] = Field(
        "medium",
        description="Posts and profiles: a solicitation, advertising or sextortion match of this "
        "severity or higher opens or joins a case (lower ones only answer warn).",
    )
    grooming_rules_file: Path | None = Field(
        None,
        description="JSON file of grooming indicator rules (version, threshold, weights, "
        "patterns) replacing the shipped ones. See docs/text-signals.md.",
    )
    grooming_threshold: float | None = Field(
        None,
        gt=0,
        description="Risk score at which a conversation opens or joins a case; empty: the rule "
        "set's own threshold (1.0 in the shipped rules).",
    )
    conversation_window_messages: int = Field(
        50,
        ge=2,
        le=1000,
        description="Messages kept per conversation for scoring (the newest ones); older ones "
        "are deleted unless a case preserves them.",
    )
    conversation_retention_hours: int = Field(
        72,
        ge=1,
        le=24 * 365,
        description="Message texts older than this are deleted (unless a case preserves them), "
        "by each new message's conversation and by `shieldwall text purge`.",
    )
    contact_policy: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Contact-check rules (initiator, target, relationship, action, decision, "
        "name), first match wins; empty: the shipped policy. See docs/text-signals.md.",
    )
    demo_admin_username: str = Field(
        "admin", description="Login created by `shieldwall demo seed`."
    )
    accountability_data_dir: Path | None = Field(
        None,
        description="Folder of the accountability tracker's reference data (commitments/, "
        "ncmec/, disclosures/). Empty: ../shared/data next to the project checkout; when it is "
        "missing the tracker starts empty and says so.",
    )
    accountability_public: bool = Field(
        True,
        description="Anyone may read /accountability and GET /v1/accountability/... without "
        "logging in. Off: reading needs a login or an API key (editing always needs "
        "accountability:write).",
    )
    accountability_audit_tolerance: float = Field(
        0.01,
        ge=0,
        le=0.5,
        description="Relative difference up to which a company's self-reported CyberTipline "
        "count and NCMEC's count for the same year are called consistent (0.01 = 1 %).",
    )
    # ---- transparency reports (principle 11; docs/transparency.md) ----
    transparency_public: bool = Field(
        False,
        description="Anyone may read /transparency (the current report) without logging in. "
        "Off: the page needs a login with reports:read.",
    )
    transparency_organisation: str = Field(
        "",
        max_length=200,
        description="Organisation named in transparency reports. Empty: reporter_company, "
        "else 'shieldwall deployment'.",
    )
    transparency_organisation_url: str = Field(
        "", max_length=2000, description="The organisation's web address, printed in reports."
    )
    transparency_services: list[str] = Field(
        default_factory=list,
        description="Services of the organisation the report covers (its service scope). "
        "Empty: 'all services using this deployment'.",
    )
    transparency_scope_description: str = Field(
        "", max_length=4000, description="One paragraph on what the service scope covers."
    )
    transparency_policies: list[dict[str, str]] = Field(
        default_factory=list,
        description='The stated CSEA policies and practices: [{"title": "...", "text": "...", '
        '"url": "https://..."}]; shown under Policies and practices.',
    )
    transparency_suppression_floor: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Counts from 1 to one below this are published as 'fewer than N' (and "
        "times computed from so few items are withheld).",
    )
    transparency_trend_periods: int = Field(
        3, ge=0, le=12, description="How many earlier periods each metric is compared with."
    )
    media_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Days media kept for review (sealed under <data_dir>/media) is kept before "
        "`purge_expired` deletes it. Several servers must share <data_dir>/media.",
    )
    evidence_retention_days: int = Field(
        365,
        ge=1,
        le=36500,
        description="Days evidence (content and report data sealed under <data_dir>/evidence) "
        "is kept after the decision that preserved it or the report that used it, whichever is "
        "later; 365 follows the REPORT Act of 2024. Items under legal hold are never purged.",
    )
    classifiers: list[ClassifierConfig] = Field(
        default_factory=list,
        description="Classifier plug-ins run on scanned media: [[classifiers]] tables in TOML, "
        "a JSON list in the environment (name, kind, url, send, score_paths, headers, "
        "thresholds, timeout_seconds, retries, breaker_failures, ...). See docs/classifiers.md.",
    )

    text_classifiers: list[ClassifierConfig] = Field(
        default_factory=list,
        description="Text classifier plug-ins run on conversation messages, configured like "
        "`classifiers` and sent the UTF-8 text (media type text/plain); a score over its "
        "threshold adds the rule set's classifier_weight to the conversation's risk.",
    )

    @field_validator("classifiers", "text_classifiers")
    @classmethod
    def _check_classifiers(cls, value: list[ClassifierConfig]) -> list[ClassifierConfig]:
        return check_unique_names(value)

    @field_validator("exchange_proxy_url")
    @classmethod
    def _check_proxy(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from shieldwall.integrations.url_fetch import check_proxy_url  # pure module: no cycle

        return SecretStr(check_proxy_url(value.get_secret_value()))

    @field_validator("exchange_ca_file", mode="before")
    @classmethod
    def _check_ca_file(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # an empty environment variable: not set
        from shieldwall.integrations.url_fetch import tls_context  # pure module: no cycle

        if isinstance(value, str | Path):
            tls_context(value)  # refused now, in plain words, rather than at the first fetch
        return value

    @field_validator("contact_policy")
    @classmethod
    def _check_contact_policy(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from shieldwall.textsignals.contact import parse_policy  # pure module: no cycle

        parse_policy(value)
        return value

    @field_validator("case_priority_rules")
    @classmethod
    def _check_priority_rules(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from shieldwall.cases.priority import parse_rules  # pure module: no cycle

        parse_rules(value)
        return value

    @field_validator("case_two_person_labels", "case_suspend_labels")
    @classmethod
    def _check_decision_labels(cls, value: list[str]) -> list[str]:
        from shieldwall.core.taxonomy import parse_decision_label

        return sorted({parse_decision_label(label.strip()).value for label in value})

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        if value and "://" not in value:
            raise ValueError("database_url must be a SQLAlchemy URL such as sqlite:///var/x.db")
        return value

    @field_validator("survivor_bank")
    @classmethod
    def _check_survivor_bank(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]{0,99}", value):
            raise ValueError(
                "survivor_bank must be a bank name: upper-case letters, digits and _, "
                "not starting with a digit (e.g. SURVIVOR_REQUESTS)"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # ---- derived values -------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'shieldwall.db').as_posix()}"

    def exchange_proxy(self) -> str | None:
        """The exchange proxy's URL (credentials included), or None."""
        return self.exchange_proxy_url.get_secret_value() if self.exchange_proxy_url else None

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def resolved_accountability_data_dir(self) -> Path:
        """The configured reference data folder, or ``../shared/data`` beside the checkout."""
        if self.accountability_data_dir is not None:
            return self.accountability_data_dir
        return Path(__file__).resolve().parents[2].parent / "shared" / "data"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def resolved_secret_key(self) -> bytes:
        """The configured secret, or one generated once into ``<data_dir>/secret_key``."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    def resolved_keyring(self) -> Keyring:
        """The master key (configured, from ``master_key_file``, or generated once into
        ``<data_dir>/master_key``) and any previous keys kept for a rotation."""
        if self.master_key is not None and self.master_key.get_secret_value():
            current = parse_master_key(self.master_key.get_secret_value())
        elif self.master_key_file is not None:
            current = parse_master_key(self.master_key_file.read_text())
        else:
            path = self.data_dir / "master_key"
            if not path.exists():
                self.data_dir.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    pass  # another process won the race; read theirs
                else:
                    with os.fdopen(fd, "w") as fh:
                        fh.write(new_master_key_text())
            current = parse_master_key(path.read_text())
        previous = [parse_master_key(k.get_secret_value()) for k in self.previous_master_keys]
        return Keyring.of(current, previous)

    def display(self) -> dict[str, Any]:
        """Effective settings with secrets (and database passwords) masked."""
        from sqlalchemy.engine import make_url

        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list) and value and isinstance(value[0], SecretStr):
                value = ["********" for _ in value]
            elif isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, list) and value and isinstance(value[0], ClassifierConfig):
                value = [c.model_dump(mode="json") for c in value]  # headers stay masked
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        url = make_url(self.effective_database_url)
        out["database_url"] = url.render_as_string(hide_password=True)
        if self.secret_key is None:
            out["secret_key"] = f"(generated into {self.data_dir / 'secret_key'})"
        return out


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and config file; keyword arguments win."""
    return Settings(**overrides)
