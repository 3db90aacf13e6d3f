"""``python -m xnet_edge.cli``: same as the ``xnet-edge`` console script."""

import sys

from . import main

sys.exit(main())
