"""The history window: a lazily loaded table over the history store, with search and filters.

`CallTableModel` is a QAbstractTableModel that fetches pages from the store as the view
scrolls (keyset paging, never all rows at once) and takes live changes (`call_changed`) in
place.  `HistoryWindow` adds the search field (filters as you type), the direction / missed
filters, the context menu and keys (call back, copy number, phone note, mark done, delete),
calls with a phone note marked in their own column (the note in the tooltip), export, a
banner while calls are not being saved, and a status bar with the link state (it is the app's
main window where there is no system tray).  Times and dates are shown in the user's locale
(`QLocale()`, set with the language).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QDateTime,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTime,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cstapopup.calls import texts
from cstapopup.calls.model import Call, Direction
from cstapopup.calls.store import HistoryError, HistoryFilter, HistoryStore
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate

from . import icons
from .palette import readable
from .plain import plain_label, plain_tooltip
from .shortcuts import BY_COMMAND, tip

log = logging.getLogger(__name__)

PAGE = 200
#: Rows the table keeps loaded as new calls come in on top; the oldest loaded ones beyond go
#: (scrolling fetches them again), so a flood of calls cannot fill the memory with rows.
LIVE_ROWS = 5 * PAGE

COLUMNS = (
    QT_TRANSLATE_NOOP("History", "Time"),
    QT_TRANSLATE_NOOP("History", "Direction"),
    QT_TRANSLATE_NOOP("History", "Name"),
    QT_TRANSLATE_NOOP("History", "Number"),
    QT_TRANSLATE_NOOP("History", "Device"),
    QT_TRANSLATE_NOOP("History", "Duration"),
    QT_TRANSLATE_NOOP("History", "Outcome"),
    QT_TRANSLATE_NOOP("History", "Note"),
)
#: Columns whose text may be longer than the column: their tooltip starts with all of it.
_CUT_COLUMNS = frozenset({2, 3, 4, 6, 7})
#: The column that marks calls with a phone note.
NOTE_COLUMN = 7

#: The window's title; Qt adds the application's name ("Call history — cstapopup").
TITLE = QT_TRANSLATE_NOOP("History", "Call history")
#: The missed calls not dealt with: this red (made readable on the table's background), in
#: bold, with the missed-call icon and "missed" in the outcome column.
MISSED_COLOUR = "#b3261e"


def format_duration(seconds: float | None) -> str:
    return "" if seconds is None else texts.clock(seconds)


def _qt(t: datetime) -> QDateTime:
    """A datetime as the local QDateTime it shows as."""
    local = t.astimezone()
    return QDateTime(
        QDate(local.year, local.month, local.day), QTime(local.hour, local.minute, local.second)
    )


def format_time(t: datetime, now: datetime | None = None) -> str:
    """When a call was, as short as the locale writes it: the time today, the weekday and
    time within a week, else the date and time ("08:05", "Mo. 08:05", "02.03.26 08:05")."""
    locale = QLocale()
    local = t.astimezone()
    now = (now or datetime.now(UTC)).astimezone()
    time = locale.toString(_qt(t).time(), QLocale.FormatType.ShortFormat)
    if local.date() == now.date():
        return time
    if (now.date() - local.date()).days < 7:
        day = locale.dayName(local.isoweekday(), QLocale.FormatType.ShortFormat)
        return f"{day} {time}"
    return locale.toString(_qt(t), QLocale.FormatType.ShortFormat)


def format_moment(t: datetime) -> str:
    """When exactly a call began, for its tooltip: the long date and the time with seconds."""
    locale = QLocale()
    moment = _qt(t)
    return translate("History", "{date}, {time}").format(
        date=locale.toString(moment.date(), QLocale.FormatType.LongFormat),
        time=locale.toString(moment.time(), "HH:mm:ss"),
    )


def outcome_text(call: Call, display: Callable[[str], str] | None = None) -> str:
    """The Outcome column (calls.texts.outcome_text: the `history` command says the same)."""
    return texts.outcome_text(call, display)


def remote_text(call: Call, display: Callable[[str], str] | None = None) -> str:
    return texts.remote_text(call, display)


def dialable(text: str) -> str:
    """A number as shown ("089 1234567") without its spaces and punctuation."""
    return "".join(c for c in text if c.isdigit() or c in "+*#")


class CallTableModel(QAbstractTableModel):
    """Calls newest first, fetched page by page from the store."""

    error = Signal(str)

    def __init__(
        self,
        store: HistoryStore,
        parent: Any = None,
        *,
        display_number: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        #: How numbers are shown ("089 1234567" for "00891234567"); None: as the PBX gave them.
        self.display_number = display_number
        self.filters = HistoryFilter()
        self._calls: list[Call] = []
        self._rows: dict[str, int] = {}
        self._exhausted = False
        self.total = 0
        #: The missed calls' colour, readable on the table's background (see set_background).
        self.missed_colour = QColor(MISSED_COLOUR)

    def set_background(self, background: QColor) -> None:
        """The table's background: the missed calls' red is made readable on it."""
        self.missed_colour = readable(QColor(MISSED_COLOUR), background)

    # Loading -------------------------------------------------------------------------------

    def set_filters(self, filters: HistoryFilter) -> None:
        self.filters = filters
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._calls, self._rows, self._exhausted = [], {}, False
        try:
            self._append(self.store.query(self.filters, limit=PAGE))
            self.total = self.store.count(self.filters)
        except HistoryError as exc:
            self._exhausted = True
            self.error.emit(str(exc))
        self.endResetModel()

    def _append(self, calls: list[Call]) -> None:
        if len(calls) < PAGE:
            self._exhausted = True
        for call in calls:
            if call.key in self._rows:
                continue
            self._rows[call.key] = len(self._calls)
            self._calls.append(call)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if parent.isValid() or self._exhausted or not self._calls:
            return
        try:
            more = self.store.query(self.filters, limit=PAGE, before=self._calls[-1])
        except HistoryError as exc:
            self._exhausted = True
            self.error.emit(str(exc))
            return
        fresh = [c for c in more if c.key not in self._rows]
        if not fresh:
            self._exhausted = len(more) < PAGE
            if not more:
                self._exhausted = True
            return
        first = len(self._calls)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        self._append(fresh)
        if len(more) < PAGE:
            self._exhausted = True
        self.endInsertRows()

    # Live changes --------------------------------------------------------------------------

    def call_changed(self, call: Call) -> None:
        row = self._rows.get(call.key)
        if row is not None:
            if self.store.matches(call, self.filters):
                self._calls[row] = call
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            else:
                self._remove_row(row)
            return
        if not self.store.matches(call, self.filters):
            return
        # New calls are the newest: they go on top.  (A call that started before the loaded
        # page's end but arrives late is placed by time.)
        pos = 0
        while pos < len(self._calls) and self._calls[pos].started_at > call.started_at:
            pos += 1
        if pos == len(self._calls) and not self._exhausted:
            return  # it belongs to a page not fetched yet
        self.beginInsertRows(QModelIndex(), pos, pos)
        self._calls.insert(pos, call)
        self._reindex(pos)
        self.total += 1
        self.endInsertRows()
        if len(self._calls) > LIVE_ROWS:
            self._unload_from(LIVE_ROWS)

    def _unload_from(self, row: int) -> None:
        """Let go of the loaded rows from `row` on (they are still in the store)."""
        self.beginRemoveRows(QModelIndex(), row, len(self._calls) - 1)
        for call in self._calls[row:]:
            del self._rows[call.key]
        del self._calls[row:]
        self._exhausted = False
        self.endRemoveRows()

    def call_deleted(self, key: str) -> None:
        row = self._rows.get(key)
        if row is not None:
            self._remove_row(row)

    def _remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._calls[row]
        self._rows = {}
        self._reindex(0)
        self.total = max(0, self.total - 1)
        self.endRemoveRows()

    def _reindex(self, start: int) -> None:
        for i in range(start, len(self._calls)):
            self._rows[self._calls[i].key] = i

    def call_at(self, row: int) -> Call | None:
        return self._calls[row] if 0 <= row < len(self._calls) else None

    @property
    def loaded(self) -> int:
        return len(self._calls)

    # Qt model API --------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._calls)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return translate("History", COLUMNS[section])
        return None

    def cell_text(self, call: Call, col: int) -> str:
        """What column `col` shows for `call` (every number as the app shows numbers)."""
        if col == 0:
            return format_time(call.started_at)
        if col == 1:
            return texts.direction_text(call.direction.value)
        if col == 2:
            return texts.name_text(call)
        if col == 3:
            return remote_text(call, self.display_number)
        if col == 4:
            return ", ".join(texts.party(d, self.display_number) for d in call.local_devices)
        if col == 5:
            return format_duration(call.talk_seconds)
        if col == 6:
            return outcome_text(call, self.display_number)
        if col == NOTE_COLUMN:
            return texts.note_cell(call.note) if call.note is not None else ""
        return ""

    def tooltip(self, call: Call, col: int) -> str:
        """A cell's tooltip: its whole text first (the column may cut it short), then the
        call's details: when, how long it rang and talked, the way it went."""
        when = format_moment(call.started_at)
        ring = format_duration(call.ring_seconds) or "-"
        talk = format_duration(call.talk_seconds) or "-"
        lines = [
            when,
            translate("History", "rang {ring}, talked {talk}").format(ring=ring, talk=talk),
            texts.hops_text(call, self.display_number),
        ]
        if call.note is not None:
            lines.append(texts.note_summary(call.note))
        details = "\n".join(lines)
        cell = self.cell_text(call, col) if col in _CUT_COLUMNS and col != NOTE_COLUMN else ""
        return f"{cell}\n{details}" if cell else details

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        call = self._calls[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell_text(call, col)
        elif role == Qt.ItemDataRole.DecorationRole and col == 1:
            try:
                return icons.history_icon(call)
            except Exception:  # noqa: BLE001 - a missing icon must not break the table
                return None
        elif (
            role == Qt.ItemDataRole.DecorationRole and col == NOTE_COLUMN and call.note is not None
        ):
            try:
                return icons.icon("note")
            except Exception:  # noqa: BLE001 - a missing icon must not break the table
                return None
        elif role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(self.tooltip(call, col))
        elif role == Qt.ItemDataRole.ForegroundRole and call.is_missed and not call.done:
            return QBrush(self.missed_colour)
        elif role == Qt.ItemDataRole.FontRole and call.is_missed and not call.done:
            f = QFont()
            f.setBold(True)
            return f
        elif role == Qt.ItemDataRole.AccessibleTextRole:
            caller = ", ".join(
                t for t in (texts.name_text(call), remote_text(call, self.display_number)) if t
            )
            text = translate("History", "{direction} call, {time}, {caller}: {outcome}").format(
                direction=texts.direction_text(call.direction.value),
                time=format_time(call.started_at),
                caller=caller,
                outcome=outcome_text(call, self.display_number),
            )
            if call.note is not None:
                text = translate("History", "{call}. {note}").format(
                    call=text, note=texts.note_summary(call.note).replace("\n", ": ", 1)
                )
            return text
        return None


class HistoryWindow(QMainWindow):
    """The history: search, filters, the table, and what can be done with a call.

    Signals: `call_back_requested(number)`, `note_requested(call_key)` (a phone note about the
    chosen call), `status_message(text)` (also shown in the status bar), `history_changed()`
    (the user marked calls done or deleted some: the badge changes).
    """

    call_back_requested = Signal(str)  # the number to call
    note_requested = Signal(str)  # the call's key
    status_message = Signal(str)
    history_changed = Signal()

    #: Where there is no tray this window is the app: closing it minimises it instead of
    #: leaving an invisible app behind (the menu's Quit ends the app).
    minimize_on_close = False

    FILTERS = (
        (QT_TRANSLATE_NOOP("History", "All"), None),
        (QT_TRANSLATE_NOOP("History", "Missed"), "missed"),
        (QT_TRANSLATE_NOOP("History", "Incoming"), Direction.INCOMING),
        (QT_TRANSLATE_NOOP("History", "Outgoing"), Direction.OUTGOING),
        (QT_TRANSLATE_NOOP("History", "Internal"), Direction.INTERNAL),
        (QT_TRANSLATE_NOOP("History", "Notes"), "noted"),
    )

    def __init__(
        self,
        store: HistoryStore,
        *,
        can_call_back: Callable[[], bool] = lambda: True,
        display_number: Callable[[str], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._can_call_back = can_call_back
        self.setWindowTitle(translate("History", TITLE))
        self.setWindowIcon(icons.app_icon())
        self.model = CallTableModel(store, self, display_number=display_number)
        self.model.error.connect(self._show_error)

        central = QWidget(self)
        layout = QVBoxLayout(central)
        # Above everything while calls are not being saved (or some were lost): the window
        # must not look as usual then.
        self.health_banner = plain_label(QLabel(central))
        self.health_banner.setObjectName("historyHealth")
        self.health_banner.setWordWrap(True)
        self.health_banner.setAccessibleName(translate("History", "Call history problem"))
        self.health_banner.setStyleSheet(
            "QLabel#historyHealth { background: #fff3cd; color: #5c4400; "
            "border: 1px solid #e0b100; border-radius: 3px; padding: 6px; }"
        )
        self.health_banner.hide()
        layout.addWidget(self.health_banner)
        top = QHBoxLayout()
        self.search = QLineEdit(central)
        self.search.setPlaceholderText(
            translate("History", "Search name, company, number or note  (Ctrl+F)")
        )
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(translate("History", "Search calls"))
        self.search.setAccessibleDescription(self.search.placeholderText())
        top.addWidget(self.search, 1)
        self.filter_group = QButtonGroup(self)
        self.filter_group.setExclusive(True)
        for i, (label, _) in enumerate(self.FILTERS):
            b = QPushButton(translate("History", label), central)
            b.setObjectName(f"filter-{i}")
            b.setAccessibleDescription(translate("History", "Show only these calls"))
            b.setCheckable(True)
            b.setChecked(i == 0)
            self.filter_group.addButton(b, i)
            top.addWidget(b)
        self.export_button = QPushButton(translate("History", "Export CSV…"), central)
        self.export_button.setAccessibleDescription(
            translate("History", "Save the calls shown as a CSV file")
        )
        top.addWidget(self.export_button)
        layout.addLayout(top)

        self.table = QTableView(central)
        self.table.setObjectName("calls")
        self.table.setAccessibleName(translate("History", "Calls"))
        self.table.setAccessibleDescription(
            translate(
                "History",
                "Enter calls back, Ctrl+N writes a phone note, Ctrl+C copies the number, "
                "Ctrl+D marks done, Delete deletes",
            )
        )
        self.table.setModel(self.model)
        self.model.set_background(self.table.palette().color(QPalette.ColorRole.Base))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.table.horizontalHeader()
        header.setAccessibleName(translate("History", "Columns"))
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # The name (with the company) gets the spare width; the outcome has its own room.
        header.setStretchLastSection(False)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self._fit_columns()
        layout.addWidget(self.table, 1)
        # An empty table says why: no calls at all yet, or none that match.
        self.empty_label = plain_label(QLabel(self.table.viewport()))
        self.empty_label.setObjectName("emptyHistory")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        # Muted, in the theme's placeholder colour; on the table's base a label draws in its
        # Text colour, so that is the one set.
        palette = self.empty_label.palette()
        muted = readable(
            palette.color(QPalette.ColorRole.PlaceholderText),
            self.table.palette().color(QPalette.ColorRole.Base),
        )
        palette.setColor(QPalette.ColorRole.WindowText, muted)
        palette.setColor(QPalette.ColorRole.Text, muted)
        self.empty_label.setPalette(palette)
        empty_layout = QVBoxLayout(self.table.viewport())
        empty_layout.addWidget(self.empty_label)
        self.empty_label.hide()
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            signal.connect(self._update_empty)
        self.summary = QLabel(central)
        self.summary.setObjectName("summary")
        self.summary.setAccessibleName(translate("History", "Summary"))
        layout.addWidget(self.summary)
        self.setCentralWidget(central)
        self.link_label = plain_label(QLabel(self))
        self.link_label.setObjectName("linkStatus")
        self.link_label.setAccessibleName(translate("History", "Connection to the PBX"))
        self.statusBar().addPermanentWidget(self.link_label)
        self.status_message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.app_menu: QMenu | None = None
        self.resize(900, 520)

        # The summary (a count query) at most every 250 ms while calls stream in.
        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(250)
        self._summary_timer.timeout.connect(self._update_summary)

        # Search filters as you type, after a short pause (no query per keystroke).
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(180)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.filter_group.idClicked.connect(lambda _i: self.apply_filters())
        self.export_button.clicked.connect(self.export_csv_dialog)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(lambda idx: self.call_back(idx.row()))

        self._actions()
        self.apply_filters()

    #: The columns' widths at the font the app was made for (the name column stretches).
    COLUMN_WIDTHS = (80, 105, 260, 140, 80, 70, 170, 150)

    def _fit_columns(self) -> None:
        """Wide enough for the column's header and for the longest of its usual texts in the
        language and the font in use (dates and words are longer in German, fonts larger on
        some screens): nothing the user reads every day ends in "…"."""
        metrics = self.table.fontMetrics()
        bold = QFont(self.table.font())
        bold.setBold(True)  # missed calls are bold
        bold_metrics = QFontMetrics(bold)
        header_metrics = self.table.horizontalHeader().fontMetrics()
        past = datetime.now(UTC) - timedelta(days=400)
        samples = {
            0: [
                format_time(past.replace(month=12, day=28, hour=23, minute=58)),
                format_time(datetime.now(UTC) - timedelta(days=3)),
            ],
            1: [texts.direction_text(d.value) for d in Direction],
            5: ["10:59:59"],
        }
        icon = self.table.iconSize().width() if self.table.iconSize().isValid() else 16
        for col, width in enumerate(self.COLUMN_WIDTHS):
            needed = header_metrics.horizontalAdvance(translate("History", COLUMNS[col])) + 28
            for text in samples.get(col, []):
                needed = max(
                    needed,
                    bold_metrics.horizontalAdvance(text) + 16 + (icon + 8 if col == 1 else 0),
                )
            self.table.setColumnWidth(col, max(width, needed, metrics.averageCharWidth() * 4))

    def _actions(self) -> None:
        def add(
            text: str, keys: QKeySequence | QKeySequence.StandardKey | str, slot: Callable[[], None]
        ) -> QAction:
            a = QAction(text, self)
            a.setShortcut(QKeySequence(keys))
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.table.addAction(a)
            return a

        self.act_call_back = add(
            translate("History", "Call back"), "Return", lambda: self.call_back(self._current_row())
        )
        self.act_copy = add(
            translate("History", "Copy number"), QKeySequence.StandardKey.Copy, self.copy_numbers
        )
        note_keys = BY_COMMAND["note"]
        self.act_note = add(translate("History", "Phone note…"), note_keys.keys[0], self.write_note)
        self.act_note.setToolTip(tip(translate("History", "Phone note…"), "note"))
        self.act_done = add(translate("History", "Mark done"), "Ctrl+D", self.mark_done)
        self.act_delete = add(
            translate("History", "Delete"), QKeySequence.StandardKey.Delete, self.delete_selected
        )
        find = QAction(self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self._focus_search)
        self.addAction(find)
        # Esc and Ctrl+W close the window (the app stays in the tray).  Esc in the search
        # field clears the search first.
        self.act_close = QAction(translate("History", "Close"), self)
        keys = [
            QKeySequence(Qt.Key.Key_Escape),
            QKeySequence("Ctrl+W"),
            *QKeySequence.keyBindings(QKeySequence.StandardKey.Close),
        ]
        self.act_close.setShortcuts(
            list({k.toString(): k for k in keys if not k.isEmpty()}.values())
        )
        self.act_close.triggered.connect(self._escape)
        self.addAction(self.act_close)

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _escape(self) -> None:
        if self.search.hasFocus() and self.search.text():
            self.search.clear()
            return
        self.close()

    # Filters --------------------------------------------------------------------------------

    def current_filters(self) -> HistoryFilter:
        kind = self.FILTERS[max(0, self.filter_group.checkedId())][1]
        text = self.search.text().strip() or None
        if kind == "missed":
            return HistoryFilter(text=text, missed=True)
        if kind == "noted":
            return HistoryFilter(text=text, noted=True)
        assert kind is None or isinstance(kind, Direction)  # the FILTERS left: all, a direction
        return HistoryFilter(text=text, direction=kind)

    def apply_filters(self) -> None:
        self.model.set_filters(self.current_filters())
        self._update_summary()

    def empty_text(self) -> str:
        """What the table says when it shows no call ("" when it shows some)."""
        if self.model.rowCount() > 0:
            return ""
        filters = self.model.filters
        history_empty = True
        if filters != HistoryFilter():
            try:
                history_empty = self.store.count(HistoryFilter()) == 0
            except HistoryError:
                history_empty = False
        kind = self.FILTERS[max(0, self.filter_group.checkedId())][1]
        return texts.empty_history_text(
            history_empty=history_empty,
            search=filters.text,
            kind=kind.value if isinstance(kind, Direction) else kind,
        )

    def _update_empty(self, *_: Any) -> None:
        text = self.empty_text()
        self.empty_label.setText(text)
        self.empty_label.setVisible(bool(text))

    def _update_summary(self) -> None:
        try:
            missed = self.store.badge_count()
        except HistoryError:
            missed = 0
        self.summary.setText(
            texts.count("calls", self.model.total)
            + (" · " + texts.count("missed, not done", missed) if missed else "")
        )

    # Live ---------------------------------------------------------------------------------

    def call_changed(self, call: Call) -> None:
        self.model.call_changed(call)
        if not self._summary_timer.isActive():
            self._summary_timer.start()

    def call_deleted(self, key: str) -> None:
        self.model.call_deleted(key)
        if not self._summary_timer.isActive():
            self._summary_timer.start()

    def set_store(self, store: HistoryStore) -> None:
        """Show another history (the app switched to or from the demo)."""
        self.store = store
        self.model.store = store
        self.apply_filters()

    # The app around it ---------------------------------------------------------------------

    def set_link_status(self, text: str, *, note: str = "", detail: str = "") -> None:
        """The link line of the status bar; `note` and the technical `detail` in its tooltip."""
        self.link_label.setText(text)
        details = texts.link_details(note, detail)
        self.link_label.setToolTip(plain_tooltip(details) if details else "")

    def set_history_problem(self, text: str | None) -> None:
        """The banner: why calls are not being saved (None: hidden, all is well)."""
        self.health_banner.setText(text or "")
        self.health_banner.setVisible(bool(text))

    def add_app_menu(self, actions: list[QAction | None]) -> QMenu:
        """A menu with the app's commands (None: a separator), for desktops without a tray."""
        if self.app_menu is None:
            self.app_menu = self.menuBar().addMenu("&cstapopup")
        for action in actions:
            if action is None:
                self.app_menu.addSeparator()
            else:
                self.app_menu.addAction(action)
        return self.app_menu

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.minimize_on_close:
            event.ignore()
            self.showMinimized()
            self.status_message.emit(
                translate("History", "cstapopup keeps running; quit from the cstapopup menu.")
            )
            return
        super().closeEvent(event)

    # Actions -------------------------------------------------------------------------------

    def _current_row(self) -> int:
        idx = self.table.currentIndex()
        return idx.row() if idx.isValid() else -1

    def _selected_calls(self) -> list[Call]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        if not rows and self._current_row() >= 0:
            rows = [self._current_row()]
        return [c for c in (self.model.call_at(r) for r in rows) if c is not None]

    def call_back(self, row: int) -> None:
        call = self.model.call_at(row)
        if call is None or call.remote_kind != "number" or not call.remote_number:
            self.status_message.emit(translate("History", "This call has no number to call back."))
            return
        if not self._can_call_back():
            self.status_message.emit(
                translate("History", "Set your own device in the settings to call back.")
            )
            return
        self.call_back_requested.emit(call.remote_number)

    def copy_numbers(self) -> None:
        """The selected calls' numbers, as dialled from outside the PBX (the trunk digit the
        PBX puts in front is gone when numbers are shown formatted)."""
        display = self.model.display_number
        numbers = [
            dialable(display(c.remote_number)) if display else c.remote_number
            for c in self._selected_calls()
            if c.remote_number and c.remote_kind == "number"
        ]
        if numbers:
            QGuiApplication.clipboard().setText("\n".join(numbers))
            self.status_message.emit(
                texts.count("copied", len(numbers), first=numbers[0], others=len(numbers) - 1)
            )

    def write_note(self) -> None:
        """A phone note about the chosen call (the app opens the dialog)."""
        call = self.model.call_at(self._current_row())
        if call is None:
            self.status_message.emit(translate("History", "Choose a call to write a note about."))
            return
        self.note_requested.emit(call.key)

    def mark_done(self) -> None:
        for call in self._selected_calls():
            try:
                self.store.mark_done(call.key, not call.done)
            except HistoryError as exc:
                self._show_error(str(exc))
                return
            self.model.call_changed(replace(call, done=not call.done))
        self._update_summary()
        self.history_changed.emit()

    def delete_selected(self) -> None:
        calls = self._selected_calls()
        if not calls:
            return
        if self.confirm(texts.count("delete calls", len(calls))) is False:
            return
        for call in calls:
            try:
                self.store.delete(call.key)
            except HistoryError as exc:
                self._show_error(str(exc))
                return
            self.model.call_deleted(call.key)
        self._update_summary()
        self.history_changed.emit()

    def confirm(self, question: str) -> bool:
        """Asks the user; tests replace it."""
        return (
            QMessageBox.question(self, translate("History", "Delete from the history"), question)
            == QMessageBox.StandardButton.Yes
        )

    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            translate("History", "Export calls"),
            translate("History", "calls.csv"),
            translate("History", "CSV files (*.csv)"),
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> int:
        try:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                self.store.export_csv(fh, self.current_filters())
        except (OSError, HistoryError) as exc:
            self._show_error(translate("History", "Export failed: {problem}").format(problem=exc))
            return 1
        self.status_message.emit(translate("History", "Exported to {file}").format(file=path))
        return 0

    def _context_menu(self, pos: Any) -> None:
        idx = self.table.indexAt(pos)
        if not idx.isValid():
            return
        menu = QMenu(self)
        for a in (self.act_call_back, self.act_note, self.act_copy, self.act_done, self.act_delete):
            menu.addAction(a)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _show_error(self, message: str) -> None:
        log.error("history: %s", message)
        self.status_message.emit(message)
        self.summary.setText(message)
