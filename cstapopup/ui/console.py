"""The receptionist's console: the own phone's calls, the colleagues' lamps (busy lamp field)
with a type-ahead filter, and every action on the keyboard.

It renders the desk's values (`OwnLineView`, `ColleagueView`) and sends intents up as
`action_requested(action, colleague, call_key)`: the desk decides which CSTA service each one
takes.  Keys come from `ui.shortcuts` (the one table; the help overlay, F1 or ?, lists it).
A call is also put through by dragging it (a popup, or the own line) onto a colleague.
Focus stays where the receptionist works: typing goes to the search, Up/Down choose a
colleague, Enter puts the call through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QHideEvent,
    QIcon,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from cstapopup.calls import texts
from cstapopup.calls.views import CallAction, ColleagueView, LineState, OwnLineView, elapsed_text
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate
from cstapopup.ui import icons
from cstapopup.ui.flow import FlowLayout
from cstapopup.ui.palette import contrast, readable
from cstapopup.ui.plain import plain_label, plain_tooltip
from cstapopup.ui.popup import MIME_CALL, call_drag
from cstapopup.ui.shortcuts import BY_COMMAND, SHORTCUTS, of_scope, tip

#: The lamps' colours (ColleagueView.lamp).
LAMP_COLOURS = {
    "free": "#2e9d4a",
    "ringing": "#e6a100",
    "busy": "#c62828",
    "held": "#ef6c00",
    "away": "#7b5ea7",
    "off": "#9aa3aa",
}
ViewRole = Qt.ItemDataRole.UserRole + 1


#: Pixel ratios the lamp icons are drawn for: sharp at 100 %, 150 %, 200 % and 300 %.
LAMP_RATIOS = (1.0, 1.5, 2.0, 3.0)
#: A lamp's outline stands out from the background at least this much (WCAG 2, non-text).
LAMP_CONTRAST = 3.0


def lamp_outline(lamp: str, background: QColor) -> QColor:
    """The colour of a lamp's ring: a darker shade of the lamp's, as far as it takes to stand
    out from `background` (a dark theme gets a lighter one)."""
    colour = QColor(LAMP_COLOURS.get(lamp, LAMP_COLOURS["off"]))
    return readable(colour.darker(130), background, LAMP_CONTRAST)


def paint_lamp(
    painter: QPainter, rect: QRectF, lamp: str, background: QColor, *, lit: bool = True
) -> None:
    """A round lamp in `rect`: the state's colour, a ring that stands out from `background`,
    and a mark that tells the state without its colour (busy: a bar, on hold: a pause sign,
    away: a slash, ringing: a dot; free is plain, "off" an empty ring)."""
    colour = QColor(LAMP_COLOURS.get(lamp, LAMP_COLOURS["off"]))
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(lamp_outline(lamp, background), max(1.0, rect.width() / 12)))
    painter.setBrush(colour if lit and lamp != "off" else Qt.GlobalColor.transparent)
    painter.drawEllipse(rect)
    mark = (
        QColor("white")
        if contrast(QColor("white"), colour) >= contrast(QColor("black"), colour)
        else QColor("black")
    )
    if not lit or lamp == "off":
        mark = lamp_outline(lamp, background)
    painter.setPen(
        QPen(mark, max(1.2, rect.width() / 7), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    )
    c, r = rect.center(), rect.width() / 2
    if lamp == "busy":
        painter.drawLine(QPointF(c.x() - r * 0.5, c.y()), QPointF(c.x() + r * 0.5, c.y()))
    elif lamp == "held":
        for dx in (-0.22, 0.22):
            painter.drawLine(
                QPointF(c.x() + r * dx, c.y() - r * 0.42), QPointF(c.x() + r * dx, c.y() + r * 0.42)
            )
    elif lamp == "away":
        painter.drawLine(
            QPointF(c.x() - r * 0.4, c.y() + r * 0.4), QPointF(c.x() + r * 0.4, c.y() - r * 0.4)
        )
    elif lamp == "ringing":
        painter.setBrush(mark)
        painter.drawEllipse(c, r * 0.16, r * 0.16)
    painter.restore()


def lamp_pixmap(
    lamp: str, size: int = 16, ratio: float = 1.0, background: QColor | None = None
) -> QPixmap:
    """A lamp of `size` logical pixels drawn for a screen of device pixel `ratio` (a QLabel
    shows it sharp there), on `background` (default: the application's window colour)."""
    if background is None:
        background = QApplication.palette().color(QPalette.ColorRole.Window)
    pixels = max(1, round(size * ratio))
    pixmap = QPixmap(pixels, pixels)
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    paint_lamp(painter, QRectF(1.5, 1.5, size - 3, size - 3), lamp, background)
    painter.end()
    return pixmap


def lamp_icon(lamp: str, size: int = 16) -> QIcon:
    """A lamp (tray menu, list), with a pixmap for each common device pixel ratio."""
    icon = QIcon()
    for ratio in LAMP_RATIOS:
        icon.addPixmap(lamp_pixmap(lamp, size, ratio))
    return icon


# --- the colleagues' list --------------------------------------------------------------------


class ColleagueModel(QAbstractListModel):
    """The colleagues in the configured order, each a `ColleagueView`.  A call dropped on one
    (MIME_CALL) is announced as `call_dropped(call_key, device)`."""

    call_dropped = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._views: list[ColleagueView] = []
        self._rows: dict[str, int] = {}

    def set_views(self, views: Sequence[ColleagueView]) -> None:
        self.beginResetModel()
        self._views = list(views)
        self._rows = {v.device: i for i, v in enumerate(self._views)}
        self.endResetModel()

    def update_views(self, views: Sequence[ColleagueView]) -> bool:
        """Replace the views of these devices; False when one is not in the list."""
        for view in views:
            row = self._rows.get(view.device)
            if row is None:
                return False
            self._views[row] = view
            index = self.index(row)
            self.dataChanged.emit(index, index)
        return True

    def view_at(self, row: int) -> ColleagueView | None:
        return self._views[row] if 0 <= row < len(self._views) else None

    def row_of(self, device: str) -> int | None:
        return self._rows.get(device)

    def tick(self) -> None:
        """The elapsed times moved on: repaint the rows that show one."""
        for row, view in enumerate(self._views):
            if view.since is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._views)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        view = self.view_at(index.row()) if index.isValid() else None
        if view is None:
            return None
        if role == ViewRole:
            return view
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{view.title} ({view.device}): {view.state_text}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return view.detail
        if role == Qt.ItemDataRole.AccessibleTextRole:
            who = f"{view.title}, {view.device}" if view.name else view.device
            return f"{who}: {view.state_text}" + (f", {view.party}" if view.party else "")
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDropEnabled
        )

    def mimeTypes(self) -> list[str]:
        return [MIME_CALL]

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def canDropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        return data.hasFormat(MIME_CALL) and parent.isValid()

    def dropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        view = self.view_at(parent.row()) if parent.isValid() else None
        if view is None or not data.hasFormat(MIME_CALL):
            return False
        key = bytes(data.data(MIME_CALL).data()).decode("utf-8", "replace")
        self.call_dropped.emit(key, view.device)
        return True


