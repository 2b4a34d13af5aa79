"""The embedded control plane's own controls: blocked principals, temporary input-filter
rules and quarantined retrieval documents (keys and endpoints have providers of their own)."""
