"""`python -m aio_move_ugc` runs the command line."""

import sys

from .cli import main

sys.exit(main())
