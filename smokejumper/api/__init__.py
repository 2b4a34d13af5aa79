"""The HTTP API (FastAPI): intake, incidents, health."""
