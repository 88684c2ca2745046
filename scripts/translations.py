#!/usr/bin/env python3
"""The app's translations: extract, compile, check.

    python scripts/translations.py update    # lupdate: the sources' texts into the .ts files
    python scripts/translations.py release   # lrelease: the .ts files into the .qm files
    python scripts/translations.py check     # what tests/test_translations.py checks

The sources are every Python file of the package (the texts are marked as `translate(...)`
and `QT_TRANSLATE_NOOP(...)` calls: cstapopup/i18n.py says how); the translations are
resources/translations/cstapopup_<language>.ts, edited by hand or with Qt Linguist
(`pyside6-linguist`), and compiled into the .qm files beside them, which are committed (the
package, the editable install and the frozen bundle use them as they are; the test fails
when one is not the compilation of its .ts).  Both tools come with PySide6-Essentials.

`check` runs lupdate over the sources into a copy of each .ts file and fails on any text the
sources have that the .ts file lacks (new, hence untranslated), any the .ts file has that
the sources lost (vanished), any translation that is missing or unfinished, whose {fields},
plural forms or keyboard mnemonic do not match its source, and any .qm file that is not
current.
"""

from __future__ import annotations

import re
import shutil
import string
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cstapopup"
TRANSLATIONS = ROOT / "resources" / "translations"
#: The languages translated (English is the source language).
LANGUAGES = ("de",)
CATALOG = "cstapopup"


def ts_file(language: str) -> Path:
    return TRANSLATIONS / f"{CATALOG}_{language}.ts"


def qm_file(language: str) -> Path:
    return TRANSLATIONS / f"{CATALOG}_{language}.qm"


def sources() -> list[Path]:
    """The Python files lupdate reads, in a stable order."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def tool(name: str) -> str:
    """The path of PySide6's lupdate or lrelease."""
    try:
        import PySide6
    except ImportError:
        PySide6 = None   # noqa: N806
    if PySide6 is not None:
        folder = Path(PySide6.__file__).parent
        for candidate in (folder / name, folder / f"{name}.exe", folder / "Qt" / "bin" / name):
            if candidate.is_file():
                return str(candidate)
    found = shutil.which(f"pyside6-{name}") or shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install PySide6-Essentials")
    return found


