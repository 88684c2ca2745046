"""Text from outside (the PBX, phone books, the network) shown as text, never as markup.

A caller's name may hold anything, "<h1>" or "<img src=...>" included.  Qt guesses whether a
label's, tooltip's or notification's text is rich text; these functions take the guess away.
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel

_Label = TypeVar("_Label", bound=QLabel)


def plain_label(label: _Label) -> _Label:
    """The label shows (and sizes itself by) its text as plain text."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_tooltip(text: str) -> str:
    """A tooltip (or tray message) that shows `text` as it is.  Qt renders such texts as rich
    text when they look like it; then they go as HTML with every character escaped."""
    if GuiQt.mightBeRichText(text):
        return GuiQt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)
    return text
