"""Temporal plumbing: client, task queues, search attributes, the embedded dev server."""
