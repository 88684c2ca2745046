"""Translation without Qt: the hook through which every user-visible word of the Qt-free layers
(calls/, settings.py) passes, and the numbers written the way the user's language writes them.

English is the source language: the texts in the code are the English ones, and without a
translator (the command-line tools, tests, an English desktop) `translate` gives them back
with their count filled in.  The desktop app points the hook at Qt's translation
(`QCoreApplication.translate`, ui/language.py) when it has loaded a translation of its own,
and the number formats at the user's `QLocale`.

How texts are marked so that `pyside6-lupdate` finds them (scripts/translations.py; its
Python parser only reads literal strings, so a text is never an f-string but a template with
named fields, filled in after translation with `str.format`):

    translate("Desk", "{who} is busy").format(who=...)     # translated now
    QT_TRANSLATE_NOOP("Settings", "&Host")                 # marked now, translated when shown
    QT_TRANSLATE_NOOP("Counted", "%Ln calls", None, 2)     # a counted phrase (calls/texts)

lupdate marks a message as a plural (numerus) one only when the call's fourth argument is a
number literal (an identifier there is taken for PyQt4's encoding argument), so counted
phrases are declared once with a literal in `calls.texts.COUNTED` and `calls.texts.count()`
translates them with the real count.  `%n` is the count, `%Ln` the count with the language's
digit grouping ("1,234" / "1.234").
"""

from __future__ import annotations

from collections.abc import Callable

#: Qt's signature: (context, source text, disambiguation, count or -1) -> the text to show.
Translator = Callable[[str, str, "str | None", int], str]
#: A whole number as the language writes it ("1,234" / "1.234").
NumberFormat = Callable[[int], str]
#: A decimal number with a given count of decimals ("0.5" / "0,5").
DecimalFormat = Callable[[float, int], str]

_translator: Translator | None = None
_language = "en"


def _english_number(n: int) -> str:
    return f"{n:,}"


def _english_decimal(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


_number: NumberFormat = _english_number
_decimal: DecimalFormat = _english_decimal


def fill_count(text: str, n: int) -> str:
    """`text` with its count filled in as Qt does: "%Ln" grouped, "%n" plain digits."""
    if n < 0 or "%" not in text:
        return text
    return text.replace("%Ln", _number(n)).replace("%n", str(n))


def translate(context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
    """`source` (English) in the user's language, its count `n` filled in (n >= 0)."""
    if _translator is not None:
        return _translator(context, source, disambiguation, n)
    return fill_count(source, n)


def QT_TRANSLATE_NOOP(
    context: str, source: str, disambiguation: str | None = None, n: int = -1
) -> str:
    """Marks `source` for translation where it is declared (a table, a setting's help) and
    gives it back unchanged; whoever shows it calls `translate(context, source)` then.  The
    name is Qt's, which lupdate knows."""
    return source


def number(n: int) -> str:
    """A count for people: "1,234" in English, "1.234" in German."""
    return _number(n)


def decimal(value: float, decimals: int = 1) -> str:
    """A decimal number for people: "0.5" in English, "0,5" in German."""
    return _decimal(value, decimals)


def translating() -> bool:
    """Whether a translator is installed (a language other than English is in use)."""
    return _translator is not None


def language() -> str:
    """The language in use ("en", "de")."""
    return _language


def install(
    translator: Translator | None,
    *,
    language: str = "en",
    number_format: NumberFormat | None = None,
    decimal_format: DecimalFormat | None = None,
) -> None:
    """Use `translator` (None: English, the texts as written) and these number formats from
    now on (the desktop app at start-up; tests that switch languages)."""
    global _translator, _language, _number, _decimal
    _translator = translator
    _language = language
    _number = number_format or _english_number
    _decimal = decimal_format or _english_decimal


def reset() -> None:
    """Back to English with English number formats."""
    install(None)


__all__ = [
    "QT_TRANSLATE_NOOP",
    "decimal",
    "fill_count",
    "install",
    "language",
    "number",
    "reset",
    "translate",
    "translating",
]
