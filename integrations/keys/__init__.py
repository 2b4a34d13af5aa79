"""Key providers: where containment revokes, verifies and restores credentials."""
