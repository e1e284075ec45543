"""Adapters for the real labelled audio in Debian packages (`instruction_data.adapters.DEBIAN_SOURCES`
names each source's packages; `alm data build` installs them when run as root)."""
