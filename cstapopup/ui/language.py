"""The desktop app's language: which one (the `app.language` setting, else the system's
locale), its translations loaded (cstapopup's own from resources/translations, Qt's own
standard words from PySide6's translations folder), the locale whose date, time and number
formats the windows use, and the Qt-free layers' hook (`cstapopup.i18n`) pointed at Qt's
translation.

English is the source language: it needs no translation file.  A language whose file cannot
be found falls back to English altogether (never half one, half the other), and says so in
the log; `cstapopup --self-test` prints which files it loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from cstapopup import i18n
from cstapopup.resources import path as resource_path

log = logging.getLogger(__name__)

#: The languages the app has words for (English: the texts as written).
SUPPORTED = ("en", "de")
#: cstapopup's translations: resources/translations/cstapopup_<language>.qm.
CATALOG = "cstapopup"
#: Qt's own translation of its standard words (dialog buttons, context menus of text fields).
QT_CATALOG = "qtbase"


@dataclass(frozen=True, slots=True)
class Language:
    """The language in use: its code ("de"), the locale of its formats ("de_AT"), the
    translation files loaded, and what was wanted when it fell back to English."""

    code: str
    locale: str
    files: tuple[str, ...] = ()
    wanted: str = ""

    def describe(self) -> str:
        """ "de (de_DE; cstapopup_de.qm, qtbase_de.qm)" for the self-test and the log."""
        files = ", ".join(Path(f).name for f in self.files) or "no translation files"
        fell_back = f"; {self.wanted} not found" if self.wanted else ""
        return f"{self.code} ({self.locale}; {files}{fell_back})"


def translations_dir() -> Path:
    """Where cstapopup's own .qm files are (installed, editable and frozen alike)."""
    return resource_path("translations")


def qt_translations_dirs() -> list[Path]:
    """Where Qt's own .qm files may be: Qt's configured folder, else PySide6's (wheels and
    frozen bundles put them beside the Qt libraries)."""
    dirs = [Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))]
    try:
        import PySide6

        base = Path(PySide6.__file__).parent
        dirs += [base / "Qt" / "translations", base / "translations"]
    except (ImportError, TypeError):
        pass
    return list(dict.fromkeys(d for d in dirs if str(d)))


def system_locale() -> QLocale:
    """The desktop's locale, as Qt reads it (LANGUAGE, LC_ALL, LC_MESSAGES, LANG on Unix; the
    user's settings on Windows and macOS)."""
    return QLocale.system()


def choose(setting: str, system: QLocale | None = None) -> str:
    """The language to use: the setting's when it names one, else ("auto") the first of the
    system's preferred languages that the app speaks, else English."""
    if setting in SUPPORTED:
        return setting
    locale = system if system is not None else system_locale()
    for tag in [*locale.uiLanguages(), locale.name()]:
        code = tag.replace("_", "-").split("-", 1)[0].lower()
        if code in SUPPORTED:
            return code
    return "en"


def locale_for(code: str, system: QLocale | None = None) -> QLocale:
    """The locale whose formats go with language `code`: the system's when it is of that
    language (de_AT keeps Austria's), else the language's own (de: de_DE, en: en_US)."""
    locale = system if system is not None else system_locale()
    if QLocale.languageToCode(locale.language()) == code:
        return locale
    return QLocale(code)


_installed: list[QTranslator] = []
_current = Language("en", "en_US")


def current() -> Language:
    """The language installed last."""
    return _current


def install(code: str, *, system: QLocale | None = None) -> Language:
    """Use language `code` from now on: its translations (and Qt's) installed in the
    application, its locale the default one, the Qt-free texts translated through Qt.  The
    translators of an earlier call go.  Needs a QCoreApplication."""
    global _current
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("language.install() needs a QCoreApplication")
    for translator in _installed:
        QCoreApplication.removeTranslator(translator)
    _installed.clear()
    wanted = ""
    files: list[str] = []
    if code != "en":
        ours = QTranslator(app)
        path = translations_dir() / f"{CATALOG}_{code}.qm"
        if ours.load(str(path)):
            QCoreApplication.installTranslator(ours)
            _installed.append(ours)
            files.append(str(path))
            qt = QTranslator(app)
            for folder in qt_translations_dirs():
                if qt.load(f"{QT_CATALOG}_{code}", str(folder)):
                    QCoreApplication.installTranslator(qt)
                    _installed.append(qt)
                    files.append(qt.filePath())
                    break
            else:
                log.warning(
                    "Qt's own %s translation (%s_%s.qm) was not found in %s",
                    code,
                    QT_CATALOG,
                    code,
                    ", ".join(map(str, qt_translations_dirs())),
                )
        else:
            log.warning("no %s translation at %s: the app speaks English", code, path)
            wanted, code = code, "en"
    locale = locale_for(code, system)
    QLocale.setDefault(locale)
    if code == "en":
        i18n.install(None)
    else:
        i18n.install(
            _qt_translate,
            language=code,
            number_format=lambda n: QLocale().toString(n),
            decimal_format=_decimal,
        )
    _current = Language(code, locale.name(), tuple(files), wanted)
    log.info("language: %s", _current.describe())
    return _current


def _qt_translate(context: str, source: str, disambiguation: str | None, n: int) -> str:
    return QCoreApplication.translate(context, source, disambiguation, n)


def _decimal(value: float, decimals: int) -> str:
    locale = QLocale()
    locale.setNumberOptions(QLocale.NumberOption.OmitGroupSeparator)
    return locale.toString(float(value), "f", decimals)


__all__ = [
    "SUPPORTED",
    "Language",
    "choose",
    "current",
    "install",
    "locale_for",
    "qt_translations_dirs",
    "system_locale",
    "translations_dir",
]
