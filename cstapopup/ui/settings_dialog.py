"""The settings dialog, built from the declared options in `cstapopup.settings.OPTIONS`.

One tab per section; each option gets the editor its kind calls for, its label (with a
keyboard mnemonic), its help text, and an inline message when its value is not accepted (OK is
disabled until every value is). The PBX tab adds the password and "Test connection".

Everything that would open a modal window or reach the network is injectable, so tests drive
the dialog without a real modal loop: `ask_plaintext`, `show_error`, `choose_file(s)`,
`test_connection`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cstapopup.calls import texts
from cstapopup.i18n import language as current_language
from cstapopup.i18n import translate
from cstapopup.settings import (
    FACTORY_PASSWORD,
    LINK_DIRECT,
    LINK_GATEWAY,
    OPTIONS,
    PASSWORD_STORAGE_KEYRING,
    PASSWORD_STORAGE_NONE,
    PASSWORD_STORAGE_PLAINTEXT,
    SECTIONS,
    ConnectionParameters,
    GatewayParameters,
    Kind,
    LinkParameters,
    Option,
    PasswordStore,
    PasswordStoreError,
    Settings,
    SettingsError,
    cross_problems,
    option,
    section_title,
)
from cstapopup.ui import icons
from cstapopup.ui.palette import readable
from cstapopup.ui.plain import plain_label

log = logging.getLogger(__name__)

#: The name `settings_applied` reports when the password changed (it is not a setting): the
#: PBX's, or the broker's (the office gateway).
PASSWORD_CHANGED = "pbx.password"
BROKER_PASSWORD_CHANGED = "gateway.password"
_PASSWORD_CHANGED = {LINK_DIRECT: PASSWORD_CHANGED, LINK_GATEWAY: BROKER_PASSWORD_CHANGED}

AskPlaintext = Callable[[QWidget, str], bool]
ShowError = Callable[[QWidget, str], None]
ChooseFile = Callable[[QWidget, str, str, str], str]
ChooseFiles = Callable[[QWidget, str, str, str], list[str]]
TestConnection = Callable[[LinkParameters], "str | Awaitable[str]"]

_ERROR_COLOUR = "#c62828"
_WARNING_COLOUR = "#9a6700"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _coloured(label: QLabel, colour: str | QColor) -> None:
    """`label`'s text in `colour`, or the shade of it that reads on the label's background
    (4.5:1; light, dark and high-contrast themes alike)."""
    palette = label.palette()
    background = palette.color(label.backgroundRole())
    palette.setColor(QPalette.ColorRole.WindowText, readable(QColor(colour), background))
    label.setPalette(palette)


def _muted(label: QLabel) -> None:
    """`label` in the theme's muted text colour (its placeholder text), as far as that still
    reads (some themes' placeholder grey is too faint for sentences)."""
    _coloured(label, label.palette().color(QPalette.ColorRole.PlaceholderText))


# --- the default modal helpers (replaced in tests) -----------------------------------------


def ask_plaintext_with_message_box(parent: QWidget, message: str) -> bool:
    box = QMessageBox(
        QMessageBox.Icon.Question,
        translate("SettingsDialog", "Keep the password in plain text?"),
        message,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setDefaultButton(QMessageBox.StandardButton.No)  # the safe answer on Enter
    box.button(QMessageBox.StandardButton.Yes).setText(
        translate("SettingsDialog", "&Keep in plain text")
    )
    box.button(QMessageBox.StandardButton.No).setText(translate("SettingsDialog", "&Don't keep it"))
    return box.exec() == QMessageBox.StandardButton.Yes


def show_error_with_message_box(parent: QWidget, message: str) -> None:
    QMessageBox.warning(parent, translate("SettingsDialog", "Settings not saved"), message)


def choose_file_with_dialog(parent: QWidget, caption: str, directory: str, filter: str) -> str:
    return QFileDialog.getOpenFileName(parent, caption, directory, filter)[0]


def choose_files_with_dialog(
    parent: QWidget, caption: str, directory: str, filter: str
) -> list[str]:
    return QFileDialog.getOpenFileNames(parent, caption, directory, filter)[0]


# --- editors: one per kind of option -------------------------------------------------------


class Editor:
    """The widget(s) for one option: `widget` goes into the form, `focus_widget` is the label's
    buddy. `raw_value()` is what the user entered (may raise SettingsError when it cannot even
    be read); the option's `validate` decides the rest."""

    def __init__(self, opt: Option, parent: QWidget) -> None:
        self.option = opt
        self.widget: QWidget
        self.focus_widget: QWidget

    def raw_value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def connect_changed(self, slot: Callable[[], object]) -> None:
        raise NotImplementedError

    def warning(self) -> str:
        """A note that does not block OK (a file that is not there right now)."""
        return ""


class TextEditor(Editor):
    def __init__(self, opt: Option, parent: QWidget) -> None:
        super().__init__(opt, parent)
        self.edit = QLineEdit(parent)
        self.edit.setPlaceholderText(opt.shown_placeholder)
        self.widget = self.focus_widget = self.edit

    def raw_value(self) -> Any:
        return self.edit.text()

    def set_value(self, value: Any) -> None:
        self.edit.setText(str(value))

    def connect_changed(self, slot: Callable[[], object]) -> None:
        self.edit.textChanged.connect(lambda _t: slot())


class DevicesEditor(TextEditor):
    """Device numbers as "100, 101"."""

    def raw_value(self) -> Any:
        return self.option.parse(self.edit.text())

    def set_value(self, value: Any) -> None:
        self.edit.setText(", ".join(value))

    def devices(self) -> list[str]:
        """The devices as far as they can be read (for the own-device choice)."""
        try:
            return self.option.validate(self.raw_value())
        except SettingsError:
            return []


class ColleaguesEditor(TextEditor):
    """Colleagues as "101 Anna Berger, 102, 110-119"."""

    def raw_value(self) -> Any:
        return self.option.parse(self.edit.text())

    def set_value(self, value: Any) -> None:
        self.edit.setText(", ".join(value))


class IntEditor(Editor):
    def __init__(self, opt: Option, parent: QWidget) -> None:
        super().__init__(opt, parent)
        self.spin = QSpinBox(parent)
        self.spin.setRange(
            opt.minimum if opt.minimum is not None else -(2**31),
            opt.maximum if opt.maximum is not None else 2**31 - 1,
        )
        self.spin.setSuffix(opt.shown_suffix)
        if opt.zero_means and (opt.minimum or 0) == 0:
            self.spin.setSpecialValueText(opt.shown_zero_means or "")
        self.spin.setAccelerated(True)
        self.widget = self.focus_widget = self.spin

    def raw_value(self) -> Any:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.setValue(int(value))

    def connect_changed(self, slot: Callable[[], object]) -> None:
        self.spin.valueChanged.connect(lambda _v: slot())


class BoolEditor(Editor):
    def __init__(self, opt: Option, parent: QWidget) -> None:
        super().__init__(opt, parent)
        self.check = QCheckBox(opt.shown_label, parent)  # the checkbox carries the mnemonic
        self.widget = self.focus_widget = self.check

    def raw_value(self) -> Any:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.setChecked(bool(value))

    def connect_changed(self, slot: Callable[[], object]) -> None:
        self.check.toggled.connect(lambda _c: slot())


class ChoiceEditor(Editor):
    def __init__(self, opt: Option, parent: QWidget, labels: dict[str, str] | None = None) -> None:
        super().__init__(opt, parent)
        self.combo = QComboBox(parent)
        for value, label in opt.shown_choices:
            self.combo.addItem((labels or {}).get(value, label), value)
        self.widget = self.focus_widget = self.combo
        self._in_use = current_language() if opt.name == "app.language" else None

    def raw_value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def connect_changed(self, slot: Callable[[], object]) -> None:
        self.combo.currentIndexChanged.connect(lambda _i: slot())

    def warning(self) -> str:
        """The language: a change takes effect at the next start."""
        if self._in_use is None:
            return ""
        wanted = self.raw_value()
        if wanted == "auto" or wanted == self._in_use:
            return ""
        return translate("SettingsDialog", "the language changes when cstapopup starts again")


class DeviceEditor(Editor):
    """One of the monitored devices, or none: a combo box that follows the device list."""

    NONE_LABEL = "(none)"

    def __init__(self, opt: Option, parent: QWidget) -> None:
        super().__init__(opt, parent)
        self.combo = QComboBox(parent)
        self.combo.addItem(_none_label(), "")
        self.widget = self.focus_widget = self.combo

    def set_choices(self, devices: list[str]) -> None:
        current = self.raw_value()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(_none_label(), "")
        for d in devices:
            self.combo.addItem(d, d)
        if current and current not in devices:
            # Keep showing it, so the dialog can say what is wrong instead of silently
            # dropping the user's choice.
            self.combo.addItem(current, current)
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)))
        self.combo.blockSignals(False)

    def raw_value(self) -> Any:
        return self.combo.currentData() or ""

    def set_value(self, value: Any) -> None:
        if value and self.combo.findData(value) < 0:
            self.combo.addItem(value, value)
        self.combo.setCurrentIndex(max(0, self.combo.findData(value or "")))

    def connect_changed(self, slot: Callable[[], object]) -> None:
        self.combo.currentIndexChanged.connect(lambda _i: slot())


