"""`python -m engine` is `graphmill`."""

import sys

from .cli import main

# Guarded: Dask's local cluster starts its workers by spawning, which imports this module again.
if __name__ == "__main__":
    sys.exit(main())
