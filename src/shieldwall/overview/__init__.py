"""Live counts for the home page and ``GET /v1/overview``."""