def _none_label() -> str:
    return translate("SettingsDialog", "(none)")


class PathEditor(Editor):
    def __init__(self, opt: Option, parent: QWidget, choose: Callable[[], str]) -> None:
        super().__init__(opt, parent)
        self.widget = QWidget(parent)
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self.widget)
        self.edit.setPlaceholderText(opt.shown_placeholder or _none_label())
        self.edit.setClearButtonEnabled(True)
        self.browse = QPushButton(translate("SettingsDialog", "&Browse…"), self.widget)
        self.browse.setAccessibleName(
            translate("SettingsDialog", "Browse for {setting}").format(setting=opt.plain_label)
        )
        self.browse.setAutoDefault(False)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        self.focus_widget = self.edit
        self._choose = choose
        self.browse.clicked.connect(self._on_browse)

    def _on_browse(self) -> None:
        path = self._choose()
        if path:
            self.edit.setText(path)

    def raw_value(self) -> Any:
        return self.edit.text()

    def set_value(self, value: Any) -> None:
        self.edit.setText(str(value))

    def connect_changed(self, slot: Callable[[], object]) -> None:
        self.edit.textChanged.connect(lambda _t: slot())

    def warning(self) -> str:
        text = self.edit.text().strip()
        if text and not Path(text).expanduser().is_file():
            return translate("SettingsDialog", "this file is not there (right now)")
        return ""


