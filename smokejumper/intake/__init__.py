"""Alert intake: validate, store, fingerprint, route, dispatch to Temporal."""
