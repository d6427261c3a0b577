"""What a CyberTipline report says, as data: the input of the XML builder.

These pydantic models mirror the subset of NCMEC's ESP Reporting API elements shieldwall
produces (see ``cybertipline.xsd``). They hold what the platform supplied and nothing more;
empty fields are simply left out of the XML. The reporting domain stores a report's data in
this shape (sealed at rest) so a retry sends exactly what was first built.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shieldwall.core.timestamps import Timestamp

__all__ = [
    "DeviceId",
    "EstimatedLocation",
    "EventName",
    "FileAnnotation",
    "FileDetails",
    "IncidentType",
    "IpCaptureEvent",
    "PersonDetails",
    "ReportAnnotation",
    "ReportData",
    "Reporter",
    "UserDetails",
]


class IncidentType(StrEnum):
    """NCMEC's published incident types."""

    CHILD_PORNOGRAPHY = "Child Pornography (possession, manufacture, and distribution)"
    CHILD_SEX_TRAFFICKING = "Child Sex Trafficking"
    CHILD_SEX_TOURISM = "Child Sex Tourism"
    CHILD_SEXUAL_MOLESTATION = "Child Sexual Molestation"
    MISLEADING_DOMAIN_NAME = "Misleading Domain Name"
    MISLEADING_WORDS_OR_IMAGES = "Misleading Words or Digital Images on the Internet"
    ONLINE_ENTICEMENT = "Online Enticement of Children for Sexual Acts"
    UNSOLICITED_OBSCENE_MATERIAL = "Unsolicited Obscene Material Sent to a Child"


class ReportAnnotation(StrEnum):
    SEXTORTION = "sextortion"
    CSAM_SOLICITATION = "csamSolicitation"
    MINOR_TO_MINOR_INTERACTION = "minorToMinorInteraction"
    SPAM = "spam"
    SADISTIC_ONLINE_EXPLOITATION = "sadisticOnlineExploitation"


class FileAnnotation(StrEnum):
    ANIME_DRAWING_VIRTUAL_HENTAI = "animeDrawingVirtualHentai"
    POTENTIAL_MEME = "potentialMeme"
    VIRAL = "viral"
    POSSIBLE_SELF_PRODUCTION = "possibleSelfProduction"
    PHYSICAL_HARM = "physicalHarm"
    VIOLENCE_GORE = "violenceGore"
    BESTIALITY = "bestiality"
    LIVE_STREAMING = "liveStreaming"
    INFANT = "infant"
    GENERATIVE_AI = "generativeAi"


class EventName(StrEnum):
    LOGIN = "Login"
    REGISTRATION = "Registration"
    PURCHASE = "Purchase"
    UPLOAD = "Upload"
    OTHER = "Other"
    UNKNOWN = "Unknown"


Text = Field(min_length=1, max_length=3000)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IpCaptureEvent(_Model):
    ip_address: str = Field(min_length=2, max_length=45)
    event_name: EventName | None = None
    date_time: Timestamp | None = None
    possible_proxy: bool | None = None
    port: int | None = Field(None, ge=0, le=65535)


class DeviceId(_Model):
    id_type: str = Field(min_length=1, max_length=100)
    id_value: str = Field(min_length=1, max_length=500)
    event_name: EventName | None = None
    date_time: Timestamp | None = None


class EstimatedLocation(_Model):
    country_code: str = Field(pattern=r"^[A-Z]{2}$")
    city: str | None = Field(None, max_length=200)
    region: str | None = Field(None, max_length=200)


class PersonDetails(_Model):
    first_name: str | None = Field(None, max_length=200)
    last_name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=50)
    email: str | None = Field(None, max_length=320)


class UserDetails(_Model):
    """A person or user account: the one reported, an intended recipient or a victim."""

    esp_identifier: str | None = Field(None, max_length=200)
    esp_service: str | None = Field(None, max_length=200)
    screen_name: str | None = Field(None, max_length=200)
    display_names: tuple[str, ...] = ()
    profile_urls: tuple[str, ...] = ()
    ip_capture_events: tuple[IpCaptureEvent, ...] = ()
    device_ids: tuple[DeviceId, ...] = ()
    estimated_location: EstimatedLocation | None = None
    person: PersonDetails | None = None
    additional_info: str | None = Field(None, max_length=3000)


class Reporter(_Model):
    """The company reporting (from configuration)."""

    company: str = Field(min_length=1, max_length=300)
    reporting_email: str = Field(min_length=3, max_length=320)
    reporting_first_name: str | None = None
    reporting_last_name: str | None = None
    contact: PersonDetails | None = None
    terms_of_service: str | None = Field(None, max_length=3000)
    legal_url: str | None = Field(None, max_length=2000)


class FileDetails(_Model):
    """One file of the report. ``media_id`` (or ``evidence_id``) says where its bytes are;
    with neither the file is described by its hashes only and nothing is uploaded."""

    file_name: str = Field(min_length=1, max_length=255)
    original_file_name: str | None = Field(None, max_length=255)
    location_of_file: str | None = Field(None, max_length=2000)
    viewed_by_esp: bool = True
    exif_viewed_by_esp: bool | None = None
    publicly_available: bool | None = None
    industry_classification: str | None = Field(None, pattern=r"^(A1|A2|B1|B2)$")
    annotations: tuple[FileAnnotation, ...] = ()
    #: (hash type, value): MD5, SHA1, SHA256, PDQ, PhotoDNA.
    original_hashes: tuple[tuple[str, str], ...] = ()
    ip_capture_events: tuple[IpCaptureEvent, ...] = ()
    device_ids: tuple[DeviceId, ...] = ()
    exif: tuple[tuple[str, str], ...] = ()
    additional_info: tuple[str, ...] = ()
    case_id: int | None = None
    media_id: int | None = None
    evidence_id: int | None = None


class ReportData(_Model):
    """Everything one report says. ``files`` travel through /upload and /fileinfo."""

    incident_type: IncidentType
    incident_at: datetime
    annotations: tuple[ReportAnnotation, ...] = ()
    escalate_to_high_priority: str | None = Field(None, max_length=3000)
    #: Filled from configuration when the report is sent (so a fixed setting applies).
    reporter: Reporter | None = None
    reported_user: UserDetails | None = None
    intended_recipients: tuple[UserDetails, ...] = ()
    victims: tuple[UserDetails, ...] = ()
    urls: tuple[str, ...] = ()
    files: tuple[FileDetails, ...] = ()
    additional_info: str | None = Field(None, max_length=3000)
    #: ISO 3166 alpha-2 codes of where the user and the content are, for routing.
    user_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    content_country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
