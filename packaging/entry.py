"""The desktop bundle's entry point: `graphmill`, the CLI and the designer in one executable.

Before anything else it finds out whether it was started as one of its own helper processes
(the designer's run launcher, a loky worker or resource tracker, a multiprocessing helper): in
the bundle, `sys.executable` is this program, so those start it with their own command lines.
"""

import multiprocessing
import sys

from engine.executable import bundle_child

if __name__ == "__main__":
    # PyInstaller's version: runs multiprocessing's resource tracker and spawn workers
    # (Dask's local cluster) and exits; returns at once for any other command line.
    multiprocessing.freeze_support()
    child = bundle_child(sys.argv)
    if child is not None:
        child()
        sys.exit(0)
    from engine.cli import main

    sys.exit(main())
