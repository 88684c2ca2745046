"""The call popup: a small always-on-top card per ringing call, and the stack that places them
in a corner of a screen. Popups never take the keyboard focus when they appear (the console's
F2 hands the newest ringing one the keyboard, on purpose).

A popup renders a `PopupView` (calls.views): every text, state and action comes decided from
the desk; the popup only shows it, and counts down when the view says it closes.  A popup can
be dragged onto a colleague in the console (MIME_CALL).  The stack shows the newest few and
a "+N more" line for the rest; only the popups on screen are widgets.  Popups stay put while
the pointer is over the stack: a new call then appears where it displaces nothing (or waits),
and the stack reflows once the pointer has left.  Texts from the PBX and phone books are shown
as plain text (ui.plain).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import ClassVar

import shiboken6
from PySide6.QtCore import (
    QEvent,
    QMetaObject,
    QMimeData,
    QObject,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAccessible,
    QAccessibleAnnouncementEvent,
    QAccessibleEvent,
    QCloseEvent,
    QColor,
    QCursor,
    QDesktopServices,
    QDrag,
    QEnterEvent,
    QFont,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QScreen,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cstapopup.calls import texts
from cstapopup.calls.views import Action, PopupState, PopupView
from cstapopup.i18n import translate
from cstapopup.resources import path as resource_path
from cstapopup.ui import icons, palette
from cstapopup.ui.flow import FlowLayout
from cstapopup.ui.plain import plain_label, plain_tooltip

log = logging.getLogger(__name__)

#: Logical (device-independent) width of a popup; Qt scales it on high-DPI screens.
POPUP_WIDTH = 372
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
SCREEN_CHOICES = ("primary", "mouse")

UrlOpener = Callable[[QUrl], bool]

#: The drag-and-drop type of a call (its history key, UTF-8): a popup or the console's own
#: line dragged onto a colleague puts that call through.
MIME_CALL = "application/x-cstapopup-call"
#: How long the pointer must be off the stack before it reflows (ms): crossing the gap
#: between two popups is not leaving.
LEAVE_GRACE_MS = 400


def call_drag(source: QWidget, key: str) -> Qt.DropAction:
    """Drag the call `key` from `source` (a popup, the console's line); what became of it."""
    data = QMimeData()
    data.setData(MIME_CALL, key.encode("utf-8"))
    drag = QDrag(source)
    drag.setMimeData(data)
    pixmap = source.grab()
    if not pixmap.isNull():
        drag.setPixmap(
            pixmap.scaledToWidth(
                min(pixmap.width(), 240), Qt.TransformationMode.SmoothTransformation
            )
        )
    return drag.exec(Qt.DropAction.CopyAction)


# --- pieces --------------------------------------------------------------------------------


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when the text does not fit (full text in the tooltip)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plain_label(self)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(10)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full_text = text
        super().setText(text)
        self._update_tooltip()

    def full_text(self) -> str:
        return self._full_text

    def _elided(self) -> str:
        width = self.contentsRect().width()
        return self.fontMetrics().elidedText(self._full_text, Qt.TextElideMode.ElideRight, width)

    def _update_tooltip(self) -> None:
        elided = self._elided() != self._full_text
        self.setToolTip(plain_tooltip(self._full_text) if elided else "")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_tooltip()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        elided = self._elided()
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), elided)


def avatar_colour(hue: int) -> QColor:
    """The avatar's colour of `hue`: as dark as white initials need to read on it."""
    return palette.readable(QColor.fromHsl(hue, 120, 95), QColor("white"))


