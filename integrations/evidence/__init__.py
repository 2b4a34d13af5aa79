"""Evidence stores: where the raw bytes of captured evidence are kept, by content hash."""
