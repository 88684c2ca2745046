"""The app's icons: SVGs from resources/icons/ (drawn for this project) and the tray icon's
runtime overlays (do-not-disturb moon, missed-call count badge) painted with QPainter.

PySide6-Essentials ships Qt's SVG icon engine and image plugin, so QIcon loads the SVGs
directly and renders them sharp at every size and device pixel ratio.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QPainter, QPainterPath, QPen, QPixmap

from cstapopup.calls.model import Call, Direction, Outcome
from cstapopup.resources import path as resource_path

#: Link states the tray shows, each with its own SVG (icons/tray-<state>.svg).
TRAY_STATES = ("up", "connecting", "down", "demo")

#: Sizes rendered into the tray QIcon: Qt picks the one nearest to what the tray asks for,
#: and the larger ones serve high-DPI screens.
TRAY_SIZES = (16, 20, 22, 24, 32, 40, 48, 64, 128)

#: History icons by name (icons/call-<name>.svg).
HISTORY_ICON_NAMES = (
    "incoming",
    "outgoing",
    "internal",
    "missed",
    "answered-elsewhere",
    "transferred",
    "diverted",
    "busy",
    "unknown",
)

_BADGE_RED = QColor("#d32f2f")


class UnknownIconError(KeyError):
    """An icon name that has no SVG in resources/icons/."""


@cache
def icon(name: str) -> QIcon:
    """The icon resources/icons/<name>.svg (cached: QIcon renders and caches sizes lazily)."""
    path = resource_path(f"icons/{name}.svg")
    if not path.is_file():
        raise UnknownIconError(name)
    result = QIcon(str(path))
    if result.isNull():  # no SVG support: say so rather than show blank icons
        raise RuntimeError(f"Qt could not load {path} (is the Qt SVG plugin installed?)")
    return result


def app_icon() -> QIcon:
    return icon("app")


def badge_text(count: int) -> str:
    """What the badge says: nothing for 0, the number up to 99, then "99+"."""
    if count <= 0:
        return ""
    return str(count) if count <= 99 else "99+"


def paint_badge(painter: QPainter, icon_rect: QRectF, text: str) -> None:
    """A red pill with white text in the top-right corner of `icon_rect`.

    The badge is about 55 % of the icon's height so that the number stays readable in a 16 px
    tray; longer texts grow the pill to the left rather than shrinking the digits.
    """
    if not text:
        return
    size = icon_rect.height()
    if size < 20 and len(text) > 1:
        # Two or three digits in a 16 px icon are a smudge; a plain red dot still says
        # "missed calls", and the tooltip has the number.
        text = " "
    height = max(7.0, size * 0.56)
    font = QFont(painter.font())
    font.setBold(True)
    # Pixel size, not point size: the badge is drawn in the pixmap's logical pixels.
    font.setPixelSize(max(6, round(height * (0.78 if len(text) == 1 else 0.70))))
    metrics = QFontMetricsF(font)
    text_width = metrics.horizontalAdvance(text)
    width = max(height, text_width + height * 0.45)
    width = min(width, icon_rect.width())
    rect = QRectF(icon_rect.right() - width, icon_rect.top(), width, height)
    outline = max(1.0, size / 24)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(
        rect.adjusted(outline / 2, outline / 2, -outline / 2, -outline / 2), height / 2, height / 2
    )
    painter.setPen(QPen(QColor("white"), outline))
    painter.setBrush(_BADGE_RED)
    painter.drawPath(path)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


def tray_pixmap(
    state: str,
    size: int,
    *,
    missed: int = 0,
    dnd: bool = False,
    device_pixel_ratio: float = 1.0,
    warning: bool = False,
) -> QPixmap:
    """One rendering of the tray icon: the state's SVG, the moon when DND is on, the warning
    sign when calls are not being saved, the badge."""
    if state not in TRAY_STATES:
        raise UnknownIconError(state)
    pixels = round(size * device_pixel_ratio)
    pixmap = QPixmap(pixels, pixels)
    pixmap.setDevicePixelRatio(device_pixel_ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    rect = QRectF(0, 0, size, size)
    icon(f"tray-{state}").paint(painter, rect.toRect())
    if dnd:
        icon("dnd").paint(painter, rect.toRect())
    if warning:
        icon("history-warning").paint(painter, rect.toRect())
    paint_badge(painter, rect, badge_text(missed))
    painter.end()
    return pixmap


def tray_icon(state: str, *, missed: int = 0, dnd: bool = False, warning: bool = False) -> QIcon:
    """The tray icon for a link state, with the DND moon, the history's warning sign and the
    missed-call badge."""
    result = QIcon()
    for size in TRAY_SIZES:
        result.addPixmap(tray_pixmap(state, size, missed=missed, dnd=dnd, warning=warning))
    return result


def history_icon_name(call: Call) -> str:
    """Which history icon a call gets: its outcome when that is the news, else its direction."""
    by_outcome = {
        Outcome.MISSED: "missed",
        Outcome.ANSWERED_ELSEWHERE: "answered-elsewhere",
        Outcome.TRANSFERRED: "transferred",
        Outcome.DIVERTED: "diverted",
        Outcome.BUSY: "busy",
    }
    if call.outcome in by_outcome:
        return by_outcome[call.outcome]
    return {
        Direction.INCOMING: "incoming",
        Direction.OUTGOING: "outgoing",
        Direction.INTERNAL: "internal",
        Direction.UNKNOWN: "unknown",
    }[call.direction]


def history_icon(call: Call) -> QIcon:
    return icon(f"call-{history_icon_name(call)}")


def call_icon(name: str) -> QIcon:
    """A history icon by name (one of HISTORY_ICON_NAMES)."""
    if name not in HISTORY_ICON_NAMES:
        raise UnknownIconError(name)
    return icon(f"call-{name}")


def icon_pixmap(qicon: QIcon, size: int, device_pixel_ratio: float = 1.0) -> QPixmap:
    """`qicon` at `size` logical pixels for a given device pixel ratio (sharp on high DPI)."""
    return qicon.pixmap(QSize(size, size), device_pixel_ratio)
