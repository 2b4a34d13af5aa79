"""Pollers: pull alerts from sources that cannot push, and check model artifacts.

Each poller turns what it reads into records carrying the cursor that covers them; the runner
normalizes each record and commits the alert (or dead letter) together with that cursor.
"""
