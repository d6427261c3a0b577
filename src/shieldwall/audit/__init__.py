"""The append-only, hash-chained event log that every state change writes to."""
