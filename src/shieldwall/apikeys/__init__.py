"""API keys: shown once, stored as a hash, scoped, revocable."""
