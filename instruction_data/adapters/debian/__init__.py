"""Adapters for the real labelled audio in Debian packages (see scripts/debian-packages.txt)."""
