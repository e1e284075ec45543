"""The `alm` console script: alm's CLI, without registering alm with transformers at import.

`import alm` registers the Auto classes, which imports torch and transformers (seconds); the
command line defers that so `alm --help` and input checks stay instant. Models loaded by the
commands go through `alm.auto.register()` themselves.
"""

import os
import sys


def main() -> int:
    os.environ["ALM_DEFER_AUTO_REGISTER"] = "1"
    try:
        from alm.cli import main as alm_main
    finally:
        del os.environ["ALM_DEFER_AUTO_REGISTER"]  # child processes (vLLM, accelerate) import alm normally
    return alm_main()


if __name__ == "__main__":
    sys.exit(main())
