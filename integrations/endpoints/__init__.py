"""Endpoint providers: where containment isolates, verifies and restores serving endpoints."""
