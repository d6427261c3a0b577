"""Durable background work: the transactional outbox, its worker, and the handler registry."""
