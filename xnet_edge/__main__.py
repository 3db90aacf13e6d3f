"""``python -m xnet_edge``: same as the ``xnet-edge`` console script."""

import sys

from .cli import main

sys.exit(main())
