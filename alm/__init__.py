"""alm: an open audio-language assistant.

Importing alm registers its config, model and processor with transformers' Auto classes
(`alm.auto`). The `alm` console script sets ALM_DEFER_AUTO_REGISTER while it imports, so the
command line does not pay for torch and transformers before it needs them; commands that load a
model register then.
"""

import os

__version__ = "0.1.0"

if not os.environ.get("ALM_DEFER_AUTO_REGISTER"):
    from alm.auto import register as _register

    _register()