class _FileList(QListWidget):
    """The list of a PathsEditor; Delete (or Backspace) asks to remove the selected files."""

    delete_pressed = Signal()

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selectedItems():
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)


class PathsEditor(Editor):
    """A list of files with Add… and Remove (Delete key removes too)."""

    def __init__(self, opt: Option, parent: QWidget, choose: Callable[[], list[str]]) -> None:
        super().__init__(opt, parent)
        self.widget = QWidget(parent)
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        self.list = _FileList(self.widget)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setMinimumHeight(90)
        self.list.setMaximumHeight(150)
        self.list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.list.setAccessibleName(opt.plain_label)
        buttons = QVBoxLayout()
        self.add = QPushButton(translate("SettingsDialog", "&Add…"), self.widget)
        self.remove = QPushButton(translate("SettingsDialog", "&Remove"), self.widget)
        self.add.setAccessibleName(
            translate("SettingsDialog", "Add to {setting}").format(setting=opt.plain_label)
        )
        self.remove.setAccessibleName(
            translate("SettingsDialog", "Remove from {setting}").format(setting=opt.plain_label)
        )
        for b in (self.add, self.remove):
            b.setAutoDefault(False)
            buttons.addWidget(b)
        buttons.addStretch(1)
        row.addWidget(self.list, 1)
        row.addLayout(buttons)
        self.focus_widget = self.list
        self._choose = choose
        self._slots: list[Callable[[], object]] = []
        self.add.clicked.connect(self._on_add)
        self.remove.clicked.connect(self._on_remove)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.delete_pressed.connect(self._on_remove)
        self._update_buttons()

    def _on_add(self) -> None:
        existing = set(self.raw_value())
        added = [p for p in self._choose() if p and p not in existing]
        for p in added:
            self.list.addItem(p)
        if added:
            self._changed()

    def _on_remove(self) -> None:
        rows = sorted((self.list.row(i) for i in self.list.selectedItems()), reverse=True)
        for r in rows:
            self.list.takeItem(r)
        if rows:
            self._changed()

    def _update_buttons(self) -> None:
        self.remove.setEnabled(bool(self.list.selectedItems()))

    def _changed(self) -> None:
        self._update_buttons()
        for slot in self._slots:
            slot()

    def raw_value(self) -> Any:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_value(self, value: Any) -> None:
        self.list.clear()
        self.list.addItems(list(value))
        self._update_buttons()

    def connect_changed(self, slot: Callable[[], object]) -> None:
        self._slots.append(slot)

    def warning(self) -> str:
        missing = [p for p in self.raw_value() if not Path(p).expanduser().is_file()]
        if not missing:
            return ""
        return translate("SettingsDialog", "not there (right now): {files}").format(
            files=", ".join(Path(p).name for p in missing)
        )


