"""A stand-in for `python -m engine` in the runner's tests: replays a script, then exits.

Its last argument is a JSON file: {"chunks": [...], "stderr": "...", "exit": N, "pause": s}.
Each chunk is written to stdout as is and flushed, with a pause between, so lines arrive split
across reads; `--preview-dir` and the other options are accepted and ignored.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    script = json.loads(Path(sys.argv[-1]).read_text())
    for chunk in script.get("chunks", []):
        sys.stdout.write(chunk)
        sys.stdout.flush()
        time.sleep(script.get("pause", 0.02))
    if script.get("stderr"):
        sys.stderr.write(script["stderr"])
        sys.stderr.flush()
    return int(script.get("exit", 0))


if __name__ == "__main__":
    sys.exit(main())
