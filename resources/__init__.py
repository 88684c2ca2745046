"""Bundled resources (icons, sounds, the demo phonebook), found the same way installed and frozen.

They are package data beside this module; a PyInstaller bundle puts them at the same place
relative to the module (packaging/bundle_plan.py), and sets the module's __file__ there.
"""

from __future__ import annotations

from pathlib import Path

#: The sample phone books of the demo (the simulator takes its outside callers from them; the
#: colleagues' book has only extensions, which it leaves alone, and their e-mail addresses).
DEMO_PHONEBOOKS = ("demo/phonebook.csv", "demo/phonebook.vcf", "demo/colleagues.csv")


def resource_dir() -> Path:
    """The folder holding the resources."""
    return Path(__file__).parent


def path(name: str) -> Path:
    """The path of one resource, e.g. path("icons/tray-up.svg")."""
    return resource_dir() / name


def demo_phonebooks() -> list[Path]:
    """The sample phone books that exist."""
    return [p for p in map(path, DEMO_PHONEBOOKS) if p.is_file()]
