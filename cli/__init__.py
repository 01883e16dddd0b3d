"""The `pulse` command line: one entry point over survey/, aggregation/ and bot/."""
