"""Use cases. Each function takes a session, runs one use case in one transaction, and
raises backend.errors exceptions that the transports map to HTTP or protocol codes."""
