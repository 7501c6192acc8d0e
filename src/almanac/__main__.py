"""`python -m almanac` is the `almanac` command."""

from almanac.cli.main import app

app()
