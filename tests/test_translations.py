"""The translations are complete and current (the CI's check): pyside6-lupdate over the
sources finds no text the German .ts file lacks or holds in vain, every German text is
finished and keeps its source's {fields}, plural forms and keyboard mnemonic, the .qm file is
the compilation of the .ts file; and the check fails when any of that breaks.  Then what the
translations are for: plural forms ("1 Anruf", "2 Anrufe"), the language chosen from the
system's locale or the setting, numbers in the language's form, and the self-test printing
German under a German locale."""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cstapopup import i18n
from cstapopup.calls import texts

ROOT = Path(__file__).resolve().parent.parent


def _load_tool():
    spec = importlib.util.spec_from_file_location("translations_tool",
                                                  ROOT / "scripts" / "translations.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module   # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
TS = tool.ts_file("de")


# --- the check -----------------------------------------------------------------------------

def test_translations_are_complete_and_current():
    problems = tool.check()
    assert problems == [], "\n".join(problems)


def test_every_marked_text_of_the_sources_is_in_the_ts_file():
    """Read the sources independently of lupdate (Python's own parser): every literal
    translate() / QT_TRANSLATE_NOOP() text is a message of the .ts file, so that no call form
    lupdate's Python parser skips goes untranslated unnoticed."""
    marked = set()
    for path in tool.sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            args = node.args
            if name in ("translate", "QT_TRANSLATE_NOOP") and len(args) >= 2 and all(
                    isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args[:2]):
                marked.add((args[0].value, args[1].value))
    in_ts = {(m.context, m.source) for m in tool.messages(TS)}
    assert len(marked) > 500
    assert marked - in_ts == set()
    assert in_ts - marked == set()


def test_every_counted_phrase_is_a_plural_message():
    plural = {m.source for m in tool.messages(TS) if m.numerus}
    assert {source for _one, source in texts.COUNTED.values()} == plural
    for m in tool.messages(TS):
        assert m.numerus == ("%Ln" in m.source or "%n" in m.source or m.source in plural)


def _copy_sources(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "cstapopup", tmp_path / "cstapopup",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "cstapopup"


def test_the_check_finds_a_new_text_and_a_lost_one(tmp_path, monkeypatch):
    package = _copy_sources(tmp_path)
    popup = package / "ui" / "popup.py"
    text = popup.read_text(encoding="utf-8")
    # One text added, one gone.
    text = text.replace('translate("Popup", "Show the call history")',
                        'translate("Popup", "Show every call ever made")')
    popup.write_text(text, encoding="utf-8")
    monkeypatch.setattr(tool, "PACKAGE", package)
    found = tool.drift(TS)
    assert any("Show every call ever made" in f and "new in the sources" in f for f in found)
    assert any("Show the call history" in f and "no longer in the sources" in f for f in found)


def test_the_check_finds_untranslated_and_broken_translations(tmp_path):
    ts = tmp_path / TS.name
    text = TS.read_text(encoding="utf-8")
    text = text.replace("<translation>Klingelt bei {device}</translation>",
                        '<translation type="unfinished">Klingelt bei {device}</translation>')
    text = text.replace("<translation>Angenommen von {device}</translation>",
                        "<translation>Angenommen von {geraet}</translation>")
    text = text.replace("<translation>&amp;Annehmen</translation>",
                        "<translation>Annehmen</translation>")
    text = text.replace("<numerusform>%Ln Anrufe</numerusform>",
                        "<numerusform>viele Anrufe</numerusform>")
    ts.write_text(text, encoding="utf-8")
    found = "\n".join(tool.problems_of(ts))
    assert "'Ringing at {device}': not translated" in found
    assert "'Answered by {device}': fields ['geraet']" in found
    assert "'&Answer': 'Annehmen' has 0 keyboard mnemonics" in found
    assert "'%Ln calls': its plural forms do not show the count" in found


def test_the_check_finds_a_stale_qm_file(tmp_path, monkeypatch):
    folder = tmp_path / "translations"
    folder.mkdir()
    text = TS.read_text(encoding="utf-8").replace("<translation>Klingelt</translation>",
                                                  "<translation>Läutet</translation>")
    (folder / TS.name).write_text(text, encoding="utf-8")
    shutil.copyfile(tool.qm_file("de"), folder / tool.qm_file("de").name)
    monkeypatch.setattr(tool, "TRANSLATIONS", folder)
    assert tool.stale_qm("de") and "not the compilation" in tool.stale_qm("de")[0]


def test_the_qm_files_are_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"translations/*.qm"' in pyproject
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import bundle_plan
    finally:
        sys.path.pop(0)
    bundled = {(Path(src).name, dest) for src, dest in bundle_plan.resource_datas()}
    assert ("cstapopup_de.qm", "cstapopup/resources/translations") in bundled
    assert "qtbase_de.qm" in bundle_plan.QT_TRANSLATIONS_KEPT


# --- plurals and numbers ---------------------------------------------------------------------

def test_english_counts_without_a_translator():
    assert not i18n.translating()
    assert texts.count("calls", 1) == "1 call"
    assert texts.count("calls", 2) == "2 calls"
    assert texts.count("calls", 1234) == "1,234 calls"
    assert texts.seconds(0.5) == "0.5\u00a0s"


def test_german_plural_forms(german):
    assert texts.count("calls", 0) == "0 Anrufe"
    assert texts.count("calls", 1) == "1 Anruf"
    assert texts.count("calls", 2) == "2 Anrufe"
    assert texts.count("calls", 1234) == "1.234 Anrufe"
    assert texts.count("missed calls", 1) == "1 verpasster Anruf"
    assert texts.count("missed calls", 3) == "3 verpasste Anrufe"
    assert texts.count("more calls, ringing", 3, ringing=1) == \
        "+3 weitere Anrufe (davon 1 klingelnd)"
    assert texts.count("delete calls", 1) == "Diesen Anruf aus der Anrufliste löschen?"
    assert texts.count("delete calls", 4) == "Diese 4 Anrufe aus der Anrufliste löschen?"
    assert texts.count("copied", 1, first="089 1", others=0) == "089 1 kopiert"
    assert texts.count("copied", 3, first="089 1", others=2) == "089 1 und 2 weitere kopiert"
    assert texts.count("minutes", 1) == "1\u00a0Minute"
    assert texts.count("minutes", 5) == "5\u00a0Minuten"
    assert texts.seconds(0.5) == "0,5\u00a0s" and texts.seconds(8) == "8\u00a0s"
    # The command-line tools' phrases stay English, as the tools do.
    assert texts.count("times", 2) == "2 times"


def test_german_hop_words(german):
    from datetime import datetime, timezone

    from cstapopup.calls.model import Hop

    at = datetime(2024, 3, 4, tzinfo=timezone.utc)
    assert texts.hop_text(Hop("consulted", "100", at, "102")) == "Rückfrage bei 102"
    assert texts.hop_text(Hop("consultation", "100", at, "0891234567")) == \
        "Rückfrage von 100 während des Gesprächs mit 0891234567"
    assert texts.hop_text(Hop("overflow", None, at)) == \
        "nicht weiter verfolgt: zu viele Gespräche gleichzeitig"


def test_back_to_english(german):
    from cstapopup.ui import language

    assert texts.count("calls", 2) == "2 Anrufe"
    language.install("en")
    assert not i18n.translating() and texts.count("calls", 2) == "2 calls"


# --- which language ----------------------------------------------------------------------------

def test_the_setting_wins_over_the_system():
    from PySide6.QtCore import QLocale

    from cstapopup.ui import language

    assert language.choose("de", QLocale("en_US")) == "de"
    assert language.choose("en", QLocale("de_DE")) == "en"
    assert language.choose("auto", QLocale("de_AT")) == "de"
    assert language.choose("auto", QLocale("de_CH")) == "de"
    assert language.choose("auto", QLocale("fr_FR")) == "en"   # no French: English
    assert language.choose("auto", QLocale("C")) == "en"
    assert language.locale_for("de", QLocale("de_AT")).name() == "de_AT"  # Austria's formats
    assert language.locale_for("de", QLocale("en_US")).name() == "de_DE"
    assert language.locale_for("en", QLocale("de_DE")).name() == "en_US"


CHOOSE = ("from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
          "from cstapopup.ui import language; print(language.choose('auto'))")


@pytest.mark.parametrize(("env", "expected"), [
    ({"LANG": "de_DE.UTF-8"}, "de"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_ALL": "de_AT.UTF-8"}, "de"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "de_CH.UTF-8"}, "de"),
    ({"LANG": "en_US.UTF-8", "LANGUAGE": "de:en"}, "de"),
    ({"LANG": "de_DE.UTF-8", "LANGUAGE": "fr:en"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "en"),
])
def test_auto_follows_the_locale_variables(env, expected):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    clean.update(env, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", CHOOSE], capture_output=True, text=True,
                          env=clean, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected, (env, done.stdout)


def test_a_missing_translation_falls_back_to_english_altogether(qapp, monkeypatch, tmp_path):
    from cstapopup.ui import language

    monkeypatch.setattr(language, "translations_dir", lambda: tmp_path)
    used = language.install("de")
    assert used.code == "en" and used.wanted == "de" and used.files == ()
    assert not i18n.translating()
    assert "de not found" in used.describe()


# --- the self-test, in German ------------------------------------------------------------------

def _self_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    clean.update(env, QT_QPA_PLATFORM="offscreen", CSTAPOPUP_CONFIG_DIR=str(tmp_path),
                 PYTHONPATH=str(ROOT))
    code = "from cstapopup.cli import main; raise SystemExit(main(['--self-test']))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=clean, timeout=90, check=False, cwd=tmp_path)


def test_the_self_test_speaks_the_locales_language(tmp_path):
    german = _self_test(tmp_path, LANG="de_DE.UTF-8")
    assert german.returncode == 0, german.stdout + german.stderr
    lines = german.stdout.splitlines()
    assert lines[0].startswith("Selbsttest: Sprache: de (de_DE; cstapopup_de.qm, qtbase_de.qm")
    for expected in ("Selbsttest: Verbindung: verbunden mit der Selbsttest-Telefonanlage",
                     "Selbsttest: Kollege Anna Berger (101) ist frei",
                     "Selbsttest:   Anruffenster: Klingelt bei 100",
                     "Selbsttest:   Anruffenster: [Annehmen] | [Vermitteln…] | "
                     "[Nummer kopieren]",
                     "Selbsttest: angenommen an 100: Im Gespräch mit 089 1234567",
                     "Selbsttest:   Anruffenster: Angenommen an 100",
                     "Selbsttest: Anrufliste: vermittelt an 101 (klingelte bei 100 → "
                     "angenommen von 100 → von 100 an 101 vermittelt)"):
        assert any(line.startswith(expected) for line in lines), (expected, german.stdout)
    assert lines[-1].startswith("Selbsttest: OK: Anruffenster, Annehmen, Vermitteln und "
                                "Anrufliste in ")
    english = _self_test(tmp_path, LANG="C.UTF-8")
    assert english.returncode == 0, english.stdout + english.stderr
    assert english.stdout.splitlines()[0].startswith("self-test: language: en")
    # Line for line, nothing of the German run is the English one.
    pairs = list(zip(german.stdout.splitlines(), english.stdout.splitlines(), strict=True))
    same = [g for g, e in pairs if g == e]
    assert same == [], same


@pytest.fixture
def german(qapp):
    from cstapopup.ui import language

    used = language.install("de")
    assert used.code == "de", used.describe()
    yield used
    language.install("en")
