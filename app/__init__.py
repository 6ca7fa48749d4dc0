"""Graphmill's desktop designer (PySide6 + NodeGraphQt); a client of the engine's public API."""

# pydantic (through the engine models) is imported before PySide6: with shiboken's import hook
# active, pydantic's lazy submodule imports can fail with a circular ImportError.
import engine.models  # noqa: F401
