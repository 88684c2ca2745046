"""The app's keyboard: every command, its keys and what it does, in one table.

The console window makes its actions from it (those of its `scope`), the history window and
the phone note dialog theirs, the buttons' tooltips name the keys from it, and the console's
help overlay (F1 or ?) lists all of it: a key changed here changes everywhere.  The commands
that act on calls carry the desk's `CallAction` (the desk decides what each one does).
Its words are English, marked for translation (context "Shortcuts"); `text` and `heading`
give them in the user's language, `shown` the keys as the keyboard's language names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QKeySequence

from cstapopup.calls.views import CallAction
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate


@dataclass(frozen=True, slots=True)
class Shortcut:
    """One console command: `command` (a CallAction value, or the console's own), its keys
    (QKeySequence's portable text; the first is the one shown), and what it does."""

    command: str
    keys: tuple[str, ...]
    words: str
    #: The heading it is listed under in the help.
    group: str
    #: The window whose key it is: "console" (the console makes an action of it), "note"
    #: (the phone note dialog).
    scope: str = "console"

    @property
    def shown(self) -> str:
        """The keys as the user reads them ("F3", "Ctrl+Enter"; "Strg+Enter" in German)."""
        keys = dict.fromkeys(_native(_readable(k)) for k in self.keys if k != "Enter")
        return translate("Shortcuts", " or ").join(keys)

    @property
    def text(self) -> str:
        """What it does, in the user's language."""
        return translate("Shortcuts", self.words)

    @property
    def heading(self) -> str:
        """The help's heading it is listed under, in the user's language."""
        return translate("Shortcuts", self.group)

    def sequences(self) -> list[QKeySequence]:
        return [QKeySequence(k) for k in self.keys]


def _readable(key: str) -> str:
    return {"Return": "Enter", "Ctrl+Return": "Ctrl+Enter", "Shift+?": "?"}.get(key, key)


def _native(key: str) -> str:
    """A key as the platform and the language name it ("Ctrl+F"; "Strg+F" in German)."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText) or key


CALLS = QT_TRANSLATE_NOOP("Shortcuts", "Your phone")
COLLEAGUES = QT_TRANSLATE_NOOP("Shortcuts", "Colleagues")
WINDOW = QT_TRANSLATE_NOOP("Shortcuts", "Window")
NOTE = QT_TRANSLATE_NOOP("Shortcuts", "Phone note")

SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(
        CallAction.ANSWER.value,
        ("F3",),
        QT_TRANSLATE_NOOP("Shortcuts", "Answer the call ringing at your phone"),
        CALLS,
    ),
    Shortcut(
        CallAction.HANG_UP.value,
        ("F4",),
        QT_TRANSLATE_NOOP("Shortcuts", "Hang up (ends the consultation, the caller stays on hold)"),
        CALLS,
    ),
    Shortcut(
        CallAction.HOLD.value,
        ("F5",),
        QT_TRANSLATE_NOOP("Shortcuts", "Hold the call, or take it back from hold"),
        CALLS,
    ),
    Shortcut(
        CallAction.COMPLETE.value,
        ("F6",),
        QT_TRANSLATE_NOOP(
            "Shortcuts", "Complete the transfer: the caller talks to the colleague you consulted"
        ),
        CALLS,
    ),
    Shortcut(
        CallAction.BACK.value,
        ("F7",),
        QT_TRANSLATE_NOOP("Shortcuts", "Back to the caller (ends the consultation)"),
        CALLS,
    ),
    Shortcut(
        CallAction.ALTERNATE.value,
        ("F8",),
        QT_TRANSLATE_NOOP("Shortcuts", "Switch between the caller and the colleague"),
        CALLS,
    ),
    # Also the history window's key for a note about the chosen call.
    Shortcut(
        "note",
        ("Ctrl+N",),
        QT_TRANSLATE_NOOP(
            "Shortcuts",
            "Write a phone note about your phone's last call (in the history: about "
            "the chosen call)",
        ),
        CALLS,
    ),
    Shortcut(
        "focus_popup",
        ("F2",),
        QT_TRANSLATE_NOOP(
            "Shortcuts",
            "The newest ringing popup takes the keyboard (then Alt+A answers, Tab "
            "moves, Esc dismisses)",
        ),
        CALLS,
    ),
    Shortcut(
        CallAction.PUT_THROUGH.value,
        ("Return", "Enter"),
        QT_TRANSLATE_NOOP(
            "Shortcuts",
            "Put the call through to the chosen colleague (blind; a ringing call is sent on)",
        ),
        COLLEAGUES,
    ),
    Shortcut(
        CallAction.CONSULT.value,
        ("Ctrl+Return", "Ctrl+Enter"),
        QT_TRANSLATE_NOOP(
            "Shortcuts",
            "Consult first: the caller waits on hold while you call the chosen colleague",
        ),
        COLLEAGUES,
    ),
    Shortcut(
        CallAction.PICK_UP.value,
        ("Ctrl+P",),
        QT_TRANSLATE_NOOP("Shortcuts", "Pick up the call ringing at the chosen colleague's phone"),
        COLLEAGUES,
    ),
    Shortcut(
        "find",
        ("Ctrl+F", "/"),
        QT_TRANSLATE_NOOP(
            "Shortcuts",
            "Find a colleague (or just start typing a name or number; Up and Down choose)",
        ),
        COLLEAGUES,
    ),
    # "?" comes with Shift on most layouts; where Qt cannot map the key back (no keymap),
    # only "Shift+?" matches what the keyboard sends.
    Shortcut(
        "help",
        ("F1", "?", "Shift+?"),
        QT_TRANSLATE_NOOP("Shortcuts", "Show or hide this help"),
        WINDOW,
    ),
    Shortcut(
        "history", ("Ctrl+H",), QT_TRANSLATE_NOOP("Shortcuts", "Open the call history"), WINDOW
    ),
    Shortcut(
        "escape",
        ("Esc",),
        QT_TRANSLATE_NOOP(
            "Shortcuts",
            "Clear the search, cancel putting a popup's call through, close the help, "
            "else close the window",
        ),
        WINDOW,
    ),
    Shortcut(
        "close",
        ("Ctrl+W",),
        QT_TRANSLATE_NOOP("Shortcuts", "Close the window (cstapopup stays in the tray)"),
        WINDOW,
    ),
    Shortcut(
        "note_save",
        ("Ctrl+Return", "Ctrl+Enter"),
        QT_TRANSLATE_NOOP("Shortcuts", "Save the note (Alt+E: save it and send it by e-mail)"),
        NOTE,
        "note",
    ),
    Shortcut(
        "note_cancel",
        ("Esc",),
        QT_TRANSLATE_NOOP("Shortcuts", "Close the note without saving"),
        NOTE,
        "note",
    ),
)

BY_COMMAND: dict[str, Shortcut] = {s.command: s for s in SHORTCUTS}


def of_scope(scope: str) -> list[Shortcut]:
    """The shortcuts of one window ("console", "note")."""
    return [s for s in SHORTCUTS if s.scope == scope]


def keys_of(command: str) -> str:
    """The keys of a command as shown in a tooltip ("F3")."""
    return BY_COMMAND[command].shown


def tip(text: str, command: str) -> str:
    """A tooltip that names the command's keys: "Answer (F3)"."""
    return translate("Shortcuts", "{action} ({keys})").format(action=text, keys=keys_of(command))


__all__ = ["BY_COMMAND", "SHORTCUTS", "Shortcut", "keys_of", "of_scope", "tip"]
