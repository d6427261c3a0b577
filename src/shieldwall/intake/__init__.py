"""Intake (principle 8): user reports from platforms and survivors' takedown requests."""
