"""Bundled resources (icons, sounds, the demo phonebook), found the same way installed and frozen."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_dir() -> Path:
    """The folder holding the resources: in a PyInstaller bundle, or beside this module."""
    base = getattr(sys, "_MEIPASS", None)
    if base:
        bundled = Path(base) / "cstapopup" / "resources"
        if bundled.is_dir():
            return bundled
    return Path(__file__).resolve().parent


def path(name: str) -> Path:
    """The path of one resource, e.g. path("icons/tray-up.svg")."""
    return resource_dir() / name
