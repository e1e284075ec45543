"""serve: see README.md."""