def lupdate(target: Path, *, no_obsolete: bool) -> str:
    """Run lupdate over the sources into `target` (created or merged); its output."""
    with tempfile.NamedTemporaryFile("w", suffix=".lst", delete=False,
                                     encoding="utf-8") as listing:
        listing.write("\n".join(str(p) for p in sources()) + "\n")
    try:
        language = target.stem.rsplit("_", 1)[-1]
        command = [tool("lupdate"), "-silent", "-locations", "none", "-source-language", "en",
                   "-target-language", language, f"@{listing.name}", "-ts", str(target)]
        if no_obsolete:
            command.insert(1, "-no-obsolete")
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              check=False)
    finally:
        Path(listing.name).unlink()
    if done.returncode != 0:
        raise RuntimeError(f"lupdate failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout + done.stderr


def lrelease(source: Path, target: Path) -> None:
    done = subprocess.run([tool("lrelease"), "-silent", str(source), "-qm", str(target)],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not target.is_file():
        raise RuntimeError(f"lrelease failed ({done.returncode}): {done.stderr or done.stdout}")


# --- reading a .ts file --------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    context: str
    source: str
    comment: str
    numerus: bool
    #: "unfinished", "vanished", "obsolete" or "" (finished).
    status: str
    #: The translation; a plural one has one form per plural form of the language.
    forms: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        return self.context, self.source, self.comment

    def where(self) -> str:
        return f"[{self.context}] {self.source!r}"


def messages(ts: Path) -> list[Message]:
    out = []
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            status = translation.get("type", "") if translation is not None else "unfinished"
            if translation is not None and message.get("numerus") == "yes":
                forms = tuple(f.text or "" for f in translation.iter("numerusform"))
            else:
                forms = ((translation.text or "") if translation is not None else "",)
            out.append(Message(name, message.findtext("source") or "",
                               message.findtext("comment") or "",
                               message.get("numerus") == "yes", status, forms))
    return out


# --- the checks ----------------------------------------------------------------------------

def _fields(text: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def _mnemonics(text: str) -> int:
    return len(re.findall(r"&(?!&)\S", text.replace("&&", "")))


#: Plural forms a language has (Qt's numerus rules).
PLURAL_FORMS = {"de": 2}


def problems_of(ts: Path) -> list[str]:
    """What is wrong with the translations in `ts` itself."""
    language = ts.stem.rsplit("_", 1)[-1]
    found = []
    for m in messages(ts):
        if m.status in ("vanished", "obsolete"):
            found.append(f"{m.where()}: no longer in the sources ({m.status})")
            continue
        if m.status == "unfinished" or not all(f.strip() for f in m.forms):
            found.append(f"{m.where()}: not translated (or unfinished)")
            continue
        if "%n" in m.source or "%Ln" in m.source:
            if not m.numerus:
                found.append(f"{m.where()}: counts with %n but is not a plural message "
                             "(declare it in calls.texts.COUNTED)")
            elif len(m.forms) != PLURAL_FORMS.get(language, len(m.forms)):
                found.append(f"{m.where()}: {len(m.forms)} plural forms, "
                             f"{language} has {PLURAL_FORMS[language]}")
            elif not any("%n" in f or "%Ln" in f for f in m.forms[1:]):
                found.append(f"{m.where()}: its plural forms do not show the count")
        for index, form in enumerate(m.forms):
            # A plural's singular may leave a field out ("{first} kopiert" for "Copied
            # {first} and {others} more"); its plural form, and every other text, has them all.
            singular = m.numerus and index < len(m.forms) - 1
            fields, wanted = _fields(form), _fields(m.source)
            if fields != wanted and not (singular and fields <= wanted):
                found.append(f"{m.where()}: fields {sorted(fields)} in {form!r}, the "
                             f"source has {sorted(wanted)}")
            if _mnemonics(form) != _mnemonics(m.source):
                found.append(f"{m.where()}: {form!r} has {_mnemonics(form)} keyboard mnemonics "
                             f"(&), the source {_mnemonics(m.source)}")
            if m.source.endswith("…") != form.endswith("…"):
                found.append(f"{m.where()}: {form!r}: an ellipsis (…) ends both or neither")
    return found


def drift(ts: Path) -> list[str]:
    """What lupdate would change in `ts`: texts of the sources it lacks, texts it has that
    the sources lost."""
    committed = {m.key: m for m in messages(ts)}
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / ts.name
        shutil.copyfile(ts, copy)
        lupdate(copy, no_obsolete=False)
        fresh = messages(copy)
    found = []
    for m in fresh:
        old = committed.get(m.key)
        if old is None:
            found.append(f"{m.where()}: new in the sources, not in {ts.name} "
                         "(run scripts/translations.py update, then translate it)")
        elif m.numerus != old.numerus:
            found.append(f"{m.where()}: plural in one of the sources and {ts.name} only")
        elif m.status in ("vanished", "obsolete") and old.status not in ("vanished", "obsolete"):
            found.append(f"{m.where()}: no longer in the sources (run scripts/translations.py "
                         "update)")
    return found


def stale_qm(language: str) -> list[str]:
    """The .qm file when it is not the compilation of its .ts file."""
    ts, qm = ts_file(language), qm_file(language)
    if not qm.is_file():
        return [f"{qm.name} is missing (run scripts/translations.py release)"]
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / qm.name
        lrelease(ts, fresh)
        if fresh.read_bytes() != qm.read_bytes():
            return [f"{qm.name} is not the compilation of {ts.name} "
                    "(run scripts/translations.py release)"]
    return []


def check() -> list[str]:
    found = []
    for language in LANGUAGES:
        ts = ts_file(language)
        if not ts.is_file():
            found.append(f"{ts.name} is missing (run scripts/translations.py update)")
            continue
        found += drift(ts) + problems_of(ts) + stale_qm(language)
    return found


def iter_languages() -> Iterator[str]:
    yield from LANGUAGES


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        TRANSLATIONS.mkdir(parents=True, exist_ok=True)
        for language in LANGUAGES:
            print(lupdate(ts_file(language), no_obsolete=True).strip() or ts_file(language))
        return 0
    if command == "release":
        for language in LANGUAGES:
            lrelease(ts_file(language), qm_file(language))
            print(qm_file(language))
        return 0
    if command == "check":
        found = check()
        for line in found:
            print(line)
        print(f"{len(found)} problem(s)" if found else "translations: complete and current")
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
