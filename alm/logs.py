"""Keeping transformers' own logging off alm's output: for a block, or for the whole process."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from transformers.utils import logging as hf_logging


def silence_transformers() -> None:
    """For command-line tools that print their own one-line notes: transformers and alm's loggers at error
    level, no download progress bars."""
    logging.getLogger("alm").setLevel(logging.ERROR)
    # bitsandbytes (the qlora extra, imported by peft) warns on import about an optional kernels package
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


@contextmanager
def quiet_transformers():
    """transformers' log at error level for the block (generate() repeats notices on every call)."""
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
