"""Phonebook: reading CSV and vCard files, looking numbers up, reloading, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cstapopup import resources
from cstapopup.calls.numbers import NumberingPlan, normalise
from cstapopup.calls.phonebook import Contact, Match, Phonebook, read_contacts

MUNICH = NumberingPlan(country="DE", area_code="89", trunk_prefix="0", internal_max_length=4)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def bump_mtime(path: Path, seconds: int = 10) -> None:
    """Give the file a clearly different mtime without waiting for the clock."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SEMICOLON_CSV = """\
Name;Company;Phone;Mobile
Erika Mustermann;Mustermann GmbH;089 1234567;+49 171 2345678
Otto Beispiel;Beispiel AG;+49 30 23125 201;
"""


# ---- CSV


@pytest.mark.parametrize("raw", [
    "0891234567", "+49891234567", "0049 89 1234567", "0 0891234567", "00891234567",
    "000498912345 67", "1234567",
])
def test_every_pbx_format_finds_the_contact(tmp_path: Path, raw: str) -> None:
    book = Phonebook([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH)
    match = book.lookup(raw, from_pbx=True)
    assert match is not None
    assert match.contact.name == "Erika Mustermann"
    assert match.contact.company == "Mustermann GmbH"
    assert match.number == "089 1234567"
    assert match.key == "+49891234567"


def test_semicolon_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    book = Phonebook([path], MUNICH)
    assert book.errors == []
    assert book.contact_count == 2
    assert book.number_count == 3
    mobile = book.lookup("001712345678")
    assert mobile.contact.name == "Erika Mustermann"
    assert mobile.number == "+49 171 2345678"
    assert mobile.source == str(path)
    assert book.lookup("+493023125201").contact.company == "Beispiel AG"


def test_comma_csv_with_quotes_and_first_last_name(tmp_path: Path) -> None:
    text = (
        'First Name,Last Name,Organisation,Business Phone,Home Phone,E-mail Address\n'
        'Hanna,Beispiel,"Beispiel, Muster & Co. KG","+49 89 99998 101","",hanna@example.invalid\n'
        'Kurt,Kurzwahl,,,"040 66969 301",kurt@example.invalid\n'
    )
    book = Phonebook([write(tmp_path / "outlook.csv", text)], MUNICH)
    assert book.errors == []
    hanna = book.lookup("0 089 99998101").contact
    assert (hanna.name, hanna.company) == ("Hanna Beispiel", "Beispiel, Muster & Co. KG")
    assert book.lookup("004940 66969301").contact.name == "Kurt Kurzwahl"


def test_german_headers_tab_delimiter_and_several_numbers_in_a_cell(tmp_path: Path) -> None:
    text = (
        "Vorname\tNachname\tFirma\tTelefon geschäftlich\tHandy\tKundennummer\n"
        "Gerda\tGabel\tGabel OHG\t089 99998 102; 089 99998 103\t0152 28817386\t2001\n"
    )
    book = Phonebook([write(tmp_path / "kontakte.txt", text)], MUNICH)
    assert book.errors == []
    contact = book.lookup("0089 99998 103").contact
    assert contact.numbers == ("089 99998 102", "089 99998 103", "0152 28817386")
    assert book.lookup("+4915228817386").contact is contact
    # A customer number is not a phone number: extension 2001 must not pop up as Gerda.
    assert book.lookup("2001") is None


def test_display_name_column_and_company_only_entry(tmp_path: Path) -> None:
    text = "Display Name;Company Name;Phone Number\n;Stadtwerke Beispielstadt;069 90009 500\n"
    book = Phonebook([write(tmp_path / "b.csv", text)], MUNICH)
    match = book.lookup("0069 90009500")
    assert match.contact.name == ""
    assert match.contact.label == "Stadtwerke Beispielstadt"


def test_utf8_bom_and_latin1_files(tmp_path: Path) -> None:
    text = "Name;Firma;Telefon\nJürgen Größe;Bäckerei Süß;089 99998 104\n"
    bom = write(tmp_path / "bom.csv", "\ufeff" + text)
    latin = write(tmp_path / "latin.csv", text.replace("104", "105"), encoding="latin-1")
    cp1252 = write(tmp_path / "ansi.csv", text.replace("104", "106").replace("Süß", "Süß €"),
                   encoding="cp1252")
    book = Phonebook([bom, latin, cp1252], MUNICH)
    assert book.errors == []
    assert book.lookup("0089 99998104").contact.name == "Jürgen Größe"
    assert book.lookup("0089 99998105").contact.company == "Bäckerei Süß"
    assert book.lookup("0089 99998106").contact.company == "Bäckerei Süß €"


def test_utf16_outlook_export(tmp_path: Path) -> None:
    path = tmp_path / "outlook.csv"
    path.write_bytes("Name\tMobile Phone\nZora Zeichen\t0172 9980752\n".encode("utf-16"))
    book = Phonebook([path], MUNICH)
    assert book.lookup("001729980752").contact.name == "Zora Zeichen"


def test_internal_numbers_in_the_phonebook(tmp_path: Path) -> None:
    text = "Name;Phone\nEmpfang;2001\nLager;200\n"
    book = Phonebook([write(tmp_path / "intern.csv", text)], MUNICH)
    match = book.lookup("2001")
    assert match.contact.name == "Empfang"
    assert match.key == "int:2001"
    assert match.reason == "matched extension 2001 (from 2001 in intern.csv)"
    assert book.lookup("200").contact.name == "Lager"
    assert book.lookup("2002") is None


def test_reason_names_key_number_and_file(tmp_path: Path) -> None:
    book = Phonebook([write(tmp_path / "phonebook.csv", SEMICOLON_CSV)], MUNICH)
    match = book.lookup("00891234567")
    assert match.reason == "matched +49891234567 (from 089 1234567 in phonebook.csv)"


def test_numbers_newer_than_the_metadata_still_match(tmp_path: Path) -> None:
    # Seven digits after 0151 are "possible" but not valid in phonenumbers' metadata.
    text = "Name;Mobile\nNeu Nummer;0151 9806425\nAlt Nummer;0049 152 5138071\n"
    book = Phonebook([write(tmp_path / "new.csv", text)], MUNICH)
    assert book.errors == []
    assert book.lookup("001519806425").contact.name == "Neu Nummer"
    assert book.lookup("001525138071").contact.name == "Alt Nummer"
    assert book.lookup("+49 152 5138071").key == "+491525138071"


def test_number_without_any_reading_is_found_by_its_digits(tmp_path: Path) -> None:
    text = "Name;Phone\nNirgendwo;+999 1234567\n"
    book = Phonebook([write(tmp_path / "odd.csv", text)], MUNICH)
    match = book.lookup("+9991234567")
    assert match.contact.name == "Nirgendwo"
    assert match.reason == "matched digits +9991234567 (from +999 1234567 in odd.csv)"


# ---- vCard


VCARDS = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "FN:Cordula Callcenter\r\n"
    "N:Callcenter;Cordula;;;\r\n"
    "ORG:Callcenter Beispiel GmbH;Kundendienst\r\n"
    "TEL;TYPE=WORK,VOICE:+49 30 23125 301\r\n"
    "item1.TEL;type=CELL;type=pref:0152 2881\r\n"
    " 7386\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "N:Zifferblatt;Zacharias;;Dr.;\r\n"
    "ORG:Zifferblatt\\, Uhren & Zeitmesser KG\r\n"
    'TEL;VALUE=uri;TYPE="work,voice":tel:+49-40-66969-401;ext=12\r\n'
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "FN:Amalie Aufschaltung\r\n"
    "ORG:Aufschaltung Medienagentur für ausgedachte Kam\r\n"
    "\tpagnen GmbH\r\n"
    "TEL:+49 221 4710 501\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "ORG:Wahlwiederholung Getränke GmbH\r\n"
    "TEL;TYPE=WORK:+49 89 99998 202\r\n"
    "END:VCARD\r\n"
)


def test_vcards_with_params_folding_and_several_cards(tmp_path: Path) -> None:
    book = Phonebook([write(tmp_path / "contacts.vcf", VCARDS)], MUNICH)
    assert book.errors == []
    assert book.contact_count == 4
    cordula = book.lookup("0030 23125301").contact
    assert (cordula.name, cordula.company) == ("Cordula Callcenter", "Callcenter Beispiel GmbH")
    # The folded TEL line is one number.
    assert book.lookup("+4915228817386").contact == cordula
    # No FN: the name comes from N; ORG escapes are undone; tel: URIs lose scheme and params.
    zacharias = book.lookup("0040 66969401")
    assert zacharias.contact.name == "Zacharias Zifferblatt"
    assert zacharias.contact.company == "Zifferblatt, Uhren & Zeitmesser KG"
    assert zacharias.number == "+49-40-66969-401"
    amalie = book.lookup("00221 4710501").contact
    assert amalie.company == "Aufschaltung Medienagentur für ausgedachte Kampagnen GmbH"
    org_only = book.lookup("0089 99998202").contact
    assert (org_only.name, org_only.label) == ("", "Wahlwiederholung Getränke GmbH")


def test_vcard_21_quoted_printable(tmp_path: Path) -> None:
    text = (
        "BEGIN:VCARD\n"
        "VERSION:2.1\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller-Beispiel;J=C3=\n"
        "=BCrgen;;;\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller-Beispiel\n"
        "TEL;CELL:0172 9980752\n"
        "END:VCARD\n"
    )
    book = Phonebook([write(tmp_path / "android.vcf", text)], MUNICH)
    assert book.errors == []
    assert book.lookup("001729980752").contact.name == "Jürgen Müller-Beispiel"


def test_vcard_without_end_is_read_and_reported(tmp_path: Path) -> None:
    text = "BEGIN:VCARD\nVERSION:3.0\nFN:Offen Ende\nTEL:089 99998 301\n"
    book = Phonebook([write(tmp_path / "cut.vcf", text)], MUNICH)
    assert book.lookup("0089 99998301").contact.name == "Offen Ende"
    assert len(book.errors) == 1
    assert "cut.vcf, line 1" in book.errors[0] and "END:VCARD" in book.errors[0]


def test_vcard_detected_by_content_without_suffix(tmp_path: Path) -> None:
    book = Phonebook([write(tmp_path / "export", VCARDS)], MUNICH)
    assert book.contact_count == 4


# ---- misses, cache


def test_unknown_number_returns_none(tmp_path: Path) -> None:
    book = Phonebook([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH)
    assert book.lookup("0891234568") is None
    assert book.lookup("+43 1 5877123") is None
    assert book.lookup("9999") is None


@pytest.mark.parametrize("raw", ["", "   ", "anonymous", "restricted", "+", "---"])
def test_restricted_or_empty_input_returns_none(tmp_path: Path, raw: str) -> None:
    book = Phonebook([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH)
    assert book.lookup(raw) is None


def test_non_string_input_returns_none(tmp_path: Path) -> None:
    book = Phonebook([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH)
    assert book.lookup(None) is None  # type: ignore[arg-type]
    assert book.lookup(["089"]) is None  # type: ignore[arg-type]


def test_repeated_lookups_come_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = Phonebook([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH, cache_size=2)
    first_hit = book.lookup("00891234567")
    first_miss = book.lookup("00891234568")
    calls: list[str] = []
    import cstapopup.calls.phonebook as module
    real = module.iter_lookup_keys
    monkeypatch.setattr(module, "iter_lookup_keys",
                        lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    assert book.lookup("00891234567") is first_hit
    assert book.lookup("00891234568") is first_miss is None
    assert calls == []
    # The cache is small and least-recently-used: a third number evicts the oldest entry.
    book.lookup("0030 23125201")
    book.lookup("00891234567")
    assert calls == ["0030 23125201", "00891234567"]


# ---- conflicts


def test_first_source_wins_a_shared_number_and_the_conflict_is_noted(tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", "Name;Phone\nAlice Anfang;089 99998 111\n")
    second = write(tmp_path / "b.vcf",
                   "BEGIN:VCARD\nFN:Bruno Zweiter\nTEL:+49 89 99998 111\nEND:VCARD\n")
    book = Phonebook([first, second], MUNICH)
    assert book.lookup("0089 99998111").contact.name == "Alice Anfang"
    assert len(book.conflicts) == 1
    note = book.conflicts[0]
    assert "b.vcf, line 1" in note and "Bruno Zweiter" in note and "Alice Anfang" in note
    assert book.errors == []
    swapped = Phonebook([second, first], MUNICH)
    assert swapped.lookup("0089 99998111").contact.name == "Bruno Zweiter"


def test_same_number_twice_for_one_contact_is_no_conflict(tmp_path: Path) -> None:
    text = "Name;Phone;Mobile\nDoppelt Gemoppelt;089 99998 112;+49 89 99998 112\n"
    book = Phonebook([write(tmp_path / "a.csv", text)], MUNICH)
    assert book.conflicts == []
    assert book.number_count == 1


# ---- reloading


def test_reload_when_the_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    clock = FakeClock()
    book = Phonebook([path], MUNICH, clock=clock)
    assert book.lookup("00891234567").contact.name == "Erika Mustermann"
    clock.now += 5
    assert book.reload_if_changed() is False   # nothing changed

    write(path, SEMICOLON_CSV.replace("Erika Mustermann", "Erika Neuname"))
    bump_mtime(path)
    clock.now += 5
    assert book.reload_if_changed() is True
    # The cached answer from before the reload must not survive it.
    assert book.lookup("00891234567").contact.name == "Erika Neuname"
    clock.now += 5
    assert book.reload_if_changed() is False


def test_same_size_rewrite_is_seen_through_the_mtime(tmp_path: Path) -> None:
    path = write(tmp_path / "book.csv", "Name;Phone\nAnna;089 99998 121\n")
    clock = FakeClock()
    book = Phonebook([path], MUNICH, clock=clock)
    write(path, "Name;Phone\nAnne;089 99998 121\n")
    bump_mtime(path)
    clock.now += 2
    assert book.reload_if_changed() is True
    assert book.lookup("0089 99998121").contact.name == "Anne"


def test_disk_is_checked_at_most_once_per_interval(tmp_path: Path) -> None:
    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    clock = FakeClock()
    book = Phonebook([path], MUNICH, clock=clock, check_interval=1.0)
    write(path, SEMICOLON_CSV.replace("Erika", "Erna"))
    bump_mtime(path)
    clock.now += 0.5
    assert book.reload_if_changed() is False     # too soon: the disk is not looked at
    clock.now += 0.6
    assert book.reload_if_changed() is True
    assert book.lookup("00891234567").contact.name == "Erna Mustermann"


def test_only_changed_files_are_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(tmp_path / "a.csv", "Name;Phone\nAnna;089 99998 131\n")
    b = write(tmp_path / "b.csv", "Name;Phone\nBert;089 99998 132\n")
    clock = FakeClock()
    book = Phonebook([a, b], MUNICH, clock=clock)
    import cstapopup.calls.phonebook as module
    read: list[Path] = []
    real = module._read_file
    monkeypatch.setattr(module, "_read_file", lambda p, m: read.append(p) or real(p, m))
    write(b, "Name;Phone\nBerta;089 99998 132\n")
    bump_mtime(b)
    clock.now += 2
    assert book.reload_if_changed() is True
    assert read == [b]
    assert book.lookup("0089 99998131").contact.name == "Anna"
    assert book.lookup("0089 99998132").contact.name == "Berta"


def test_missing_file_is_an_error_until_it_appears(tmp_path: Path) -> None:
    present = write(tmp_path / "present.csv", SEMICOLON_CSV)
    missing = tmp_path / "later.csv"
    clock = FakeClock()
    book = Phonebook([missing, present], MUNICH, clock=clock)
    assert book.errors == [f"{missing}: file not found"]
    assert book.lookup("00891234567").contact.name == "Erika Mustermann"
    clock.now += 2
    assert book.reload_if_changed() is False     # still missing: nothing to do
    write(missing, "Name;Phone\nSpät Dran;089 1234567\n")
    clock.now += 2
    assert book.reload_if_changed() is True
    assert book.errors == []
    # The file listed first now wins the shared number.
    assert book.lookup("00891234567").contact.name == "Spät Dran"
    assert len(book.conflicts) == 1


def test_deleted_file_drops_its_contacts(tmp_path: Path) -> None:
    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    clock = FakeClock()
    book = Phonebook([path], MUNICH, clock=clock)
    path.unlink()
    clock.now += 2
    assert book.reload_if_changed() is True
    assert book.lookup("00891234567") is None
    assert book.errors == [f"{path}: file not found"]


# ---- bad files


def test_bad_files_are_reported_and_skipped(tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", SEMICOLON_CSV)
    no_phone = write(tmp_path / "nophone.csv", "Name;Street;City\nA;B;C\n")
    empty = write(tmp_path / "empty.csv", "")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    not_vcard = write(tmp_path / "notes.vcf", "just some notes\n")
    directory = tmp_path / "a-directory.csv"
    directory.mkdir()
    book = Phonebook([no_phone, empty, binary, not_vcard, directory, good], MUNICH)
    assert book.lookup("00891234567").contact.name == "Erika Mustermann"
    assert len(book.errors) == 5
    by_file = {Path(e.split(":")[0].split(",")[0]).name: e for e in book.errors}
    assert "no phone column" in by_file["nophone.csv"] and "line 1" in by_file["nophone.csv"]
    assert "empty" in by_file["empty.csv"]
    assert "binary" in by_file["binary.csv"]
    assert "no vCard" in by_file["notes.vcf"]
    assert "cannot read" in by_file["a-directory.csv"]


def test_bad_lines_are_reported_with_their_line_numbers(tmp_path: Path) -> None:
    text = (
        "Name;Phone\n"
        "Gut Eins;089 99998 141\n"
        ";089 99998 142\n"                 # no name, no company
        "Kaputt;bitte Zentrale fragen 5\n"  # not a number
        "Gut Zwei;089 99998 143\n"
        "Nur Mail;\n"                       # no number at all: silently not indexed
    )
    book = Phonebook([write(tmp_path / "lines.csv", text)], MUNICH)
    assert book.contact_count == 3
    assert book.lookup("0089 99998143").contact.name == "Gut Zwei"
    assert book.lookup("0089 99998142") is None
    assert len(book.errors) == 2
    assert "lines.csv, line 3" in book.errors[0]
    assert "neither a name nor a company" in book.errors[0]
    assert "lines.csv, line 4" in book.errors[1] and "'bitte Zentrale fragen 5'" in book.errors[1]


def test_many_bad_lines_are_summarised(tmp_path: Path) -> None:
    rows = "".join(f"Name {i};kein Anschluss {i}\n" for i in range(100))
    book = Phonebook([write(tmp_path / "noisy.csv", "Name;Phone\n" + rows)], MUNICH)
    assert len(book.errors) == 21
    assert book.errors[-1].endswith("80 more problems not listed")


def test_unclosed_quote_is_reported_not_swallowed_silently(tmp_path: Path) -> None:
    text = 'Name;Phone\nGut Eins;089 99998 150\n"Offenes Zitat;089 99998 151\nGut;089 99998 152\n'
    book = Phonebook([write(tmp_path / "quotes.csv", text)], MUNICH)
    assert book.lookup("0089 99998150").contact.name == "Gut Eins"
    expected = (f"{tmp_path / 'quotes.csv'}, line 3: a quote opened in this entry is never "
                "closed, so lines 3-4 were read as one entry")
    assert book.errors == [expected]


def test_multiline_quoted_cell_is_fine(tmp_path: Path) -> None:
    text = 'Name;Phone;Notes\nAnna;089 99998 153;"erste Zeile\nzweite Zeile"\nBert;089 99998 154;\n'
    book = Phonebook([write(tmp_path / "notes.csv", text)], MUNICH)
    assert book.errors == []
    assert book.lookup("0089 99998154").contact.name == "Bert"


def test_stray_nul_far_into_a_text_file_is_dropped(tmp_path: Path) -> None:
    filler = "".join(f"Person {i};089 99998 {i:03d}\n" for i in range(200, 400))
    text = "Name;Phone\n" + filler + "Nul\x00l Punkt;089 99998 155\n"
    book = Phonebook([write(tmp_path / "nul.csv", text)], MUNICH)
    assert book.errors == []
    assert book.lookup("0089 99998155").contact.name == "Null Punkt"


def test_read_contacts_gives_contacts_and_problems(tmp_path: Path) -> None:
    contacts, errors = read_contacts(write(tmp_path / "book.csv", SEMICOLON_CSV))
    assert errors == []
    assert contacts[0] == Contact("Erika Mustermann", "Mustermann GmbH",
                                  ("089 1234567", "+49 171 2345678"), str(tmp_path / "book.csv"))
    contacts, errors = read_contacts(tmp_path / "nothing.csv")
    assert contacts == [] and errors == [f"{tmp_path / 'nothing.csv'}: file not found"]


# ---- the demo phonebook


def test_demo_phonebook_loads_cleanly_with_distinct_numbers() -> None:
    csv_path, vcf_path = resources.path("demo/phonebook.csv"), resources.path("demo/phonebook.vcf")
    book = Phonebook([csv_path, vcf_path], MUNICH)
    assert book.errors == []
    assert book.conflicts == []
    csv_contacts, _ = read_contacts(csv_path)
    vcf_contacts, _ = read_contacts(vcf_path)
    assert len(csv_contacts) >= 35 and len(vcf_contacts) >= 8
    numbers = [n for c in csv_contacts + vcf_contacts for n in c.numbers]
    keys = [normalise(n, MUNICH, from_pbx=False) for n in numbers]
    assert all(k is not None and k.kind == "external" for k in keys)
    assert len({k.key for k in keys}) == len(numbers)
    assert {k.key[:3] for k in keys} == {"+49", "+43", "+41"}
    # Every demo number comes back to its contact when the PBX reports it with the trunk digit.
    for contact in csv_contacts + vcf_contacts:
        for number in contact.numbers:
            key = normalise(number, MUNICH, from_pbx=False).key
            pbx_form = "0" + "00" + key[1:]
            match = book.lookup(pbx_form)
            assert isinstance(match, Match) and match.contact == contact
