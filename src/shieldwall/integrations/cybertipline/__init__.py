"""NCMEC's CyberTipline ESP Reporting API: report model, XML documents and schema, client."""

from shieldwall.integrations.cybertipline.client import (
    ENVIRONMENT_URLS,
    CyberTiplineClient,
    CyberTiplineError,
    Environment,
    Refused,
    Unavailable,
)
from shieldwall.integrations.cybertipline.documents import (
    ReportInvalid,
    file_details_xml,
    parse_response,
    report_xml,
    validate,
)

__all__ = [
    "ENVIRONMENT_URLS",
    "CyberTiplineClient",
    "CyberTiplineError",
    "Environment",
    "Refused",
    "ReportInvalid",
    "Unavailable",
    "file_details_xml",
    "parse_response",
    "report_xml",
    "validate",
]
