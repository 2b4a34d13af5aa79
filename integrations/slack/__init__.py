"""Slack as the responder surface: incident cards, live timeline, approvals, slash commands.

Kept import-light: the relay workflow module is re-imported inside the workflow sandbox.
"""
