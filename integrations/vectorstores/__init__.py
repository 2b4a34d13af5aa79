"""Vector-store providers: the retrieval indexes applications retrieve from."""
