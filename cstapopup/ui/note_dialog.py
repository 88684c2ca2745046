"""The phone note dialog: after a call, for whom (type-ahead over the colleagues and the phone
book), whether a callback is wanted, and the text; Save, or Save and e-mail (the user's mail
program opens with a ready text), or Cancel.

Made for the keyboard: every control has a mnemonic, Enter in a one-line field goes to the
next one, Ctrl+Enter saves from anywhere, Esc cancels (the keys come from `ui.shortcuts`).  The
dialog knows nothing of the history or of mail: it gets the call as a `NoteContext` and three
functions (`find` suggestions, `save` a note, `mail` it), and it stays open with the problem
in words when a save fails, so that nothing typed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt
from PySide6.QtGui import (
    QAccessible,
    QAccessibleAnnouncementEvent,
    QAction,
    QColor,
    QFont,
    QKeyEvent,
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QCompleter,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cstapopup.calls.model import PhoneNote
from cstapopup.calls.notes import NoteContext, Recipient, recipient_for
from cstapopup.i18n import translate
from cstapopup.ui import icons
from cstapopup.ui.palette import readable
from cstapopup.ui.plain import plain_label
from cstapopup.ui.shortcuts import BY_COMMAND, tip

log = logging.getLogger(__name__)

#: Why a note was not saved, in this red (made readable on the dialog's background).
PROBLEM_COLOUR = "#b3261e"

Find = Callable[[str], list[Recipient]]
#: Keep the note with its call; None when done, else why not (in words).
Save = Callable[[PhoneNote], "str | None"]
#: Send the saved note by e-mail to an address ("" : the mail program asks).
Mail = Callable[[PhoneNote, str], None]


class NoteDialog(QDialog):
    """See the module docstring.  `saved(note)` after a save (and the mail, if asked for)."""

    def __init__(
        self,
        context: NoteContext,
        *,
        find: Find,
        save: Save,
        mail: Mail | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self._find = find
        self._save = save
        self._mail = mail
        self._candidates: list[Recipient] = list(context.colleagues)
        #: The address was typed by the user: a choice of whom no longer overwrites it.
        self._address_typed = False
        #: The note that was saved (None until then).
        self.saved_note: PhoneNote | None = None
        self.setObjectName("phoneNote")
        self.setWindowTitle(translate("Note", "Phone note"))
        self.setWindowIcon(icons.app_icon())
        self.setAccessibleName(translate("Note", "Phone note"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        layout = QVBoxLayout(self)
        self.call_label = plain_label(QLabel(context.caller, self))
        self.call_label.setObjectName("noteCall")
        self.call_label.setWordWrap(True)
        bold = QFont(self.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.15)
        self.call_label.setFont(bold)
        self.call_label.setAccessibleName(translate("Note", "The call"))
        self.call_label.setAccessibleDescription(context.title)
        layout.addWidget(self.call_label)
        self.call_detail = plain_label(QLabel(context.detail, self))
        self.call_detail.setObjectName("noteCallDetail")
        self.call_detail.setAccessibleName(translate("Note", "The call"))
        self.call_detail.setAccessibleDescription(context.title)
        layout.addWidget(self.call_detail)
        layout.addSpacing(4)

        form = QFormLayout()
        self.for_edit = QLineEdit(self)
        self.for_edit.setObjectName("noteFor")
        self.for_edit.setPlaceholderText(translate("Note", "Name or extension of a colleague"))
        self.for_edit.setClearButtonEnabled(True)
        self._model = QStringListModel(self)
        self.completer = QCompleter(self._model, self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setMaxVisibleItems(10)
        self.for_edit.setCompleter(self.completer)
        self.mail_edit = QLineEdit(self)
        self.mail_edit.setObjectName("noteMail")
        self.mail_edit.setPlaceholderText(
            translate("Note", "The phone book's address, once you chose whom")
        )
        self.callback_box = QCheckBox(translate("Note", "&Callback wanted"), self)
        self.callback_box.setObjectName("noteCallback")
        self.text_edit = QPlainTextEdit(self)
        self.text_edit.setObjectName("noteText")
        self.text_edit.setTabChangesFocus(True)  # Tab leaves the text; the keyboard goes on
        self.text_edit.setPlaceholderText(translate("Note", "What the caller wants"))
        self.text_edit.setMinimumHeight(90)
        labels = []
        for text, field in (
            (translate("Note", "&For:"), self.for_edit),
            (translate("Note", "E-&mail to:"), self.mail_edit),
            ("", self.callback_box),
            (translate("Note", "&Text:"), self.text_edit),
        ):
            if text:
                label = QLabel(text, self)
                label.setBuddy(field)
                labels.append(label)
                form.addRow(label, field)
                field.setAccessibleName(text.replace("&", "").rstrip(":"))
            else:
                form.addRow(field)
                field.setAccessibleName(self.callback_box.text().replace("&", ""))
        self.for_edit.setAccessibleDescription(
            translate("Note", "Type a name or an extension; Down and Enter choose a suggestion")
        )
        self.mail_edit.setAccessibleDescription(
            translate("Note", "Where “Save and e-mail” sends the note")
        )
        layout.addLayout(form)

        self.problem = plain_label(QLabel(self))
        self.problem.setObjectName("noteProblem")
        self.problem.setWordWrap(True)
        # Red, as dark (or on a dark theme as light) as it takes to read it: 4.5:1.
        colours = self.problem.palette()
        colours.setColor(
            QPalette.ColorRole.WindowText,
            readable(QColor(PROBLEM_COLOUR), self.palette().color(QPalette.ColorRole.Window)),
        )
        self.problem.setPalette(colours)
        self.problem.setAccessibleName(translate("Note", "Problem"))
        self.problem.hide()
        layout.addWidget(self.problem)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.save_button = QPushButton(translate("Note", "&Save note"), self)
        self.save_button.setObjectName("noteSave")
        self.save_button.setToolTip(
            tip(translate("Note", "Keep the note with the call in the history"), "note_save")
        )
        self.mail_button = QPushButton(translate("Note", "Save and &e-mail"), self)
        self.mail_button.setObjectName("noteSaveMail")
        self.mail_button.setToolTip(
            translate("Note", "Save the note and open your mail program with a ready text (Alt+E)")
        )
        self.mail_button.setVisible(mail is not None)
        self.cancel_button = QPushButton(translate("Note", "Cance&l"), self)
        self.cancel_button.setObjectName("noteCancel")
        self.cancel_button.setToolTip(tip(translate("Note", "Close without saving"), "note_cancel"))
        for button in (self.save_button, self.mail_button, self.cancel_button):
            # No default button: Enter in a field goes on to the next one (Ctrl+Enter saves).
            button.setAutoDefault(False)
            button.setDefault(False)
            button.setAccessibleName(button.text().replace("&", ""))
            button.setAccessibleDescription(button.toolTip())
            buttons.addWidget(button)
        layout.addLayout(buttons)

        self.save_button.clicked.connect(lambda: self.save(mail=False))
        self.mail_button.clicked.connect(lambda: self.save(mail=True))
        self.cancel_button.clicked.connect(self.reject)
        save_action = QAction(self)
        save_action.setShortcuts(BY_COMMAND["note_save"].sequences())
        save_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        save_action.triggered.connect(lambda: self.save(mail=False))
        self.addAction(save_action)
        self.save_action = save_action

        # Looked up at every key, before the completer shows its list: never a stale one.
        # (50,000 contacts: about 20 ms a key, benchmarks/phonebook.py.)
        self.for_edit.textEdited.connect(lambda _t: self.suggest())
        self.for_edit.returnPressed.connect(self._for_entered)
        self.for_edit.installEventFilter(self)
        self.for_edit.editingFinished.connect(self._fill_address)
        # The text overload of the signal; PySide6's stubs know no indexing of overloaded signals.
        self.completer.activated[str].connect(self._chosen)  # type: ignore[index]
        self.mail_edit.textEdited.connect(self._address_edited)
        self.mail_edit.returnPressed.connect(
            lambda: self.callback_box.setFocus(Qt.FocusReason.TabFocusReason)
        )

        self._fill(context.note)
        self.resize(470, 300)

    # -- contents

    def _fill(self, note: PhoneNote | None) -> None:
        if note is None:
            return
        self.for_edit.setText(note.for_text)
        self.callback_box.setChecked(note.callback)
        self.text_edit.setPlainText(note.text)
        self._fill_address()

    def suggest(self, *, show: bool = False) -> None:
        """Offer whom the typed text may mean (colleagues first, then the phone book); with
        nothing typed, the colleagues (`show`: even then, the Down key)."""
        text = self.for_edit.text()
        try:
            self._candidates = self._find(text)
        except Exception:  # a phone-book bug must not take the note with it
            log.exception("phone note: suggestions for %r failed", text)
            self._candidates = []
        self._model.setStringList([c.label for c in self._candidates])
        if self._candidates and self.for_edit.hasFocus() and (show or text.strip()):
            self.completer.setCompletionPrefix("")
            self.completer.complete()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Down in the "for" field opens the suggestions (all colleagues when it is empty).
        if (
            watched is self.for_edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Down
            and not self._suggestions_shown()
        ):
            self.suggest(show=True)
            return True
        return super().eventFilter(watched, event)

    def _suggestions_shown(self) -> bool:
        popup = self.completer.popup()  # Qt makes the list on first asking: never None
        return popup is not None and popup.isVisible()

    def _chosen(self, label: str) -> None:
        self.for_edit.setText(label)
        self._fill_address()

    def _for_entered(self) -> None:
        if self._suggestions_shown():
            return  # Enter chose a suggestion (the completer takes it)
        self._fill_address()
        self.mail_edit.setFocus(Qt.FocusReason.TabFocusReason)

    def _address_edited(self, text: str) -> None:
        self._address_typed = bool(text.strip())

    def chosen(self) -> Recipient | None:
        """The suggestion the "for" field names exactly, if any."""
        return recipient_for(self.for_edit.text(), [*self._candidates, *self.context.colleagues])

    def _fill_address(self) -> None:
        if self._address_typed:
            return
        chosen = self.chosen()
        self.mail_edit.setText(chosen.email if chosen is not None else "")

    def note(self) -> PhoneNote:
        """The note as the fields say it now."""
        text = self.for_edit.text().strip()
        chosen = self.chosen()
        if chosen is not None:
            for_name, for_number = chosen.name or None, chosen.number or None
        elif text.isdigit():
            for_name, for_number = None, text
        else:
            for_name, for_number = text or None, None
        return PhoneNote(
            text=self.text_edit.toPlainText().strip(),
            for_name=for_name,
            for_number=for_number,
            callback=self.callback_box.isChecked(),
            written_at=datetime.now(UTC),
            written_by=self.context.written_by,
        )

    # -- saving

    def save(self, *, mail: bool = False) -> bool:
        """Save (and with `mail`, send by e-mail); closes the dialog when it worked, else
        shows why and stays open.  True when saved."""
        note = self.note()
        problem = self._save(note)
        if problem is not None:
            self.show_problem(problem)
            return False
        self.saved_note = note
        if mail and self._mail is not None:
            self._mail(note, self.mail_edit.text().strip())
        self.accept()
        return True

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.show()
        event = QAccessibleAnnouncementEvent(self.problem, text)
        event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive)
        QAccessible.updateAccessibility(event)

    def bring_forward(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.for_edit.text():
            self.for_edit.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
        else:
            self.text_edit.setFocus(Qt.FocusReason.ActiveWindowFocusReason)


__all__ = ["NoteDialog"]
