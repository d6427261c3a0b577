"""Transparency reports generated from the event log (principle 11): metrics as data, the
TRUST sections, small-count suppression, trends, JSON/CSV/HTML exports and EU DSA statements
of reasons. See docs/transparency.md."""
