"""`python -m cli ...`: the `corridor` command without its installed entry point."""

from cli.commands import main

main()
