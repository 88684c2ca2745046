"""The call popup: a small always-on-top card per ringing call, and the stack that places them
in a corner of a screen. Popups never take the keyboard focus when they appear.

A popup follows its call (`update_call`): ringing, answered, ended, missed. It closes by itself
a few seconds after the call was answered elsewhere or ended, never while it rings.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
from collections.abc import Callable
from typing import ClassVar

import shiboken6
from PySide6.QtCore import (
    QEvent,
    QMetaObject,
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
    QColor,
    QCursor,
    QDesktopServices,
    QFont,
    QGuiApplication,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QScreen,
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

from cstapopup import resources
from cstapopup.calls.model import Call, Outcome
from cstapopup.settings import fill_url_template
from cstapopup.ui import icons

log = logging.getLogger(__name__)

#: Logical (device-independent) width of a popup; Qt scales it on high-DPI screens.
POPUP_WIDTH = 372
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
SCREEN_CHOICES = ("primary", "mouse")

UrlOpener = Callable[[QUrl], bool]


# --- texts ---------------------------------------------------------------------------------

def format_duration(seconds: float) -> str:
    """2:31, or 1:02:03 past an hour."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def dialable(display_number: str) -> str:
    """The number without the spaces and punctuation used to make it readable."""
    return "".join(c for c in display_number if c.isdigit() or c in "+*#")


def is_ringing(call: Call) -> bool:
    return call.is_live and call.answered_at is None and call.outcome == Outcome.IN_PROGRESS


def state_text(call: Call, ringing_device: str) -> str:
    """The line that follows the call: Ringing, Answered by 102, Ended (2:31), Missed, ..."""
    if call.end_unknown:
        return "Link to the PBX lost: the end of this call is not known"
    by = call.answered_by
    answered = ""
    if call.answered_at is not None or call.outcome == Outcome.ANSWERED_ELSEWHERE:
        if by is None:
            answered = "Answered"
        elif by == ringing_device:
            answered = f"Answered at {by}"
        else:
            answered = f"Answered by {by}"
    outcome = call.outcome
    if outcome == Outcome.TRANSFERRED and call.transferred_to:
        return f"Transferred to {call.transferred_to}"
    if outcome == Outcome.DIVERTED:
        return f"Forwarded to {call.diverted_to}" if call.diverted_to else "Forwarded"
    if outcome == Outcome.MISSED:
        return "Missed"
    if outcome == Outcome.BUSY:
        return "Busy"
    if outcome == Outcome.FAILED:
        return "Failed"
    if call.ended_at is not None:
        talk = call.talk_seconds
        if talk is not None:
            ended = f"ended ({format_duration(talk)})"
            return f"{answered} · {ended}" if answered else ended.capitalize()
        return answered or "Ended"
    if answered:
        return answered
    return "Ringing"


def redirection(call: Call, ringing_device: str) -> tuple[str | None, str | None]:
    """(forwarded from, transferred by) as told by the call's hops, for the ringing device."""
    forwarded_from = transferred_by = None
    for hop in call.hops:
        if hop.device and hop.device != ringing_device:
            if hop.kind == "diverted":
                forwarded_from = hop.device
            elif hop.kind == "transferred":
                transferred_by = hop.device
    return forwarded_from, transferred_by


# --- pieces --------------------------------------------------------------------------------

class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when the text does not fit (full text in the tooltip)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        self.setToolTip(self._full_text if self._elided() != self._full_text else "")

    def resizeEvent(self, event: QEvent) -> None:
        super().resizeEvent(event)
        self._update_tooltip()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        elided = self._elided()
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), elided)


