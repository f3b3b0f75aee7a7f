"""Decisions: pure functions from what exists to what happens next (no I/O, no clock)."""
