"""Graphmill's desktop designer (PySide6 + NodeGraphQt); a client of the engine's public API."""
