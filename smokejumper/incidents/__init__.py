"""Incident queries shared by the API and the CLI."""
