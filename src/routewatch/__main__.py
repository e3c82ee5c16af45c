"""`python -m routewatch` runs the CLI."""

from routewatch.cli import main

main()
