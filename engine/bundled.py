"""Where the bundled examples and sample data are: inside the wheel, or beside the checkout."""

from __future__ import annotations

from pathlib import Path


def bundled_dir() -> Path:
    """`engine/resources` in an installed wheel, `resources/` at the top of a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources", here.parent / "resources"):
        if (candidate / "examples").is_dir():
            return candidate
    raise FileNotFoundError("Graphmill's resources folder is missing from this installation")


def example(name: str) -> Path:
    """The path of a bundled example project, e.g. `example("orders")`."""
    path = bundled_dir() / "examples" / f"{name}.graphmill.json"
    if not path.is_file():
        raise FileNotFoundError(f"no bundled example named '{name}'")
    return path
