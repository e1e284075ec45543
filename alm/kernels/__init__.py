"""Small native kernels for CPU hot paths, built on first use with the machine's C compiler (see `build`)."""
