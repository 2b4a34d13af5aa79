"""Alert source formats: each module turns one tool's native payload into an `Alert`."""