class _Form(QGridLayout):
    """Label | field rows, labels right-aligned at the top of their row."""

    def __init__(self) -> None:
        super().__init__()
        self.setColumnStretch(1, 1)
        self.setVerticalSpacing(8)

    def add_row(self, label: QLabel | None, field: QWidget, editor: QWidget | None = None) -> None:
        """`editor` is the input the label belongs to: the label is centred on its first line."""
        row = self.rowCount()
        if label is not None:
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            label.setMinimumHeight((editor or field).sizeHint().height())
            self.addWidget(label, row, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.addWidget(field, row, 1)


# --- the dialog ----------------------------------------------------------------------------


class SettingsDialog(QDialog):
    """Edit the settings; OK validates, stores the password as chosen and saves the file.

    Signal `settings_applied(list[str])`: the names that changed (plus "pbx.password" when the
    password did), after the file was saved.
    """

    settings_applied = Signal(list)

    def __init__(
        self,
        settings: Settings,
        password_store: PasswordStore,
        parent: QWidget | None = None,
        *,
        ask_plaintext: AskPlaintext = ask_plaintext_with_message_box,
        show_error: ShowError = show_error_with_message_box,
        choose_file: ChooseFile = choose_file_with_dialog,
        choose_files: ChooseFiles = choose_files_with_dialog,
        test_connection: TestConnection | None = None,
    ) -> None:
        super().__init__(parent)
        # Qt adds the application's name to every window title ("Settings — cstapopup").
        self.setWindowTitle(translate("SettingsDialog", "Settings"))
        self.setWindowIcon(icons.app_icon())
        self.setObjectName("settingsDialog")
        self._settings = settings
        self._store = password_store
        self._ask_plaintext = ask_plaintext
        self._show_error = show_error
        self._choose_file = choose_file
        self._choose_files = choose_files
        self._test_connection = test_connection
        self._keyring_available = password_store.keyring_available()
        #: The store of each way's password (the PBX's, the broker's).
        self._stores = {kind: password_store.for_kind(kind) for kind in (LINK_DIRECT, LINK_GATEWAY)}
        self._had = {kind: store.get() is not None for kind, store in self._stores.items()}
        self._had_password = self._had[LINK_DIRECT]
        self._test_future: asyncio.Future[Any] | None = None
        #: The password typed in the dialog when OK was pressed (for this session when it is
        #: not stored); None when the field was left empty.
        self.password_entered: str | None = None

        self.editors: dict[str, Editor] = {}
        self.error_labels: dict[str, QLabel] = {}
        self.warning_labels: dict[str, QLabel] = {}
        self.pages: dict[str, QWidget] = {}
        #: The widgets of each row (its label, if any, and its field), shown or hidden with
        #: the way to the PBX they belong to.
        self.rows: dict[str, tuple[QWidget, ...]] = {}
        self.password_edits: dict[str, QLineEdit] = {}
        self.password_helps: dict[str, QLabel] = {}

        layout = QVBoxLayout(self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("tabs")
        layout.addWidget(self.tabs)
        for section in SECTIONS:
            self._build_page(section, section_title(section))

        self.summary = QLabel(self)
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        _coloured(self.summary, _ERROR_COLOUR)
        layout.addWidget(self.summary)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        for name, editor in self.editors.items():
            editor.set_value(settings.get(name))
        self._refresh_own_device_choices()
        for editor in self.editors.values():
            editor.connect_changed(self.validate)
        self.editors["devices.monitor"].connect_changed(self._refresh_own_device_choices)
        self.editors["pbx.tls"].connect_changed(self._update_enabled)
        self.editors["popup.sound"].connect_changed(self._update_enabled)
        self.editors["pbx.password_storage"].connect_changed(self._update_password_note)
        self.editors["pbx.connection"].connect_changed(self._update_connection)
        for edit in self.password_edits.values():
            edit.textChanged.connect(lambda _t: self._update_password_note())
        self._update_password_note()
        self._update_enabled()
        self._update_connection()
        self.validate()
        # Wide enough for every tab's title (German ones are longer) with no scroll arrows.
        tabs = self.tabs.tabBar().sizeHint().width()
        margins = layout.contentsMargins()
        self.setMinimumWidth(max(600, tabs + margins.left() + margins.right() + 8))

    # -- building

    def _build_page(self, section: str, title: str) -> None:
        page = QWidget(self.tabs)
        page.setObjectName(f"page-{section}")
        outer = QVBoxLayout(page)
        # A grid rather than a QFormLayout: the grid honours height-for-width, so wrapped help
        # texts take exactly the lines they need.
        form = _Form()
        outer.addLayout(form)
        outer.addStretch(1)  # spare height goes below the last row, not into one of them
        for opt in (o for o in OPTIONS if o.page == section):
            self._add_option_row(page, form, opt)
            if opt.name == "pbx.user":
                self._add_password_row(page, form, LINK_DIRECT)
            elif opt.name == "gateway.user":
                self._add_password_row(page, form, LINK_GATEWAY)
        if section == "pbx":
            self._add_test_row(page, form)
        self.pages[section] = page
        self.tabs.addTab(page, title)

    def _make_editor(self, opt: Option, page: QWidget) -> Editor:
        if opt.kind is Kind.TEXT:
            return TextEditor(opt, page)
        if opt.kind is Kind.DEVICES:
            return DevicesEditor(opt, page)
        if opt.kind is Kind.COLLEAGUES:
            return ColleaguesEditor(opt, page)
        if opt.kind is Kind.INT:
            return IntEditor(opt, page)
        if opt.kind is Kind.BOOL:
            return BoolEditor(opt, page)
        if opt.kind is Kind.CHOICE:
            labels = None
            if opt.name == "pbx.password_storage" and not self._keyring_available:
                labels = {
                    PASSWORD_STORAGE_KEYRING: translate(
                        "SettingsDialog", "System keyring (none on this computer)"
                    )
                }
            return ChoiceEditor(opt, page, labels)
        if opt.kind is Kind.DEVICE:
            return DeviceEditor(opt, page)
        if opt.kind is Kind.PATH:
            return PathEditor(
                opt,
                page,
                # `opt` is this call's own parameter, so the lambda needs no default to hold it.
                lambda: self._choose_file(
                    self,
                    opt.plain_label,
                    self._start_dir(self.editors[opt.name].raw_value()),
                    opt.file_filter,
                ),
            )
        if opt.kind is Kind.PATHS:
            return PathsEditor(
                opt,
                page,
                lambda: self._choose_files(
                    self, opt.plain_label, self._start_dir(""), opt.file_filter
                ),
            )
        raise AssertionError(f"no editor for {opt.kind}")

    def _add_option_row(self, page: QWidget, form: _Form, opt: Option) -> None:
        editor = self._make_editor(opt, page)
        self.editors[opt.name] = editor
        field = QWidget(page)
        column = QVBoxLayout(field)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(editor.widget)
        error = plain_label(QLabel(field))
        error.setObjectName(f"error-{opt.name}")
        error.setWordWrap(True)
        _coloured(error, _ERROR_COLOUR)
        error.hide()
        column.addWidget(error)
        warning = plain_label(QLabel(field))
        warning.setObjectName(f"warning-{opt.name}")
        warning.setWordWrap(True)
        _coloured(warning, _WARNING_COLOUR)
        warning.hide()
        column.addWidget(warning)
        help_label = QLabel(opt.help_text, field)
        help_label.setWordWrap(True)
        help_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        help_label.setObjectName(f"help-{opt.name}")
        # Muted, in the theme's own placeholder colour (works in dark themes too).
        _muted(help_label)
        column.addWidget(help_label)
        editor.focus_widget.setToolTip(opt.help_text)
        editor.focus_widget.setAccessibleName(opt.plain_label)
        editor.focus_widget.setAccessibleDescription(opt.help_text)
        self.error_labels[opt.name] = error
        self.warning_labels[opt.name] = warning
        if opt.kind is Kind.BOOL:
            form.add_row(None, field)
            self.rows[opt.name] = (field,)
        else:
            label = QLabel(opt.shown_label, page)
            label.setBuddy(editor.focus_widget)
            label.setObjectName(f"label-{opt.name}")
            form.add_row(label, field, editor.widget)
            self.rows[opt.name] = (label, field)

    def _add_password_row(self, page: QWidget, form: _Form, kind: str) -> None:
        field = QWidget(page)
        column = QVBoxLayout(field)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        edit = QLineEdit(field)
        edit.setObjectName("password" if kind == LINK_DIRECT else "brokerPassword")
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setPlaceholderText(
            translate("SettingsDialog", "stored: type to replace")
            if self._had[kind]
            else translate("SettingsDialog", "not stored")
        )
        edit.setAccessibleName(
            translate("SettingsDialog", "PBX password")
            if kind == LINK_DIRECT
            else translate("SettingsDialog", "Broker password")
        )
        column.addWidget(edit)
        # Without a stored password the app logs in with the factory one: the dialog says so
        # rather than leaving "not stored" to be guessed at.
        help_label = QLabel(field)
        help_label.setObjectName("help-password" if kind == LINK_DIRECT else "help-brokerPassword")
        help_label.setWordWrap(True)
        _muted(help_label)
        column.addWidget(help_label)
        label = QLabel(
            translate("SettingsDialog", "Pass&word")
            if kind == LINK_DIRECT
            else translate("SettingsDialog", "Broker passw&ord"),
            page,
        )
        label.setBuddy(edit)
        form.add_row(label, field, edit)
        self.password_edits[kind] = edit
        self.password_helps[kind] = help_label
        self.rows[_PASSWORD_CHANGED[kind]] = (label, field)
        if kind == LINK_DIRECT:
            self.password_edit, self.password_help = edit, help_label
        else:
            self.broker_password_edit, self.broker_password_help = edit, help_label

    def connection(self) -> str:
        """The way to the PBX chosen in the dialog now (LINK_DIRECT, LINK_GATEWAY)."""
        return self.editors["pbx.connection"].raw_value()

    def password_note(self, kind: str | None = None) -> str:
        """What the dialog says under a password (the chosen way's by default): what is used
        while none is stored."""
        kind = kind or self.connection()
        if self._had[kind] or self.password_edits[kind].text():
            return ""
        storage = (
            self.editors["pbx.password_storage"].raw_value()
            if "pbx.password_storage" in self.editors
            else self._settings.get("pbx.password_storage")
        )
        if storage == PASSWORD_STORAGE_NONE:
            return translate(
                "SettingsDialog", "None is stored: cstapopup asks for it at each start."
            )
        if kind == LINK_GATEWAY:
            return translate(
                "SettingsDialog",
                "None is stored: cstapopup logs in to the broker without a password.",
            )
        return translate(
            "SettingsDialog",
            "None is stored: cstapopup logs in with the HiPath "
            "factory password {password}. Type your PBX's password if it has "
            "another.",
        ).format(password=FACTORY_PASSWORD)

    def _update_password_note(self) -> None:
        for kind, help_label in self.password_helps.items():
            note = self.password_note(kind)
            help_label.setText(note)
            help_label.setVisible(bool(note))

    def _update_connection(self) -> None:
        """Show the fields of the chosen way to the PBX only."""
        kind = self.connection()
        for opt in OPTIONS:
            if opt.link is not None:
                for widget in self.rows[opt.name]:
                    widget.setVisible(opt.applies(kind))
        for other, name in _PASSWORD_CHANGED.items():
            for widget in self.rows[name]:
                widget.setVisible(other == kind)
        self.validate()

    def _add_test_row(self, page: QWidget, form: _Form) -> None:
        row = QWidget(page)
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 8, 0, 0)
        self.test_button = QPushButton(translate("SettingsDialog", "&Test connection"), row)
        self.test_button.setObjectName("testConnection")
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.run_connection_test)
        self.test_result = plain_label(QLabel(row))
        self.test_result.setObjectName("testResult")
        self.test_result.setAccessibleName(translate("SettingsDialog", "Result of the test"))
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        box.addWidget(self.test_result, 1)
        if self._test_connection is None:
            self.test_button.setEnabled(False)
            self.test_button.setToolTip(translate("SettingsDialog", "Not available in this build"))
        form.add_row(None, row)

    def _start_dir(self, current: str) -> str:
        if current:
            parent = Path(current).expanduser().parent
            if parent.is_dir():
                return str(parent)
        return str(Path.home())

    # -- live behaviour

    def _refresh_own_device_choices(self) -> None:
        monitor = self.editors["devices.monitor"]
        own = self.editors["devices.own"]
        assert isinstance(monitor, DevicesEditor) and isinstance(own, DeviceEditor)
        own.set_choices(monitor.devices())

    def _update_enabled(self) -> None:
        self.editors["pbx.ca_file"].widget.setEnabled(self.editors["pbx.tls"].raw_value())
        self.editors["popup.sound_file"].widget.setEnabled(self.editors["popup.sound"].raw_value())

    def collect(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(accepted values, error message per setting) for what the dialog shows now."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        connection = self.editors["pbx.connection"].raw_value()
        for name, editor in self.editors.items():
            if not editor.option.applies(connection):
                continue  # hidden: kept as saved, whatever was typed there
            try:
                values[name] = editor.option.validate(editor.raw_value())
            except SettingsError as exc:
                errors[name] = exc.reason
        candidate = self._settings.to_dict()
        candidate.update(values)
        for name, message in cross_problems(candidate):
            errors.setdefault(name, message)
        return values, errors

    def validate(self) -> bool:
        """Show each problem under its field; OK is enabled only when there is none."""
        _values, errors = self.collect()
        for name, label in self.error_labels.items():
            message = _sentence(errors.get(name, ""))
            label.setText(message)
            label.setVisible(bool(message))
            editor = self.editors[name]
            editor.focus_widget.setAccessibleDescription(message or editor.option.help_text)
            warning = "" if message else _sentence(editor.warning())
            self.warning_labels[name].setText(warning)
            self.warning_labels[name].setVisible(bool(warning))
        warn_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        bad_sections = []
        for index, section in enumerate(SECTIONS):
            bad = any(option(n).page == section for n in errors)
            self.tabs.setTabIcon(index, warn_icon if bad else QIcon())
            if bad:
                bad_sections.append(section_title(section))
        if errors:
            count = len(errors)
            self.summary.setText(
                translate("SettingsDialog", "{count} ({sections}).").format(
                    count=texts.count("values need attention", count),
                    sections=", ".join(bad_sections),
                )
            )
        self.summary.setVisible(bool(errors))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not errors)
        return not errors

    # -- test connection

    def connection_parameters(self) -> LinkParameters | None:
        """The chosen way's parameters as the dialog shows them now (None: not valid)."""
        values, errors = self.collect()
        kind = self.connection()
        password = self.password_edits[kind].text() or self._stores[kind].get()
        if kind == LINK_GATEWAY:
            if any(
                n in errors
                for n in ("gateway.broker", "gateway.user", "gateway.ca_file", "gateway.site")
            ):
                return None
            return GatewayParameters(
                broker=values["gateway.broker"],
                user=values["gateway.user"],
                password=password,
                ca_file=values["gateway.ca_file"],
                site=values["gateway.site"],
            )
        if any(n in errors for n in ("pbx.host", "pbx.port", "pbx.user", "pbx.ca_file")):
            return None
        return ConnectionParameters(
            host=values["pbx.host"],
            port=values["pbx.port"],
            user=values["pbx.user"],
            password=password,
            tls=values["pbx.tls"],
            ca_file=values["pbx.ca_file"] if values["pbx.tls"] else "",
        )

    def run_connection_test(self) -> None:
        if self._test_connection is None:
            return
        params = self.connection_parameters()
        if params is None or not (
            params.broker if isinstance(params, GatewayParameters) else params.host
        ):
            self._show_test_result(
                translate("SettingsDialog", "Enter a valid broker address, user and site first.")
                if self.connection() == LINK_GATEWAY
                else translate("SettingsDialog", "Enter a valid host, port and user first."),
                ok=False,
            )
            return
        try:
            result = self._test_connection(params)
        except Exception as exc:  # noqa: BLE001 - a failing test is a result, not a crash
            log.info("connection test failed: %s", exc)
            self._show_test_result(_test_failed(exc), ok=False)
            return
        if inspect.isawaitable(result):
            self.test_button.setEnabled(False)
            self._show_test_result(translate("SettingsDialog", "Testing…"), ok=None)
            self._test_future = asyncio.ensure_future(result)
            self._test_future.add_done_callback(self._on_test_done)
        else:
            self._show_test_result(str(result), ok=None)

    def _on_test_done(self, future: asyncio.Future[Any]) -> None:
        self._test_future = None
        try:
            message, ok = str(future.result()), None
        except asyncio.CancelledError:
            message, ok = translate("SettingsDialog", "Test cancelled."), False
        except Exception as exc:  # noqa: BLE001 - as above
            message, ok = _test_failed(exc), False
        try:
            self.test_button.setEnabled(True)
            self._show_test_result(message, ok=ok)
        except RuntimeError:
            pass  # the dialog was closed while the test ran

    def _show_test_result(self, message: str, *, ok: bool | None) -> None:
        self.test_result.setText(message)
        if ok is False:
            _coloured(self.test_result, _ERROR_COLOUR)
        else:
            self.test_result.setPalette(self.palette())

    # -- OK

    def accept(self) -> None:
        if self.apply():
            super().accept()

    def reject(self) -> None:
        if self._test_future is not None:
            self._test_future.cancel()
        super().reject()

    def apply(self) -> bool:
        """Validate, keep the password as chosen, update and save the settings.

        Returns False (and the dialog stays open) when something is wrong or the user declined
        to keep the password in plain text after choosing that.  The password typed is the
        chosen way's (the PBX's, or the broker's); the other way's stored password follows a
        change of where passwords are kept.
        """
        if not self.validate():
            return False
        values, _errors = self.collect()
        settings = self._settings
        kind = values["pbx.connection"]
        typed = self.password_edits[kind].text()
        old_storage = settings.get("pbx.password_storage")
        old_accounts = {k: store.account for k, store in self._stores.items()}
        old_passwords = {k: store.get() for k, store in self._stores.items()}
        password = typed or old_passwords[kind]
        storage = values["pbx.password_storage"]
        # The passwords kept where `storage` says, once this is applied: the one typed, and
        # the other way's, which moves along when the place changes.
        kept = [k for k in self._stores if (password if k == kind else old_passwords[k])]
        password = password or (old_passwords[kept[0]] if kept else None)

        if password and storage == PASSWORD_STORAGE_KEYRING and not self._keyring_available:
            message = _no_keyring_question(kept or [kind]).format(file=settings.path)
            storage = (
                PASSWORD_STORAGE_PLAINTEXT
                if self._ask_plaintext(self, message)
                else PASSWORD_STORAGE_NONE
            )
            values["pbx.password_storage"] = storage
            self.editors["pbx.password_storage"].set_value(storage)
        elif password and storage == PASSWORD_STORAGE_PLAINTEXT and old_storage != storage:
            message = _plaintext_question(kept or [kind]).format(file=settings.path)
            if not self._ask_plaintext(self, message):
                return False

        snapshot = settings.snapshot()
        try:
            changed = settings.update(values)
        except SettingsError as exc:
            self._show_error(self, str(exc))
            return False
        password_changed = bool(typed) and typed != old_passwords[kind]
        try:
            for k, store in self._stores.items():
                stored = (typed or old_passwords[k]) if k == kind else old_passwords[k]
                if stored and (
                    (k == kind and password_changed)
                    or storage != old_storage
                    or store.account != old_accounts[k]
                ):
                    store.set(stored)
                elif storage != PASSWORD_STORAGE_PLAINTEXT:
                    settings.set_plaintext_password(k, None)
                if (
                    old_storage == PASSWORD_STORAGE_KEYRING
                    and old_passwords[k] is not None
                    and (storage != PASSWORD_STORAGE_KEYRING or store.account != old_accounts[k])
                ):
                    store.forget(old_accounts[k])
        except PasswordStoreError as exc:
            settings.restore(snapshot)
            self._show_error(
                self,
                translate("SettingsDialog", "The password was not stored: {problem}").format(
                    problem=exc
                ),
            )
            return False
        try:
            settings.save()
        except OSError as exc:
            self._show_error(
                self,
                translate("SettingsDialog", "Could not save {file}: {problem}").format(
                    file=settings.path, problem=exc.strerror or exc
                ),
            )
            return False
        self.password_entered = typed or None
        if password_changed:
            changed.append(_PASSWORD_CHANGED[kind])
        for edit in self.password_edits.values():
            edit.clear()
        self.settings_applied.emit(changed)
        return True