class Avatar(QWidget):
    """The caller's initials on a colour derived from the name; a handset when nameless; a
    person when no two letters of the name would read as initials rather than as a control
    ("II" looks like a pause button: calls.texts.initials)."""

    def __init__(self, size: int = 44, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(size, size)
        self._name: str | None = None

    def set_name(self, name: str | None) -> None:
        self._name = name
        self.update()

    def initials(self) -> str:
        return texts.initials(self._name)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        text = self.initials()
        if not text:
            icons.icon("caller-person" if self._name else "caller-unknown").paint(
                painter, rect.toRect()
            )
            return
        # A stable colour per name, dark enough for white text (4.5:1 whatever the hue).
        digest = hashlib.sha1((self._name or "").encode("utf-8")).digest()
        colour = avatar_colour(digest[0] * 360 // 256)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(rect)
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(round(rect.height() * 0.38))
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


# --- the popup -----------------------------------------------------------------------------


def _copy_label() -> str:
    return translate("Popup", "&Copy number")


class CallPopup(QWidget):
    """One call's card, rendering a `PopupView`. Shown without activation; clicking it makes
    it keyboard-usable.

    Signals: `answer_requested(call_key, device)`, `put_through_requested(call_key)`,
    `note_requested(call_key)` (a phone note about the call), `crm_opened(url)`,
    `closed(call_key)` (once, however it closed), `hovered(bool)` (the
    pointer came or went), `announced(text)` (what screen readers were told: the caller and
    the call's state, when it appears and when the state changes).
    """

    answer_requested = Signal(str, str)
    put_through_requested = Signal(str)
    note_requested = Signal(str)
    crm_opened = Signal(str)
    closed = Signal(str)
    hovered = Signal(bool)
    #: The height changed (a row shown or hidden): the stack re-places.
    resized = Signal()
    announced = Signal(str)

    #: Accent colours of the stripe on the left, by the view's accent.
    ACCENTS: ClassVar[dict[str, str]] = {
        "ringing": "#2e9d4a",
        "answered": "#1e63c6",
        "ended": "#8a949c",
        "missed": "#c62828",
    }

    def __init__(
        self, view: PopupView, *, url_opener: UrlOpener | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            parent,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus,
        )
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        # macOS hides tool windows of an inactive application; a tray app is never active.
        self.setAttribute(Qt.WidgetAttribute.WA_MacAlwaysShowToolWindow)
        # Qt shows tooltips only in the active window, and a popup never takes the focus: an
        # elided name or company would keep its full text to itself.
        self.setAttribute(Qt.WidgetAttribute.WA_AlwaysShowToolTips)
        self.setObjectName("callPopup")
        self.setWindowTitle(translate("Popup", "Call"))
        self.setAccessibleName(translate("Popup", "Incoming call"))

        self._view = view
        self._url_opener: UrlOpener = url_opener or QDesktopServices.openUrl
        self._focus_allowed = False
        #: The window that was active when the popup appeared (weakly: popups come and go by
        #: the thousand, and a chain of them holding each other would never be freed).
        self._previous_active: weakref.ref[QWidget] | None = None
        self._closed_emitted = False
        self._answer_clicked = False
        self._press_at: QPoint | None = None
        #: What screen readers were told last (the caller and the state).
        self.announcement = ""

        self._close_timer = QTimer(self)
        self._close_timer.setSingleShot(True)
        self._close_timer.timeout.connect(self.close)
        self._paused_remaining: int | None = None

        self._build()
        self._render(view)

    # -- construction

    def _build(self) -> None:
        self.setFixedWidth(POPUP_WIDTH)
        # The "base" colour (white in light themes) makes it read as a card over any desktop.
        self.setBackgroundRole(self.palette().ColorRole.Base)
        self.setAutoFillBackground(True)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self._accent = QFrame(self)
        self._accent.setFixedWidth(6)
        self._accent.setAutoFillBackground(True)
        outer.addWidget(self._accent)

        body = QHBoxLayout()
        body.setContentsMargins(12, 10, 6, 12)
        body.setSpacing(12)
        outer.addLayout(body, 1)

        self._avatar = Avatar(44, self)
        avatar_column = QVBoxLayout()
        avatar_column.addWidget(self._avatar)
        avatar_column.addStretch(1)
        body.addLayout(avatar_column)

        text = QVBoxLayout()
        text.setSpacing(2)
        body.addLayout(text, 1)

        title_row = QHBoxLayout()
        title_row.setSpacing(4)
        self._title = ElidedLabel("", self)
        self._title.setObjectName("title")
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setBold(True)
        self._title.setFont(font)
        title_row.addWidget(self._title, 1)
        self._dismiss = QToolButton(self)
        self._dismiss.setObjectName("dismiss")
        self._dismiss.setText("×")
        self._dismiss.setAutoRaise(True)
        self._dismiss.setToolTip(translate("Popup", "Dismiss (Esc)"))
        self._dismiss.setAccessibleName(translate("Popup", "Dismiss"))
        self._dismiss.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        dismiss_font = QFont(self.font())
        dismiss_font.setPointSizeF(dismiss_font.pointSizeF() * 1.3)
        self._dismiss.setFont(dismiss_font)
        self._dismiss.clicked.connect(self.dismiss)
        title_row.addWidget(self._dismiss, 0, Qt.AlignmentFlag.AlignTop)
        text.addLayout(title_row)

        self._company_label = ElidedLabel("", self)
        company_font = QFont(self.font())
        company_font.setPointSizeF(company_font.pointSizeF() * 1.15)
        self._company_label.setFont(company_font)
        self._company_label.setObjectName("company")
        text.addWidget(self._company_label)

        self._number_label = plain_label(QLabel(self))
        self._number_label.setObjectName("number")
        self._number_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        number_font = QFont(self.font())
        number_font.setPointSizeF(number_font.pointSizeF() * 1.1)
        self._number_label.setFont(number_font)
        text.addWidget(self._number_label)

        self._where_label = ElidedLabel("", self)
        self._where_label.setObjectName("where")
        text.addWidget(self._where_label)
        self._redirect_label = ElidedLabel("", self)
        self._redirect_label.setObjectName("redirect")
        text.addWidget(self._redirect_label)

        self._state_label = ElidedLabel("", self)
        self._state_label.setObjectName("state")
        state_font = QFont(self.font())
        state_font.setBold(True)
        self._state_label.setFont(state_font)
        text.addSpacing(2)
        text.addWidget(self._state_label)

        # The buttons wrap onto a second line rather than squeeze below their text (a long
        # translation, a large font).
        buttons = FlowLayout(spacing=6)
        buttons.setContentsMargins(0, 6, 0, 0)
        self._answer = QPushButton(translate("Popup", "&Answer"), self)
        self._answer.setObjectName("answer")
        self._answer.clicked.connect(self._on_answer)
        self._copy = QPushButton(_copy_label(), self)
        self._copy.setObjectName("copy")
        self._copy.clicked.connect(self.copy_number)
        self._crm = QPushButton(translate("Popup", "Open C&RM"), self)
        self._crm.setObjectName("crm")
        self._crm.clicked.connect(self.open_crm)
        self._put_through = QPushButton(translate("Popup", "Put &through…"), self)
        self._put_through.setObjectName("putThrough")
        self._put_through.setToolTip(
            translate(
                "Popup",
                "Put the call through to a colleague: the console opens, type a name and "
                "press Enter (Alt+T; or drag the popup onto a colleague)",
            )
        )
        self._put_through.clicked.connect(lambda: self.put_through_requested.emit(self._view.key))
        self._note = QPushButton(translate("Popup", "&Note…"), self)
        self._note.setObjectName("note")
        self._note.setToolTip(
            translate(
                "Popup",
                "Write a phone note about this call: for a colleague, callback wanted, "
                "sent by e-mail if you like (Alt+N)",
            )
        )
        self._note.clicked.connect(lambda: self.note_requested.emit(self._view.key))
        self._answer.setToolTip(translate("Popup", "Answer at your phone (Alt+A)"))
        self._copy.setToolTip(translate("Popup", "Copy the number (Alt+C)"))
        self._crm.setToolTip(translate("Popup", "Look the caller up in the CRM (Alt+R)"))
        for b in (self._answer, self._put_through, self._note, self._copy, self._crm):
            b.setAutoDefault(False)
            b.setAccessibleDescription(b.toolTip())
            buttons.addWidget(b)
        text.addLayout(buttons)

        # Reading order = tab order: the actions first, dismiss last.
        QWidget.setTabOrder(self._answer, self._put_through)
        QWidget.setTabOrder(self._put_through, self._note)
        QWidget.setTabOrder(self._note, self._copy)
        QWidget.setTabOrder(self._copy, self._crm)
        QWidget.setTabOrder(self._crm, self._dismiss)

        # A press anywhere on the card (a button included) makes it focusable: see
        # allow_focus.  Labels pass presses on to the card (mousePressEvent); the buttons say
        # so themselves; the selectable number takes them, so it alone is watched (a Python
        # event filter on every child costs ~1 ms per popup in events it lets through).
        for button in (
            self._answer,
            self._put_through,
            self._note,
            self._copy,
            self._crm,
            self._dismiss,
        ):
            button.pressed.connect(self.allow_focus)
        self._number_label.installEventFilter(self)

    # -- content

    @property
    def view(self) -> PopupView:
        return self._view

    @property
    def call_key(self) -> str:
        return self._view.key

    @property
    def ringing_device(self) -> str:
        return self._view.ringing_device

    def show_view(self, view: PopupView) -> None:
        """Show a newer view of the same call."""
        if view.key != self._view.key:
            raise ValueError(f"popup for {self._view.key} got the view of {view.key}")
        if view.ringing_device != self._view.ringing_device:
            self._answer_clicked = False  # it rings somewhere else now: a new question
        self._view = view
        self._render(view)

    def _render(self, view: PopupView) -> None:
        self._title.setText(view.title)
        self._company_label.setText(view.company or "")
        self._company_label.setVisible(bool(view.company))
        self._number_label.setText(view.number)
        self._number_label.setVisible(bool(view.number))
        self._avatar.set_name(view.name)
        self._where_label.setText(view.where)
        self._redirect_label.setText(view.redirect)
        self._redirect_label.setVisible(bool(view.redirect))
        self._state_label.setText(view.state_text)
        self._set_accent(view.accent)
        can_answer = view.allows(Action.ANSWER)
        self._answer.setVisible(can_answer)
        self._answer.setEnabled(can_answer and not self._answer_clicked)
        # Without a number (withheld, unknown) there is nothing to copy or look up: the
        # buttons are not there rather than dead.
        self._copy.setVisible(view.allows(Action.COPY_NUMBER))
        self._crm.setVisible(view.allows(Action.OPEN_CRM))
        self._put_through.setVisible(view.allows(Action.PUT_THROUGH))
        self._note.setVisible(view.allows(Action.NOTE))
        description = ", ".join(
            t
            for t in (
                view.title,
                view.company or "",
                view.number,
                view.where,
                view.redirect,
                view.state_text,
            )
            if t
        )
        self.setAccessibleDescription(description)
        self._announce(view)
        if view.closes_in is None:
            self._close_timer.stop()
            self._paused_remaining = None
        else:
            self._start_close_timer(view.closes_in)
        self._fit()

    def _announce(self, view: PopupView) -> None:
        """Tell screen readers who calls and how the call stands: when the popup appears
        (assertively: the phone rings) and when its state changes (politely)."""
        if view.state is PopupState.RINGING:
            message = translate("Popup", "Incoming call: {caller}. {state}.").format(
                caller=view.title, state=view.where
            )
        else:
            message = translate("Popup", "Call from {caller}: {state}.").format(
                caller=view.title, state=view.state_text
            )
        if message == self.announcement:
            return
        first = not self.announcement
        self.announcement = message
        event = QAccessibleAnnouncementEvent(self, message)
        event.setPoliteness(
            QAccessible.AnnouncementPoliteness.Assertive
            if first
            else QAccessible.AnnouncementPoliteness.Polite
        )
        QAccessible.updateAccessibility(event)
        QAccessible.updateAccessibility(
            QAccessibleEvent(self, QAccessible.Event.DescriptionChanged)
        )
        self.announced.emit(message)

    def _fit(self) -> None:
        # Shown/hidden rows change the height; the layout only notices on its next event
        # otherwise, and the stack needs the new height now to place the popups.
        layout = self.layout()
        assert layout is not None  # _build gave the card its layout
        layout.invalidate()
        layout.activate()
        self.adjustSize()

    def _set_accent(self, accent: str) -> None:
        colour = QColor(self.ACCENTS[accent])
        stripe = self._accent.palette()
        stripe.setColor(self._accent.backgroundRole(), colour)
        self._accent.setPalette(stripe)
        self._accent.setProperty("state", accent)
        # The state line in the same colour family, as dark (or, on a dark theme, as light)
        # as it takes to read it on the card: 4.5:1 at least (WCAG AA).
        colours = self._state_label.palette()
        background = self.palette().color(self.backgroundRole())
        colours.setColor(self._state_label.foregroundRole(), palette.readable(colour, background))
        self._state_label.setPalette(colours)

    def _start_close_timer(self, seconds: float) -> None:
        if seconds <= 0 or self._close_timer.isActive():
            return
        if self._paused_remaining is not None:
            return  # the mouse is over the popup; the countdown resumes when it leaves
        self._close_timer.start(round(seconds * 1000))

    @property
    def closing(self) -> bool:
        """True while the closing countdown runs (or waits for the mouse to leave)."""
        return self._close_timer.isActive() or self._paused_remaining is not None

    # -- actions

    def copy_text(self) -> str:
        return self._view.copy_text

    def copy_number(self) -> None:
        text = self.copy_text()
        if not text:
            return
        QGuiApplication.clipboard().setText(text)
        self._copy.setText(translate("Popup", "Copied ✓"))
        QTimer.singleShot(1500, self, lambda: self._copy.setText(_copy_label()))

    def crm_url(self) -> str:
        return self._view.crm_url

    def open_crm(self) -> None:
        url = self.crm_url()
        if not url:
            return
        if not self._url_opener(QUrl(url)):
            log.warning("could not open the CRM address %s", url)
        self.crm_opened.emit(url)

    def _on_answer(self) -> None:
        self._answer_clicked = True
        self._answer.setEnabled(False)
        self.answer_requested.emit(self._view.key, self._view.ringing_device)

    def dismiss(self) -> None:
        self.close()

    def retire(self) -> None:
        """Leave the screen without a word (the stack keeps the call's view; no `closed`)."""
        self._closed_emitted = True
        self._close_timer.stop()
        self.hide()
        self.deleteLater()

    # -- focus: shown without activation, keyboard-usable after a click

    def showEvent(self, event: QShowEvent) -> None:
        active = QApplication.activeWindow()
        if isinstance(active, CallPopup) and active is not self:
            # Another popup has it for a moment (it hands it back): the window before it.
            self._previous_active = active._previous_active
        elif active is not None and active is not self:
            self._previous_active = weakref.ref(active)
        super().showEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress:
            self.allow_focus()
        return False  # the press still does what it does (selects text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.allow_focus()
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        # Dragged far enough with the left button: the call goes onto a colleague.
        start = self._press_at
        if (
            start is not None
            and event.buttons() & Qt.MouseButton.LeftButton
            and self._view.allows(Action.PUT_THROUGH)
            and (event.position().toPoint() - start).manhattanLength()
            >= QApplication.startDragDistance()
        ):
            self._press_at = None
            call_drag(self, self._view.key)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press_at = None
        super().mouseReleaseEvent(event)

    def take_keyboard(self) -> None:
        """On purpose (the console's F2): activate the popup and put the keyboard on its
        first action (Answer, else Put through), so that Enter, Alt+A, Tab and Esc work."""
        self.allow_focus()
        self.raise_()
        self.activateWindow()
        for button in (
            self._answer,
            self._put_through,
            self._note,
            self._copy,
            self._crm,
            self._dismiss,
        ):
            if button.isVisible() and button.isEnabled():
                button.setFocus(Qt.FocusReason.ShortcutFocusReason)
                break

    def allow_focus(self) -> None:
        """The user clicked: now the popup may be activated (keyboard, Escape)."""
        if self._focus_allowed:
            return
        self._focus_allowed = True
        handle = self.windowHandle()
        if handle is not None:
            # On the QWindow, not with setWindowFlags(): that would hide and re-show the widget.
            handle.setFlag(Qt.WindowType.WindowDoesNotAcceptFocus, False)
        self.activateWindow()

    @property
    def focus_allowed(self) -> bool:
        return self._focus_allowed

    def changeEvent(self, event: QEvent) -> None:
        if (
            event.type() == QEvent.Type.ActivationChange
            and self.isActiveWindow()
            and not self._focus_allowed
        ):
            # The window system activated us although we asked it not to (some window
            # managers, Qt's offscreen platform): hand the focus back to where it was.
            previous = self._previous_active() if self._previous_active is not None else None
            if previous is not None and shiboken6.isValid(previous) and previous.isVisible():
                previous.activateWindow()
        super().changeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.isActiveWindow():
            event.accept()
            self.dismiss()
            return
        super().keyPressEvent(event)

    # -- hover pauses the countdown: nobody wants the card to vanish under the pointer

    def enterEvent(self, event: QEnterEvent) -> None:
        if self._close_timer.isActive():
            self._paused_remaining = self._close_timer.remainingTime()
            self._close_timer.stop()
        super().enterEvent(event)
        self.hovered.emit(True)

    def leaveEvent(self, event: QEvent) -> None:
        if self._paused_remaining is not None:
            remaining = max(self._paused_remaining, 1500)
            self._paused_remaining = None
            self._close_timer.start(remaining)
        super().leaveEvent(event)
        self.hovered.emit(False)

    # -- look

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        pen = QPen(self.palette().color(self.palette().ColorRole.Dark))
        pen.setWidth(1)
        painter.setPen(pen)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._close_timer.stop()
        super().closeEvent(event)
        if event.isAccepted() and not self._closed_emitted:
            self._closed_emitted = True
            self.closed.emit(self._view.key)


class MoreCalls(QLabel):
    """The line after the stack's last popup: how many more calls there are than fit.
    A click asks for the history (`clicked`)."""

    clicked = Signal()
    hovered = Signal(bool)

    def __init__(self) -> None:
        super().__init__(
            None,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus,
        )
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setAttribute(Qt.WidgetAttribute.WA_MacAlwaysShowToolWindow)
        self.setObjectName("moreCalls")
        self.setWindowTitle(translate("Popup", "More calls"))
        self.setAccessibleName(translate("Popup", "More calls"))
        self.setAttribute(Qt.WidgetAttribute.WA_AlwaysShowToolTips)
        plain_label(self)
        self.setFixedWidth(POPUP_WIDTH)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMargin(6)
        self.setBackgroundRole(self.palette().ColorRole.Base)
        self.setAutoFillBackground(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(translate("Popup", "Show the call history"))
        font = QFont(self.font())
        font.setBold(True)
        self.setFont(font)

    def set_count(self, hidden: int, ringing: int) -> None:
        self.setText(
            texts.count("more ringing", hidden)
            if ringing == hidden
            else texts.count("more calls, ringing", hidden, ringing=ringing)
            if ringing
            else texts.count("more calls", hidden)
        )
        self.adjustSize()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit()

    def enterEvent(self, event: QEnterEvent) -> None:
        super().enterEvent(event)
        self.hovered.emit(True)

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self.hovered.emit(False)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        painter = QPainter(self)  # the same frame as the popups'
        painter.setPen(QPen(self.palette().color(self.palette().ColorRole.Dark)))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))


# --- the stack -----------------------------------------------------------------------------


class PopupStack(QObject):
    """Places popups in a corner of one screen, newest nearest the corner, without gaps.

    The screen is chosen when the first popup of a burst appears (the primary one, or the one
    under the mouse) and kept until all popups are gone, so a stack never jumps between
    screens.  Only the newest `max_visible` calls are on screen, as widgets; the others are
    kept as views, counted on a "+N more" line after the last popup, and come back when newer
    ones close; one whose view says it closes while it is not on screen goes at once.

    While the pointer is over a popup or the "+N more" line (`pointer_over`), nothing on
    screen moves: a popup that closes leaves its gap, a new call appears beyond the farthest
    popup when it fits there (else it waits, counted on the "+N more" line), and the stack
    reflows LEAVE_GRACE_MS after the pointer has left.  A click meant for one popup's button
    never lands on another that slid into its place.

    Signals: `shown(call_key)` (a new call, on screen or not), `closed(call_key)`,
    `more_clicked()`, and the popups' `answer_requested(call_key, device)`,
    `put_through_requested(call_key)`, `note_requested(call_key)` and `crm_opened(url)`.
    """

    shown = Signal(str)
    closed = Signal(str)
    answer_requested = Signal(str, str)
    put_through_requested = Signal(str)
    note_requested = Signal(str)
    crm_opened = Signal(str)
    more_clicked = Signal()

    def __init__(
        self,
        *,
        screen: str = "primary",
        corner: str = "bottom-right",
        spacing: int = 8,
        margin: int = 12,
        max_visible: int = 5,
        url_opener: UrlOpener | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._views: OrderedDict[str, PopupView] = OrderedDict()  # oldest first
        self._widgets: dict[str, CallPopup] = {}
        self._more: MoreCalls | None = None
        self._placing = False
        # A burst (more new popups in one turn of the event loop than fit on screen) is
        # placed once, when the loop gets control back: widgets for the ones left on screen
        # then, not for each call of a flood only to drop it again.
        self._made_this_turn = 0
        self._deferred = False
        self._turn = QTimer(self)
        self._turn.setSingleShot(True)
        self._turn.setInterval(0)
        self._turn.timeout.connect(self._end_of_turn)
        self._screen: QScreen | None = None
        self._geometry_connection: QMetaObject.Connection | None = None
        self._screen_choice = "primary"
        self._corner = "bottom-right"
        self.spacing = spacing
        self.margin = margin
        self.max_visible = max(1, max_visible)
        self._url_opener = url_opener
        self._pointer_over = False
        self._leave_timer = QTimer(self)
        self._leave_timer.setSingleShot(True)
        self._leave_timer.setInterval(LEAVE_GRACE_MS)
        self._leave_timer.timeout.connect(self._pointer_left)
        self.configure(screen=screen, corner=corner)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.screenRemoved.connect(self._on_screen_removed)

    def configure(self, *, screen: str | None = None, corner: str | None = None) -> None:
        """Apply the popup settings (popup.screen, popup.corner); open popups move at once."""
        if screen is not None:
            if screen not in SCREEN_CHOICES:
                raise ValueError(f"screen must be one of {SCREEN_CHOICES}, not {screen!r}")
            if screen != self._screen_choice:
                self._screen_choice = screen
                self._set_screen(None)
        if corner is not None:
            if corner not in CORNERS:
                raise ValueError(f"corner must be one of {CORNERS}, not {corner!r}")
            self._corner = corner
        self.relayout()

    @property
    def corner(self) -> str:
        return self._corner

    @property
    def screen(self) -> QScreen | None:
        """The screen of the current burst (None when no popup is open)."""
        return self._screen

    def call_keys(self) -> list[str]:
        """The calls with a popup, on screen or not, newest first."""
        return list(reversed(self._views))

    def popups(self) -> list[CallPopup]:
        """The popups on screen, newest (nearest the corner) first."""
        return [self._widgets[k] for k in self._visible_keys() if k in self._widgets]

    visible_popups = popups

    def hidden_count(self) -> int:
        """Calls with a popup that does not fit on screen (the "+N more" line)."""
        return max(0, len(self._views) - self.max_visible)

    def more_line(self) -> MoreCalls | None:
        return self._more

    def popup(self, call_key: str) -> CallPopup | None:
        """The popup widget of a call, None when it has none on screen."""
        return self._widgets.get(call_key)

    def view(self, call_key: str) -> PopupView | None:
        return self._views.get(call_key)

    def show(self, view: PopupView) -> CallPopup | None:
        """Show a popup for the view's call, or pass the newer view to the one open for it.
        The call's widget, or None when it is not on screen."""
        if view.key in self._views:
            self.update(view)
            return self._widgets.get(view.key)
        if not self._views:
            self._set_screen(self._choose_screen())
        self._views[view.key] = view
        self.relayout()
        self.shown.emit(view.key)
        return self._widgets.get(view.key)

    def update(self, view: PopupView) -> bool:
        """Pass a newer view of a call to its popup; False when it has none (any more)."""
        if view.key not in self._views:
            return False
        self._views[view.key] = view
        widget = self._widgets.get(view.key)
        if widget is not None:
            widget.show_view(view)
        elif view.closes_in is not None:
            self._forget(view.key)  # not on screen, and its news is final: it goes now
            return True
        self.relayout()
        return True

    @property
    def pointer_over(self) -> bool:
        """The pointer is over the stack (or left it less than LEAVE_GRACE_MS ago): nothing
        on screen moves."""
        return self._pointer_over

    def _on_hovered(self, inside: bool) -> None:
        if inside:
            self._leave_timer.stop()
            self._pointer_over = True
        elif self._pointer_over:
            self._leave_timer.start()

    def _pointer_left(self) -> None:
        # A window that closes under the pointer sends no leave: ask where the pointer is.
        pos = QCursor.pos()
        widgets: list[QWidget] = list(self._widgets.values())
        if self._more is not None:
            widgets.append(self._more)
        if any(w.isVisible() and w.frameGeometry().contains(pos) for w in widgets):
            self._leave_timer.start()
            return
        self._pointer_over = False
        self.relayout()

    def focus_newest_ringing(self) -> CallPopup | None:
        """Give the keyboard to the newest ringing popup (else the newest popup), on purpose:
        the console's F2.  The popup, None when none is on screen."""
        popups = self.popups()
        chosen = next(
            (p for p in popups if p.view.state is PopupState.RINGING), popups[0] if popups else None
        )
        if chosen is not None:
            chosen.take_keyboard()
        return chosen

    def close_call(self, call_key: str) -> None:
        widget = self._widgets.get(call_key)
        if widget is not None:
            widget.close()
        elif call_key in self._views:
            self._forget(call_key)

    def close_all(self) -> None:
        for key in list(self._views):
            self.close_call(key)
        if self._more is not None:
            self._more.hide()
            self._more.deleteLater()
            self._more = None

    # -- placement

    def _visible_keys(self) -> list[str]:
        """The keys on screen, newest first."""
        return list(reversed(self._views))[: self.max_visible]

    def _choose_screen(self) -> QScreen | None:
        if self._screen_choice == "mouse":
            screen = QGuiApplication.screenAt(QCursor.pos())
            if screen is not None:
                return screen
        return QGuiApplication.primaryScreen()

    def _set_screen(self, screen: QScreen | None) -> None:
        if self._geometry_connection is not None:
            # Through the Connection object: PySide6 6.12's signal.disconnect(slot) returns
            # True without owning a reference, and enough calls crash the interpreter.
            QObject.disconnect(self._geometry_connection)
            self._geometry_connection = None
        self._screen = screen
        if screen is not None:
            self._geometry_connection = screen.availableGeometryChanged.connect(
                self._on_geometry_changed
            )

    def _on_geometry_changed(self, _rect: QRect) -> None:
        self.relayout()

    def _on_screen_removed(self, screen: QScreen) -> None:
        if screen is self._screen:
            self._set_screen(self._choose_screen() if self._views else None)
            self.relayout()

    def position_for(self, size: QSize, offset: int, available: QRect) -> QPoint:
        """Top-left of a popup of `size` whose edge is `offset` pixels in from the corner."""
        right = self._corner.endswith("right")
        bottom = self._corner.startswith("bottom")
        x = (
            available.x() + available.width() - self.margin - size.width()
            if right
            else available.x() + self.margin
        )
        y = (
            available.y() + available.height() - self.margin - offset - size.height()
            if bottom
            else available.y() + self.margin + offset
        )
        return QPoint(x, y)

    def _on_popup_resized(self) -> None:
        if not self._placing:
            self.relayout()

    def relayout(self) -> None:
        """Put every popup on screen in its place, make widgets for the calls that came into
        view, release those that went out of it, and update the "+N more" line (while the
        pointer is over the stack: only where nothing moves)."""
        if self._placing or self._deferred:
            return
        self._placing = True
        try:
            if self._pointer_over and self._widgets:
                self._place_still()
            else:
                self._place()
        finally:
            self._placing = False

    def _place_still(self) -> None:
        """The pointer is over the stack: no popup moves.  New calls (the newest first) get
        a popup beyond the farthest one while it fits on the screen and the stack has fewer
        than `max_visible`; the rest wait as views."""
        for key in [
            k
            for k in self._views
            if k not in self._widgets and self._views[k].closes_in is not None
        ]:
            self._forget(key, relayout=False)  # closing, and not on screen: it goes now
        screen = self._screen
        if screen is None or not shiboken6.isValid(screen):
            return
        available = screen.availableGeometry()
        room = available.height() - 2 * self.margin
        for key in list(reversed(self._views)):
            if len(self._widgets) >= self.max_visible:
                break
            if key in self._widgets:
                continue
            offset = self._far_edge(available) + self.spacing
            popup = self._make(self._views[key])
            popup.adjustSize()
            if offset + popup.height() > room:
                self._widgets.pop(key).retire()  # no room where nothing moves: it waits
                break
            if popup.screen() is not screen and popup.windowHandle() is not None:
                popup.windowHandle().setScreen(screen)
            popup.move(self.position_for(popup.size(), offset, available))
            popup.show()
        hidden = [v for k, v in self._views.items() if k not in self._widgets]
        ringing = sum(1 for v in hidden if v.state is PopupState.RINGING)
        more = self._more
        if hidden and (more is None or not more.isVisible()):
            self._set_more(
                len(hidden), ringing, available, self._far_edge(available) + self.spacing
            )
        elif more is not None and more.isVisible():
            if hidden:
                more.set_count(len(hidden), ringing)  # its text only; it stays where it is
            else:
                more.hide()

    def _far_edge(self, available: QRect) -> int:
        """How far from the corner's edge the farthest popup (or "+N more" line) reaches."""
        widgets: list[QWidget] = list(self._widgets.values())
        if self._more is not None and self._more.isVisible():
            widgets.append(self._more)
        if not self._corner.startswith("bottom"):
            top = available.y() + self.margin
            return max((w.y() + w.height() - top for w in widgets), default=-self.spacing)
        bottom = available.y() + available.height() - self.margin
        return max((bottom - w.y() for w in widgets), default=-self.spacing)

    def _place(self) -> None:
        visible = self._visible_keys()
        for key in [k for k in self._widgets if k not in visible]:
            self._widgets.pop(key).retire()
        for key in [k for k in self._views if k not in visible]:
            if self._views[key].closes_in is not None:
                self._forget(key, relayout=False)  # pushed out of view while closing
        if not self._views:
            self._set_more(0, 0, None, 0)
            return
        if self._screen is None or not shiboken6.isValid(self._screen):
            self._set_screen(self._choose_screen())
        if self._screen is None:
            return
        available = self._screen.availableGeometry()
        offset = 0
        for key in visible:
            popup = self._widgets.get(key)
            if popup is None:
                popup = self._make(self._views[key])
            popup.adjustSize()
            size = popup.size()
            if popup.screen() is not self._screen and popup.windowHandle() is not None:
                popup.windowHandle().setScreen(self._screen)
            popup.move(self.position_for(size, offset, available))
            if not popup.isVisible():
                popup.show()
            offset += size.height() + self.spacing
        hidden = [v for k, v in self._views.items() if k not in visible]
        ringing = sum(1 for v in hidden if v.state is PopupState.RINGING)
        self._set_more(len(hidden), ringing, available, offset)

    def _make(self, view: PopupView) -> CallPopup:
        self._made_this_turn += 1
        if self._made_this_turn >= max(10, 2 * self.max_visible):
            self._deferred = True  # a flood: the next ones wait for the end of the turn
        if not self._turn.isActive():
            self._turn.start()
        popup = CallPopup(view, url_opener=self._url_opener)
        popup.closed.connect(self._on_popup_closed)
        popup.resized.connect(self._on_popup_resized)
        popup.hovered.connect(self._on_hovered)
        popup.answer_requested.connect(self.answer_requested)
        popup.put_through_requested.connect(self.put_through_requested)
        popup.note_requested.connect(self.note_requested)
        popup.crm_opened.connect(self.crm_opened)
        self._widgets[view.key] = popup
        return popup

    def _end_of_turn(self) -> None:
        self._made_this_turn = 0
        if self._deferred:
            self._deferred = False
            self.relayout()

    def _set_more(self, hidden: int, ringing: int, available: QRect | None, offset: int) -> None:
        if hidden == 0 or available is None:
            if self._more is not None:
                self._more.hide()
            return
        if self._more is None:
            self._more = MoreCalls()
            self._more.clicked.connect(self.more_clicked)
            self._more.hovered.connect(self._on_hovered)
        self._more.set_count(hidden, ringing)
        if self._screen is not None and self._more.windowHandle() is not None:
            self._more.windowHandle().setScreen(self._screen)
        self._more.move(self.position_for(self._more.size(), offset, available))
        if not self._more.isVisible():
            self._more.show()

    def _forget(self, call_key: str, *, relayout: bool = True) -> None:
        self._views.pop(call_key, None)
        widget = self._widgets.pop(call_key, None)
        if widget is not None:
            widget.retire()
        if not self._views:
            self._set_screen(None)  # the next burst chooses its screen afresh
        elif relayout:
            self.relayout()
        self.closed.emit(call_key)

    def _on_popup_closed(self, call_key: str) -> None:
        if self._pointer_over:
            self._leave_timer.start()  # it may have closed under the pointer (no leave)
        widget = self._widgets.pop(call_key, None)
        if widget is not None:
            widget.deleteLater()
        self._forget(call_key)


# --- sound ---------------------------------------------------------------------------------


class RingSound:
    """Plays a WAV file once per new popup, with what the system has.

    PySide6-Essentials has no QtMultimedia (QSoundEffect is in PySide6-Addons), so this uses the
    platform's own player: winsound on Windows, afplay on macOS, paplay/pw-play/aplay on Linux,
    and the desktop's beep when none is there.
    """

    LINUX_PLAYERS = ("paplay", "pw-play", "aplay")

    def __init__(
        self, file: str = "", *, start_detached: Callable[[str, list[str]], bool] | None = None
    ) -> None:
        self.file = file or str(resource_path("sounds/ring.wav"))
        self._start_detached = start_detached or _start_detached

    def command(self) -> list[str] | None:
        """The player command for this platform, or None (beep instead)."""
        if sys.platform == "darwin":
            return ["afplay", self.file]
        for player in self.LINUX_PLAYERS:
            if shutil.which(player):
                return [player, self.file]
        return None

    def play(self) -> None:
        if sys.platform == "win32":
            try:
                import winsound

                winsound.PlaySound(
                    self.file, winsound.SND_FILENAME | winsound.SND_ASYNC | winsound.SND_NODEFAULT
                )
                return
            except (ImportError, RuntimeError) as exc:
                log.info("could not play %s: %s", self.file, exc)
        command = self.command()
        if command is None or not self._start_detached(command[0], command[1:]):
            QApplication.beep()


def _start_detached(program: str, arguments: list[str]) -> bool:
    from PySide6.QtCore import QProcess

    ok, _pid = QProcess.startDetached(program, arguments)
    return bool(ok)
