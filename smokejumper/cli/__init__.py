"""The `smokejumper` command line."""