class Avatar(QWidget):
    """The caller's initials on a colour derived from the name, or a handset when nameless."""

    def __init__(self, size: int = 44, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(size, size)
        self._name: str | None = None

    def set_name(self, name: str | None) -> None:
        self._name = name
        self.update()

    def initials(self) -> str:
        # Titles and abbreviations ("Dr.", "Prof.") say nothing about who it is.
        words = [w for w in (self._name or "").replace(",", " ").split()
                 if w[:1].isalnum() and not w.endswith(".")]
        if not words:
            return ""
        if len(words) == 1:
            return words[0][:2].upper()
        return (words[0][0] + words[-1][0]).upper()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        text = self.initials()
        if not text:
            icons.icon("caller-unknown").paint(painter, rect.toRect())
            return
        # A stable colour per name, dark enough for white text.
        digest = hashlib.sha1((self._name or "").encode("utf-8")).digest()
        colour = QColor.fromHsl(digest[0] * 360 // 256, 120, 95)
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

class CallPopup(QWidget):
    """One call's card. Shown without activation; clicking it makes it keyboard-usable.

    Signals: `answer_requested(call_key, device)`, `crm_opened(url)`, `closed(call_key)`
    (once, however it closed).
    """

    answer_requested = Signal(str, str)
    crm_opened = Signal(str)
    closed = Signal(str)
    #: The height changed (a late phone-book answer, a row shown or hidden): the stack re-places.
    resized = Signal()

    #: Accent colours of the stripe on the left, by state.
    ACCENTS: ClassVar[dict[str, str]] = {
        "ringing": "#2e9d4a", "answered": "#1e63c6", "ended": "#8a949c", "missed": "#c62828",
    }

    def __init__(
        self,
        call: Call,
        *,
        name: str | None,
        company: str | None,
        display_number: str,
        ringing_device: str,
        own_device: str | None,
        crm_template: str,
        close_after: float,
        forwarded_from: str | None = None,
        transferred_by: str | None = None,
        url_opener: UrlOpener | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint
                         | Qt.WindowType.WindowDoesNotAcceptFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        # macOS hides tool windows of an inactive application; a tray app is never active.
        self.setAttribute(Qt.WidgetAttribute.WA_MacAlwaysShowToolWindow)
        self.setObjectName("callPopup")
        self.setWindowTitle("cstapopup: call")
        self.setAccessibleName("Incoming call")

        self._call = call
        self._ringing_device = ringing_device
        self._own_device = own_device or None
        self._crm_template = crm_template
        self._close_after = max(0.0, float(close_after))
        self._explicit_forwarded_from = forwarded_from
        self._explicit_transferred_by = transferred_by
        self._url_opener: UrlOpener = url_opener or QDesktopServices.openUrl
        self._name: str | None = None
        self._company: str | None = None
        self._display_number = ""
        self._focus_allowed = False
        self._previous_active: QWidget | None = None
        self._closed_emitted = False
        self._answer_clicked = False

        self._close_timer = QTimer(self)
        self._close_timer.setSingleShot(True)
        self._close_timer.timeout.connect(self.close)
        self._paused_remaining: int | None = None

        self._build()
        self.set_caller(name=name, company=company, display_number=display_number)
        self.update_call(call)

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
        self._dismiss.setToolTip("Dismiss (Esc)")
        self._dismiss.setAccessibleName("Dismiss")
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

        self._number_label = QLabel(self)
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

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.setContentsMargins(0, 6, 0, 0)
        self._answer = QPushButton("&Answer", self)
        self._answer.setObjectName("answer")
        self._answer.clicked.connect(self._on_answer)
        self._copy = QPushButton("&Copy number", self)
        self._copy.setObjectName("copy")
        self._copy.clicked.connect(self.copy_number)
        self._crm = QPushButton("Open C&RM", self)
        self._crm.setObjectName("crm")
        self._crm.clicked.connect(self.open_crm)
        for b in (self._answer, self._copy, self._crm):
            b.setAutoDefault(False)
            buttons.addWidget(b)
        buttons.addStretch(1)
        text.addLayout(buttons)

        # Reading order = tab order: the actions first, dismiss last.
        QWidget.setTabOrder(self._answer, self._copy)
        QWidget.setTabOrder(self._copy, self._crm)
        QWidget.setTabOrder(self._crm, self._dismiss)

        # A press anywhere on the card (a button included) makes it focusable: see allow_focus.
        for widget in (self, *self.findChildren(QWidget)):
            widget.installEventFilter(self)

    # -- content

    @property
    def call(self) -> Call:
        return self._call

    @property
    def call_key(self) -> str:
        return self._call.key

    @property
    def ringing_device(self) -> str:
        return self._ringing_device

    def set_caller(self, *, name: str | None, company: str | None, display_number: str) -> None:
        """Who is calling (the phone book's answer may come after the popup is shown)."""
        self._name = name or None
        self._company = company or None
        self._display_number = display_number
        call = self._call
        if self._name:
            self._title.setText(self._name)
            number_text = display_number
        elif call.remote_kind == "restricted":
            self._title.setText("Withheld number")
            number_text = ""
        elif not display_number:
            self._title.setText("Unknown number")
            number_text = ""
        else:
            self._title.setText(display_number)
            number_text = ""
        self._company_label.setText(self._company or "")
        self._company_label.setVisible(bool(self._company))
        self._number_label.setText(number_text)
        self._number_label.setVisible(bool(number_text))
        self._avatar.set_name(self._name)
        # Without a number (withheld, unknown) there is nothing to copy or look up: hide the
        # buttons rather than show dead ones.
        has_number = bool(self.copy_text())
        self._copy.setVisible(has_number)
        self._crm.setVisible(has_number and bool(self._crm_template))
        self.setAccessibleDescription(self._title.full_text())
        self._fit()

    def retarget(self, ringing_device: str, *, forwarded_from: str | None = None,
                 transferred_by: str | None = None) -> None:
        """The call now rings at another device (deflected, forwarded, transferred there)."""
        self._ringing_device = ringing_device
        self._explicit_forwarded_from = forwarded_from
        self._explicit_transferred_by = transferred_by
        self._answer_clicked = False
        self.update_call(self._call)

    def update_call(self, call: Call) -> None:
        """Follow the call's state; starts the closing countdown when the news is final."""
        if call.key != self._call.key:
            raise ValueError(f"popup for {self._call.key} got call {call.key}")
        self._call = call
        ringing = is_ringing(call)
        device = self._ringing_device
        where = f"Ringing at {device}" if ringing else f"Rang at {device}"
        if call.called_number and call.called_number != device:
            where += f" · line {call.called_number}"
        self._where_label.setText(where)

        derived_from, derived_by = redirection(call, device)
        forwarded_from = self._explicit_forwarded_from or derived_from
        transferred_by = self._explicit_transferred_by or derived_by
        parts = []
        if forwarded_from:
            parts.append(f"Forwarded from {forwarded_from}")
        if transferred_by:
            parts.append(f"Transferred by {transferred_by}")
        self._redirect_label.setText(" · ".join(parts))
        self._redirect_label.setVisible(bool(parts))

        self._state_label.setText(state_text(call, device))
        self._set_accent(self._accent_state(call))
        can_answer = (ringing and self._own_device is not None
                      and device == self._own_device)
        self._answer.setVisible(can_answer)
        self._answer.setEnabled(can_answer and not self._answer_clicked)

        if self._should_close_soon(call):
            self._start_close_timer()
        else:
            self._close_timer.stop()
            self._paused_remaining = None
        self._fit()

    def _fit(self) -> None:
        # Shown/hidden rows change the height; the layout only notices on its next event
        # otherwise, and the stack needs the new height now to place the popups.
        layout = self.layout()
        layout.invalidate()
        layout.activate()
        self.adjustSize()

    def _accent_state(self, call: Call) -> str:
        if is_ringing(call):
            return "ringing"
        if call.outcome in (Outcome.MISSED, Outcome.BUSY, Outcome.FAILED):
            return "missed"
        if call.is_live:
            return "answered"
        return "ended"

    def _set_accent(self, state: str) -> None:
        colour = QColor(self.ACCENTS[state])
        palette = self._accent.palette()
        palette.setColor(self._accent.backgroundRole(), colour)
        self._accent.setPalette(palette)
        self._accent.setProperty("state", state)
        # The state line in the same colour, darkened a little for contrast on white.
        palette = self._state_label.palette()
        palette.setColor(self._state_label.foregroundRole(), colour.darker(115))
        self._state_label.setPalette(palette)

    def _should_close_soon(self, call: Call) -> bool:
        if is_ringing(call):
            return False
        if not call.is_live:
            return True
        # Answered: stays while the user's own phone has the call (the popup is their notes
        # about the caller), goes when someone else took it.
        if call.outcome in (Outcome.ANSWERED_ELSEWHERE, Outcome.DIVERTED, Outcome.TRANSFERRED):
            return True
        return call.answered_by is None or call.answered_by != self._own_device

    def _start_close_timer(self) -> None:
        if self._close_after <= 0 or self._close_timer.isActive():
            return
        if self._paused_remaining is not None:
            return   # the mouse is over the popup; the countdown resumes when it leaves
        self._close_timer.start(round(self._close_after * 1000))

    @property
    def closing(self) -> bool:
        """True while the closing countdown runs (or waits for the mouse to leave)."""
        return self._close_timer.isActive() or self._paused_remaining is not None

    # -- actions

    def copy_text(self) -> str:
        if self._call.remote_kind != "number":
            return ""
        return dialable(self._display_number)

    def copy_number(self) -> None:
        text = self.copy_text()
        if not text:
            return
        QGuiApplication.clipboard().setText(text)
        self._copy.setText("Copied ✓")
        QTimer.singleShot(1500, self, lambda: self._copy.setText("&Copy number"))

    def crm_url(self) -> str:
        if not self._crm_template:
            return ""
        return fill_url_template(self._crm_template, number=self.copy_text(), name=self._name)

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
        self.answer_requested.emit(self._call.key, self._ringing_device)

    def dismiss(self) -> None:
        self.close()

    # -- focus: shown without activation, keyboard-usable after a click

    def showEvent(self, event: QEvent) -> None:
        active = QApplication.activeWindow()
        if active is not None and active is not self:
            self._previous_active = active
        super().showEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress:
            self.allow_focus()
        return False   # the press still does what it does (a button still clicks)

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
        if (event.type() == QEvent.Type.ActivationChange and self.isActiveWindow()
                and not self._focus_allowed):
            # The window system activated us although we asked it not to (some window
            # managers, Qt's offscreen platform): hand the focus back to where it was.
            previous = self._previous_active
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

    def enterEvent(self, event: QEvent) -> None:
        if self._close_timer.isActive():
            self._paused_remaining = self._close_timer.remainingTime()
            self._close_timer.stop()
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self._paused_remaining is not None:
            remaining = max(self._paused_remaining, 1500)
            self._paused_remaining = None
            self._close_timer.start(remaining)
        super().leaveEvent(event)

    # -- look

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        pen = QPen(self.palette().color(self.palette().ColorRole.Dark))
        pen.setWidth(1)
        painter.setPen(pen)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))

    def resizeEvent(self, event: QEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def closeEvent(self, event: QEvent) -> None:
        self._close_timer.stop()
        super().closeEvent(event)
        if event.isAccepted() and not self._closed_emitted:
            self._closed_emitted = True
            self.closed.emit(self._call.key)


# --- the stack -----------------------------------------------------------------------------

class PopupStack(QObject):
    """Places popups in a corner of one screen, newest nearest the corner, without gaps.

    The screen is chosen when the first popup of a burst appears (the primary one, or the one
    under the mouse) and kept until all popups are gone, so a stack never jumps between
    screens. Beyond `max_visible` popups the oldest are hidden (still followed and closed on
    time) and come back when newer ones close.

    Signals: `shown(call_key)`, `closed(call_key)`, and the popups' `answer_requested(call_key,
    device)` and `crm_opened(url)`.
    """

    shown = Signal(str)
    closed = Signal(str)
    answer_requested = Signal(str, str)
    crm_opened = Signal(str)

    def __init__(self, *, screen: str = "primary", corner: str = "bottom-right",
                 spacing: int = 8, margin: int = 12, max_visible: int = 5,
                 url_opener: UrlOpener | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._popups: list[CallPopup] = []       # oldest first
        self._placing = False
        self._screen: QScreen | None = None
        self._geometry_connection: QMetaObject.Connection | None = None
        self._screen_choice = "primary"
        self._corner = "bottom-right"
        self.configure(screen=screen, corner=corner)
        self.spacing = spacing
        self.margin = margin
        self.max_visible = max(1, max_visible)
        self._url_opener = url_opener
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

    def popups(self) -> list[CallPopup]:
        """Open popups, newest first (hidden overflow included)."""
        return list(reversed(self._popups))

    def visible_popups(self) -> list[CallPopup]:
        """The popups on screen, newest (nearest the corner) first."""
        return list(reversed(self._popups[-self.max_visible:]))

    def popup(self, call_key: str) -> CallPopup | None:
        for p in self._popups:
            if p.call_key == call_key:
                return p
        return None

    def show_call(self, call: Call, *, name: str | None, company: str | None,
                  display_number: str, ringing_device: str, own_device: str | None,
                  crm_template: str, close_after: float, forwarded_from: str | None = None,
                  transferred_by: str | None = None) -> CallPopup:
        """Show a popup for `call` (or update the one already open for it)."""
        existing = self.popup(call.key)
        if existing is not None:
            existing.update_call(call)
            if existing.ringing_device != ringing_device:
                existing.retarget(ringing_device, forwarded_from=forwarded_from,
                                  transferred_by=transferred_by)
            self.relayout()
            return existing
        if not self._popups:
            self._set_screen(self._choose_screen())
        popup = CallPopup(call, name=name, company=company, display_number=display_number,
                          ringing_device=ringing_device, own_device=own_device,
                          crm_template=crm_template, close_after=close_after,
                          forwarded_from=forwarded_from, transferred_by=transferred_by,
                          url_opener=self._url_opener)
        popup.closed.connect(self._on_popup_closed)
        popup.resized.connect(self._on_popup_resized)
        popup.answer_requested.connect(self.answer_requested)
        popup.crm_opened.connect(self.crm_opened)
        self._popups.append(popup)
        self.relayout()
        self.shown.emit(call.key)
        return popup

    def update_call(self, call: Call) -> bool:
        """Pass a newer state of a call to its popup; False when it has none (any more)."""
        popup = self.popup(call.key)
        if popup is None:
            return False
        popup.update_call(call)
        self.relayout()
        return True

    def close_call(self, call_key: str) -> None:
        popup = self.popup(call_key)
        if popup is not None:
            popup.close()

    def close_all(self) -> None:
        for popup in list(self._popups):
            popup.close()

    # -- placement

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
                self._on_geometry_changed)

    def _on_geometry_changed(self, _rect: QRect) -> None:
        self.relayout()

    def _on_screen_removed(self, screen: QScreen) -> None:
        if screen is self._screen:
            self._set_screen(self._choose_screen() if self._popups else None)
            self.relayout()

    def position_for(self, size: QSize, offset: int, available: QRect) -> QPoint:
        """Top-left of a popup of `size` whose edge is `offset` pixels in from the corner."""
        right = self._corner.endswith("right")
        bottom = self._corner.startswith("bottom")
        x = (available.x() + available.width() - self.margin - size.width() if right
             else available.x() + self.margin)
        y = (available.y() + available.height() - self.margin - offset - size.height() if bottom
             else available.y() + self.margin + offset)
        return QPoint(x, y)

    def _on_popup_resized(self) -> None:
        if not self._placing:
            self.relayout()

    def relayout(self) -> None:
        """Put every visible popup in its place; hide the overflow."""
        if not self._popups or self._placing:
            return
        self._placing = True
        try:
            self._place()
        finally:
            self._placing = False

    def _place(self) -> None:
        if self._screen is None or not shiboken6.isValid(self._screen):
            self._set_screen(self._choose_screen())
        if self._screen is None:
            return
        available = self._screen.availableGeometry()
        visible = self.visible_popups()
        for popup in self._popups:
            if popup not in visible and popup.isVisible():
                popup.hide()
        offset = 0
        for popup in visible:
            popup.adjustSize()
            size = popup.size()
            if popup.screen() is not self._screen and popup.windowHandle() is not None:
                popup.windowHandle().setScreen(self._screen)
            popup.move(self.position_for(size, offset, available))
            if not popup.isVisible():
                popup.show()
            offset += size.height() + self.spacing

    def _on_popup_closed(self, call_key: str) -> None:
        popup = self.popup(call_key)
        if popup is not None:
            self._popups.remove(popup)
            popup.deleteLater()
        if self._popups:
            self.relayout()
        else:
            self._set_screen(None)   # the next burst chooses its screen afresh
        self.closed.emit(call_key)


# --- sound ---------------------------------------------------------------------------------

class RingSound:
    """Plays a WAV file once per new popup, with what the system has.

    PySide6-Essentials has no QtMultimedia (QSoundEffect is in PySide6-Addons), so this uses the
    platform's own player: winsound on Windows, afplay on macOS, paplay/pw-play/aplay on Linux,
    and the desktop's beep when none is there.
    """

    LINUX_PLAYERS = ("paplay", "pw-play", "aplay")

    def __init__(self, file: str = "", *,
                 start_detached: Callable[[str, list[str]], bool] | None = None) -> None:
        self.file = file or str(resources.path("sounds/ring.wav"))
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
                winsound.PlaySound(self.file, winsound.SND_FILENAME | winsound.SND_ASYNC
                                   | winsound.SND_NODEFAULT)
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
