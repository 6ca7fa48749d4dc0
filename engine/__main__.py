"""`python -m engine` is `graphmill`."""

import sys

from .cli import main

sys.exit(main())