class ColleagueFilter(QSortFilterProxyModel):
    """The type-ahead filter: every word typed is in the name, number or party."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip()
        self.endFilterChange()

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        model = self.sourceModel()
        view = model.view_at(source_row) if isinstance(model, ColleagueModel) else None
        return view is not None and (not self._text or view.matches(self._text))


class ColleagueDelegate(QStyledItemDelegate):
    """One colleague per row: the lamp, the name and number, the state, with whom, how long."""

    #: The lamps of ringing phones blink with the console's clock.
    blink_on = True

    def __init__(self, now: Callable[[], datetime], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._now = now

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        height = option.fontMetrics.height()
        return QSize(320, 2 * height + 14)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        view: ColleagueView | None = index.data(ViewRole)
        if view is None:
            return
        painter.save()
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawPrimitive(
            QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
        )
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        text_colour = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        muted = QColor(text_colour)
        muted.setAlphaF(0.7)
        rect = option.rect.adjusted(8, 5, -8, -5)
        line = option.fontMetrics.height()
        # The lamp (a ring while a ringing lamp blinks off).
        lamp = QRectF(rect.x(), rect.y() + (rect.height() - 14) / 2, 14, 14)
        background = palette.color(
            QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base
        )
        paint_lamp(
            painter, lamp, view.lamp, background, lit=view.lamp != "ringing" or self.blink_on
        )
        left = rect.x() + 24
        width = rect.right() - left
        # First line: name (bold) and number; the state on the right.
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        state = view.state_text
        state_width = painter.fontMetrics().horizontalAdvance(state) + 4
        painter.drawText(
            QRect(rect.right() - state_width, rect.y(), state_width, line),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            state,
        )
        title = (
            translate("Console", "{name} (you)").format(name=view.title)
            if view.is_you
            else view.title
        )
        title_room = width - state_width - 8
        name = painter.fontMetrics().elidedText(title, Qt.TextElideMode.ElideRight, title_room)
        painter.drawText(
            QRect(left, rect.y(), title_room, line),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            name,
        )
        used = painter.fontMetrics().horizontalAdvance(name)
        painter.setFont(option.font)
        if view.name:
            painter.setPen(muted)
            number_room = title_room - used - 8
            if number_room > 20:
                painter.drawText(
                    QRect(left + used + 8, rect.y(), number_room, line),
                    int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                    view.device,
                )
        # Second line: with whom, and for how long.
        painter.setPen(muted)
        second = QRect(left, rect.y() + line + 4, width, line)
        elapsed = elapsed_text(view.since, self._now())
        elapsed_width = painter.fontMetrics().horizontalAdvance(elapsed) + 4 if elapsed else 0
        if elapsed:
            painter.drawText(
                QRect(second.right() - elapsed_width, second.y(), elapsed_width, line),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                elapsed,
            )
        party = view.party
        if view.state.value in ("busy", "held"):
            party = translate("Console", "with {party}").format(party=party) if party else ""
        elif view.state.value == "ringing":
            party = translate("Console", "from {party}").format(party=party) if party else ""
        elif view.state.value in ("not_monitored", "unknown"):
            party = view.detail
        party = painter.fontMetrics().elidedText(
            party, Qt.TextElideMode.ElideRight, width - elapsed_width - 8
        )
        painter.drawText(
            QRect(second.x(), second.y(), width - elapsed_width - 8, line),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            party,
        )
        painter.restore()


class ColleagueList(QListView):
    """The list; letters typed here go to the search (type-ahead)."""

    typed = Signal(str)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if (
            text
            and text.isprintable()
            and not text.isspace()
            and text not in "?/"
            and not event.modifiers()
            & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        ):
            self.typed.emit(text)
            event.accept()
            return
        super().keyPressEvent(event)


# --- the own phone -----------------------------------------------------------------------------

#: The own phone's buttons, in order, with their labels (marked for translation).
_OWN_BUTTONS = (
    (CallAction.ANSWER, QT_TRANSLATE_NOOP("Console", "Answer")),
    (CallAction.HANG_UP, QT_TRANSLATE_NOOP("Console", "Hang up")),
    (CallAction.HOLD, QT_TRANSLATE_NOOP("Console", "Hold")),
    (CallAction.COMPLETE, QT_TRANSLATE_NOOP("Console", "Complete")),
    (CallAction.BACK, QT_TRANSLATE_NOOP("Console", "Back to caller")),
    (CallAction.ALTERNATE, QT_TRANSLATE_NOOP("Console", "Switch")),
)


class OwnLineCard(QFrame):
    """The own phone's calls: what it is doing, since when, and the actions possible now.
    Dragging it onto a colleague puts its call through."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ownLine")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self._view: OwnLineView | None = None
        self._press_at: QPoint | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(4)
        top = QHBoxLayout()
        self.lamp = QLabel(self)
        self.lamp.setFixedSize(16, 16)
        self.lamp.setAccessibleName(translate("Console", "State of your phone"))
        top.addWidget(self.lamp)
        self.text = plain_label(QLabel(self))
        self.text.setObjectName("ownLineText")
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.text.setFont(font)
        top.addWidget(self.text, 1)
        self.elapsed = QLabel(self)
        self.elapsed.setObjectName("ownLineElapsed")
        self.elapsed.setAccessibleName(translate("Console", "Time on this call"))
        top.addWidget(self.elapsed)
        layout.addLayout(top)
        self.detail = plain_label(QLabel(self))
        self.detail.setObjectName("ownLineDetail")
        layout.addWidget(self.detail)
        self.buttons: dict[CallAction, QPushButton] = {}
        # The buttons wrap rather than widen the window (long words, a large font).
        row = FlowLayout(spacing=6)
        for action, label in _OWN_BUTTONS:
            button = QPushButton(translate("Console", label), self)
            button.setObjectName(f"own-{action.value}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keyboard uses the F-keys
            button.setAutoDefault(False)
            button.setToolTip(tip(BY_COMMAND[action.value].text, action.value))
            button.setAccessibleDescription(button.toolTip())
            row.addWidget(button)
            self.buttons[action] = button
        layout.addLayout(row)

    @property
    def view(self) -> OwnLineView | None:
        return self._view

    def show_view(self, view: OwnLineView, now: datetime) -> None:
        self._view = view
        self.text.setText(view.text)
        self.detail.setText(view.detail)
        self.detail.setVisible(bool(view.detail))
        lamp = {
            LineState.IDLE: "free",
            LineState.RINGING: "ringing",
            LineState.TALKING: "busy",
            LineState.CONSULTING: "busy",
            LineState.HELD: "held",
        }.get(view.state, "off")
        self.lamp.setPixmap(
            lamp_pixmap(
                lamp, 16, self.devicePixelRatioF(), self.palette().color(QPalette.ColorRole.Base)
            )
        )
        self.lamp.setAccessibleDescription(view.text)
        self.setAccessibleName(translate("Console", "Your phone"))
        self.setAccessibleDescription(f"{view.text}. {view.detail}" if view.detail else view.text)
        for action, button in self.buttons.items():
            button.setEnabled(view.allows(action))
        hold = self.buttons[CallAction.HOLD]
        hold.setText(
            translate("Console", "Take back")
            if view.state is LineState.HELD
            else translate("Console", "Hold")
        )
        self.tick(now)
        self.setCursor(Qt.CursorShape.OpenHandCursor if view.key else Qt.CursorShape.ArrowCursor)
        self.setToolTip(
            translate("Console", "Drag onto a colleague to put the call through")
            if view.key
            else ""
        )

    def tick(self, now: datetime) -> None:
        view = self._view
        self.elapsed.setText(
            elapsed_text(view.since, now)
            if view is not None and view.state is not LineState.IDLE
            else ""
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        start, view = self._press_at, self._view
        if (
            start is not None
            and view is not None
            and view.key
            and event.buttons() & Qt.MouseButton.LeftButton
            and (event.position().toPoint() - start).manhattanLength()
            >= QApplication.startDragDistance()
        ):
            self._press_at = None
            call_drag(self, view.key)
            return
        super().mouseMoveEvent(event)


class HelpOverlay(QFrame):
    """Every shortcut of the console, over the window (F1 or ? shows and hides it)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("help")
        self.setAutoFillBackground(True)
        # Opaque: the console's rows showing through make the keys hard to read.
        self.setBackgroundRole(QPalette.ColorRole.Window)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(20, 16, 20, 16)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(5)
        title = QLabel(translate("Console", "Keyboard"), self)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        title.setFont(font)
        grid.addWidget(title, 0, 0, 1, 2)
        row = 1
        group = None
        bold = QFont(self.font())
        bold.setBold(True)
        for shortcut in SHORTCUTS:
            if shortcut.group != group:
                group = shortcut.group
                heading = QLabel(shortcut.heading, self)
                heading.setFont(bold)
                grid.addWidget(heading, row, 0, 1, 2)
                row += 1
            keys = QLabel(shortcut.shown, self)
            keys.setObjectName(f"help-keys-{shortcut.command}")
            keys.setFont(bold)
            grid.addWidget(keys, row, 0, Qt.AlignmentFlag.AlignTop)
            words = QLabel(shortcut.text, self)
            words.setWordWrap(True)
            grid.addWidget(words, row, 1)
            row += 1
        closing = QLabel(translate("Console", "F1, ? or Esc closes this help."), self)
        grid.addWidget(closing, row, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(row + 1, 1)
        self.hide()
        parent.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self._fit()
            self.show()
            self.raise_()


# --- the window --------------------------------------------------------------------------------


class ConsoleWindow(QMainWindow):
    """See the module docstring.

    Signals: `action_requested(action, device, call_key)` (a CallAction value; the chosen
    colleague or ""; the call of a popup being put through or ""), `focus_popup_requested()`
    (F2), `history_requested()`, `note_requested()` (a phone note about the own phone's last
    call), `colleague_chosen(device)`.
    """

    action_requested = Signal(str, str, str)
    focus_popup_requested = Signal()
    history_requested = Signal()
    note_requested = Signal()

    #: How often the times shown move on (ms).
    TICK_MS: ClassVar[int] = 1000

    def __init__(
        self, *, now: Callable[[], datetime] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._now = now or (lambda: datetime.now(UTC))
        self.setWindowTitle(translate("Console", "Console"))
        self.setWindowIcon(icons.app_icon())
        self.setObjectName("console")
        #: The call of a popup being put through (its "Put through" or a drag), "" if none.
        self.pending_key = ""

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 10, 10, 6)
        layout.setSpacing(8)
        self.own_line = OwnLineCard(central)
        layout.addWidget(self.own_line)
        self.banner = plain_label(QLabel(central))
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel#banner { background: #fff4d6; color: #5a4300; "
            "border: 1px solid #e6c35c; padding: 6px; }"
        )
        self.banner.hide()
        layout.addWidget(self.banner)
        self.search = QLineEdit(central)
        self.search.setObjectName("search")
        self.search.setPlaceholderText(
            translate("Console", "Type a name or number to find a colleague (F1: all keys)")
        )
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(translate("Console", "Find a colleague"))
        self.search.setAccessibleDescription(self.search.placeholderText())
        layout.addWidget(self.search)

        self.model = ColleagueModel(self)
        self.proxy = ColleagueFilter(self)
        self.proxy.setSourceModel(self.model)
        self.list = ColleagueList(central)
        self.list.setObjectName("colleagues")
        self.list.setModel(self.proxy)
        self.delegate = ColleagueDelegate(self._now, self.list)
        self.list.setItemDelegate(self.delegate)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.list.setAlternatingRowColors(True)
        self.list.setAcceptDrops(True)
        self.list.setDropIndicatorShown(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.list.setAccessibleName(translate("Console", "Colleagues"))
        self.list.setAccessibleDescription(
            translate(
                "Console",
                "Up and Down choose a colleague; Enter puts the call through, Ctrl+Enter "
                "consults first",
            )
        )
        layout.addWidget(self.list, 1)

        buttons = QHBoxLayout()
        self.put_through_button = QPushButton(translate("Console", "Put through"), central)
        self.consult_button = QPushButton(translate("Console", "Consult first"), central)
        self.pick_up_button = QPushButton(translate("Console", "Pick up"), central)
        self.note_button = QPushButton(translate("Console", "Note…"), central)
        self.note_button.setObjectName("note")
        self.note_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.note_button.setAutoDefault(False)
        self.note_button.setToolTip(tip(BY_COMMAND["note"].text, "note"))
        self.note_button.setAccessibleName(translate("Console", "Phone note"))
        self.note_button.setAccessibleDescription(self.note_button.toolTip())
        self.note_button.clicked.connect(lambda _=False: self.note_requested.emit())
        for button, command in (
            (self.put_through_button, CallAction.PUT_THROUGH),
            (self.consult_button, CallAction.CONSULT),
            (self.pick_up_button, CallAction.PICK_UP),
        ):
            button.setObjectName(command.value)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setAutoDefault(False)
            button.setToolTip(tip(BY_COMMAND[command.value].text, command.value))
            button.setAccessibleDescription(button.toolTip())
            button.clicked.connect(lambda _=False, c=command: self.request(c))
            buttons.addWidget(button)
        buttons.addWidget(self.note_button)
        buttons.addStretch(1)
        self.help_hint = QLabel(translate("Console", "F1: keys"), central)
        buttons.addWidget(self.help_hint)
        layout.addLayout(buttons)
        self.setCentralWidget(central)

        self.help = HelpOverlay(central)
        self.link_label = plain_label(QLabel(self))
        self.link_label.setObjectName("linkStatus")
        self.link_label.setAccessibleName(translate("Console", "Connection to the PBX"))
        # A normal (not permanent) widget: a message ("Putting … through to …") covers it
        # for a while, then the link's state shows again.
        self.statusBar().addWidget(self.link_label, 1)

        for call_action, button in self.own_line.buttons.items():
            button.clicked.connect(lambda _=False, a=call_action: self.request(a))
        self.search.textChanged.connect(self._filter)
        self.list.typed.connect(self._type_ahead)
        self.list.doubleClicked.connect(lambda _i: self.request(CallAction.PUT_THROUGH))
        self.list.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.model.call_dropped.connect(self._dropped)
        self.search.installEventFilter(self)

        self.actions_by_command: dict[str, QAction] = {}
        handlers: dict[str, Callable[[], object]] = {
            "focus_popup": self.focus_popup_requested.emit,
            "find": self.focus_search,
            "help": self.help.toggle,
            "history": self.history_requested.emit,
            "note": self.note_requested.emit,
            "escape": self.escape,
            "close": self.close,
        }
        for shortcut in of_scope("console"):
            action = QAction(shortcut.text, self)
            action.setShortcuts(shortcut.sequences())
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            handler = handlers.get(shortcut.command)
            if handler is None:
                command = CallAction(shortcut.command)
                action.triggered.connect(lambda _=False, c=command: self.request(c))
            else:
                action.triggered.connect(lambda _=False, h=handler: h())
            self.addAction(action)
            self.actions_by_command[shortcut.command] = action

        self._timer = QTimer(self)
        self._timer.setInterval(self.TICK_MS)
        self._timer.timeout.connect(self.tick)
        self.resize(520, 640)
        self._update_buttons()

    # -- what the desk hands up

    def show_colleagues(
        self, views: Sequence[ColleagueView], changed: Sequence[ColleagueView] = ()
    ) -> None:
        """The colleagues (all, in order); `changed` the ones that changed, when only they
        need repainting."""
        current = self.current_device()
        if (
            not changed
            or not self.model.update_views(changed)
            or self.model.rowCount() != len(views)
        ):
            self.model.set_views(views)
        self._filter(self.search.text(), keep=current)
        self._update_buttons()

    def show_own_line(self, view: OwnLineView) -> None:
        self.own_line.show_view(view, self._now())
        self._update_buttons()

    def set_link_status(self, text: str, *, note: str = "", detail: str = "") -> None:
        """The link line of the status bar; `note` and the technical `detail` in its tooltip
        (as the history window's)."""
        self.link_label.setText(text)
        details = texts.link_details(note, detail)
        self.link_label.setToolTip(plain_tooltip(details) if details else "")

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    # -- intents

    def current_device(self) -> str:
        index = self.list.currentIndex()
        view = index.data(ViewRole) if index.isValid() else None
        return view.device if view is not None else ""

    def select(self, device: str) -> bool:
        """Choose a colleague (clears the search if it hides them)."""
        row = self.model.row_of(device)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row))
        if not index.isValid():
            self.search.clear()
            index = self.proxy.mapFromSource(self.model.index(row))
        self.list.setCurrentIndex(index)
        self.list.scrollTo(index)
        return True

    def request(self, action: CallAction) -> None:
        """Send `action` up with the chosen colleague and the pending popup call."""
        device = (
            self.current_device()
            if action in (CallAction.PUT_THROUGH, CallAction.CONSULT, CallAction.PICK_UP)
            else ""
        )
        key = self.pending_key if action is CallAction.PUT_THROUGH else ""
        self.action_requested.emit(action.value, device, key)
        if action is CallAction.PUT_THROUGH:
            self.put_through_for("", "")
        if device and self.search.text():
            # Done with this colleague: the whole panel again, ready for the next name.
            self.search.clear()
            self.select(device)

    def put_through_for(self, key: str, title: str) -> None:
        """A popup's call is to be put through: the next Enter (or drop) takes it."""
        self.pending_key = key
        if key:
            self.banner.setText(
                translate(
                    "Console",
                    "Put through: {caller}. Choose a colleague and press Enter (Esc cancels).",
                ).format(caller=title)
            )
            self.banner.show()
            self.focus_search()
        else:
            self.banner.hide()

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def escape(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        elif self.search.text():
            self.search.clear()
            self.list.setFocus()
        elif self.pending_key:
            self.put_through_for("", "")
        else:
            self.close()

    def bring_forward(self) -> None:
        if self.isMinimized():
            self.showNormal()
        else:
            self.show()
        self.raise_()
        self.activateWindow()

    # -- internals

    def _dropped(self, key: str, device: str) -> None:
        self.select(device)
        self.action_requested.emit(CallAction.PUT_THROUGH.value, device, key)
        self.put_through_for("", "")

    def _type_ahead(self, text: str) -> None:
        self.search.setFocus(Qt.FocusReason.OtherFocusReason)
        self.search.setText(self.search.text() + text)

    def _filter(self, text: str, keep: str | None = None) -> None:
        keep = keep if keep is not None else self.current_device()
        self.proxy.set_text(text)
        row = self.model.row_of(keep) if keep else None
        index = (
            self.proxy.mapFromSource(self.model.index(row)) if row is not None else QModelIndex()
        )
        if not index.isValid() and self.proxy.rowCount() > 0:
            index = self.proxy.index(0, 0)  # the best match is chosen: Enter takes it
        if index.isValid():
            self.list.setCurrentIndex(index)
        self._update_buttons()

    def _update_buttons(self) -> None:
        view = self.own_line.view
        index = self.list.currentIndex()
        chosen: ColleagueView | None = index.data(ViewRole) if index.isValid() else None
        has_target = chosen is not None and not chosen.is_you
        own_put_through = view is not None and view.allows(CallAction.PUT_THROUGH)
        self.put_through_button.setEnabled(
            has_target and (own_put_through or bool(self.pending_key))
        )
        self.consult_button.setEnabled(
            has_target and view is not None and view.allows(CallAction.CONSULT)
        )
        self.pick_up_button.setEnabled(chosen is not None and chosen.can_pick_up)

    def tick(self) -> None:
        self.delegate.blink_on = not self.delegate.blink_on
        self.model.tick()
        self.own_line.tick(self._now())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Up and Down in the search move through the list: type, choose, Enter.
        if (
            watched is self.search
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
        ):
            key = event.key()
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
                QApplication.sendEvent(self.list, QKeyEvent(event.type(), key, event.modifiers()))
                return True
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._timer.start()
        if not self.search.hasFocus() and not self.list.hasFocus():
            self.focus_search()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)


__all__ = [
    "LAMP_COLOURS",
    "ColleagueModel",
    "ConsoleWindow",
    "lamp_icon",
    "lamp_outline",
    "lamp_pixmap",
    "paint_lamp",
]
