"""People: accounts with a role, passwords, lock-out and web login sessions."""
