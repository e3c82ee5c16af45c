"""`python -m routewatch` runs the CLI."""

from routewatch.cli.main import main

main()
