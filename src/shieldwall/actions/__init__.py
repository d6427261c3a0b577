"""Actions back to the platform: block, remove, restore, suspend — sent as signed webhooks
through the durable outbox (principles 1, 2 and 8)."""
