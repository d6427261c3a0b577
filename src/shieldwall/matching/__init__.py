"""Matching: the per-process hash index, lookups, verdicts and scans (principle 1)."""
