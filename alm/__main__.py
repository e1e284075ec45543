import sys

from alm.cli import main

sys.exit(main())
