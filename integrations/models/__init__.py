"""Model rollback providers: where containment moves a serving alias back to the last known
good version, verifies it, and puts it back."""
