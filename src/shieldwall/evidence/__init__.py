"""The evidence vault: what a violating case or a report knew, kept sealed for the law.

See :mod:`shieldwall.evidence.service` and docs/evidence.md.
"""
