"""`python -m node` runs the statenode CLI."""

from node.cli import main

main()
