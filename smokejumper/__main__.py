"""`python -m smokejumper` is the `smokejumper` command."""

from smokejumper.cli.main import main

main()
