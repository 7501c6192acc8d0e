"""The `almanac` command line."""
