"""Credentials: the operator token, request signatures, constant-time comparison."""