def _test_failed(exc: BaseException) -> str:
    return translate("SettingsDialog", "Test failed: {problem}").format(problem=exc)


# The questions before a password is kept in plain text, whole sentences for each set of
# passwords concerned (the PBX's, the broker's, or both), so that a translation need not build
# them from pieces; {file} is filled in by the caller.


def _no_keyring_question(kinds: list[str]) -> str:
    if len(kinds) > 1:
        return translate(
            "SettingsDialog",
            "There is no system keyring on this computer to keep the PBX "
            "password and the broker password safely.\n\nKeep them in plain text in {file}? "
            "Only your user account can read that file, but anyone with access to your account "
            "or its backups can.\n\nIf not, cstapopup asks for the passwords each time it "
            "starts.",
        )
    if kinds[0] == LINK_GATEWAY:
        return translate(
            "SettingsDialog",
            "There is no system keyring on this computer to keep the broker "
            "password safely.\n\nKeep it in plain text in {file}? Only your user account can "
            "read that file, but anyone with access to your account or its backups can.\n\nIf "
            "not, cstapopup asks for the password each time it starts.",
        )
    return translate(
        "SettingsDialog",
        "There is no system keyring on this computer to keep the PBX "
        "password safely.\n\nKeep it in plain text in {file}? Only your user account "
        "can read that file, but anyone with access to your account or its backups "
        "can.\n\nIf not, cstapopup asks for the password each time it starts.",
    )


def _plaintext_question(kinds: list[str]) -> str:
    if len(kinds) > 1:
        return translate(
            "SettingsDialog",
            "Keep the PBX password and the broker password in plain text in "
            "{file}?\n\nOnly your user account can read that file, but anyone with access to "
            "your account or its backups can.",
        )
    if kinds[0] == LINK_GATEWAY:
        return translate(
            "SettingsDialog",
            "Keep the broker password in plain text in {file}?\n\nOnly your "
            "user account can read that file, but anyone with access to your account or its "
            "backups can.",
        )
    return translate(
        "SettingsDialog",
        "Keep the PBX password in plain text in {file}?\n\nOnly your "
        "user account can read that file, but anyone with access to your account or its "
        "backups can.",
    )
