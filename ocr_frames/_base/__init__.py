"""Private: see docs/architecture.md."""
