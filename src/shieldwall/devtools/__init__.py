"""Tools for developing and testing shieldwall, not used by a running deployment: local
fakes of the services shieldwall talks to (NCMEC's hash-sharing API, StopNCII), speaking
their documented formats over real HTTP on loopback."""
