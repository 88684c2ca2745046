"""Colours that stay readable: WCAG 2 contrast ratios, and a colour of a family (a popup's
state, a warning) made dark or light enough to read on the background it is drawn on, in a
light theme, a dark one or a high-contrast one alike."""

from __future__ import annotations

from PySide6.QtGui import QColor

#: WCAG 2 AA for normal text.
TEXT_CONTRAST = 4.5


def _channel(value: float) -> float:
    return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4


def luminance(colour: QColor) -> float:
    """The relative luminance of an opaque colour (WCAG 2)."""
    return (
        0.2126 * _channel(colour.redF())
        + 0.7152 * _channel(colour.greenF())
        + 0.0722 * _channel(colour.blueF())
    )


def blend(colour: QColor, background: QColor) -> QColor:
    """`colour` (perhaps translucent) as it shows on an opaque `background`."""
    alpha = colour.alphaF()
    return QColor.fromRgbF(
        colour.redF() * alpha + background.redF() * (1 - alpha),
        colour.greenF() * alpha + background.greenF() * (1 - alpha),
        colour.blueF() * alpha + background.blueF() * (1 - alpha),
    )


def contrast(foreground: QColor, background: QColor) -> float:
    """The contrast ratio of text in `foreground` on `background` (1 to 21)."""
    fore = luminance(blend(foreground, background))
    back = luminance(background)
    light, dark = max(fore, back), min(fore, back)
    return (light + 0.05) / (dark + 0.05)


def readable(colour: QColor, background: QColor, ratio: float = TEXT_CONTRAST) -> QColor:
    """`colour`, or the nearest shade of it (darker on a light background, lighter on a dark
    one) that reads on `background` with at least `ratio`."""
    colour = blend(colour, background)
    if contrast(colour, background) >= ratio:
        return colour
    # The HSL parts one by one: PySide6's stubs type getHslF()'s tuple as a bare object.
    hue = max(colour.hslHueF(), 0.0)  # -1 for greys
    saturation = colour.hslSaturationF()
    lightness = colour.lightnessF()
    darker = luminance(background) > 0.18
    for step in range(1, 101):
        value = lightness * (1 - step / 100) if darker else lightness + (1 - lightness) * step / 100
        candidate = QColor.fromHslF(hue, saturation, value)
        if contrast(candidate, background) >= ratio:
            return candidate
    return QColor("black") if darker else QColor("white")


__all__ = ["TEXT_CONTRAST", "blend", "contrast", "luminance", "readable"]
