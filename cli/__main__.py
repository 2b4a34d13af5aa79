"""`python -m cli` is the `smokejumper` command (the processes `up` starts run it so)."""

from cli.main import main

main()
