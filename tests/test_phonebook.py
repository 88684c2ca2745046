"""Phonebook: reading CSV and vCard files, looking numbers up, reloading, and bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cstapopup import resources
from cstapopup.calls.numbers import NumberingPlan, normalise
from cstapopup.calls import phonebook
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


def test_conflicts_beyond_the_listed_ones_are_counted_in_one_line(tmp_path: Path) -> None:
    """A book where 150 contacts share one number: the first wins, 100 conflicts are
    described and the other 49 counted, not listed."""
    rows = "".join(f"Person {i:03};089 99998 111\n" for i in range(150))
    book = Phonebook([write(tmp_path / "same.csv", "Name;Phone\n" + rows)], MUNICH)
    assert book.lookup("0089 99998111").contact.name == "Person 000"
    assert len(book.conflicts) == phonebook.CONFLICTS_LISTED + 1
    assert "'Person 100'" in book.conflicts[phonebook.CONFLICTS_LISTED - 1]
    assert book.conflicts[-1].startswith("... and 49 more numbers that another contact has")


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
    monkeypatch.setattr(module, "_read_file",
                        lambda p, *a, **k: read.append(p) or real(p, *a, **k))
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


# ---- only regular files, within a size limit (issue 13.7)


def test_a_device_is_refused_without_reading_it() -> None:
    # /dev/zero has size 0 and never ends: reading it grew to 2.9 GB before a MemoryError.
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    book = Phonebook(["/dev/zero"], MUNICH)
    assert book.errors == [("/dev/zero: cannot read it: it is a character device, not a "
                            "regular file (a phone book must be a CSV or vCard file)")]
    assert book.status().files[0].error == book.errors[0]


def _load_in_thread(paths: list[Path], fifo: Path) -> tuple[Phonebook | None, bool]:
    """Phonebook(paths) in a thread; if it is still stuck after 10 s on the FIFO, a writer
    opens and closes it so that the thread ends and the test can fail instead of hanging."""
    import threading

    result: list[Phonebook] = []
    worker = threading.Thread(target=lambda: result.append(Phonebook(paths, MUNICH)),
                              daemon=True)
    worker.start()
    worker.join(10)
    stuck = worker.is_alive()
    if stuck:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(10)
    return (result[0] if result else None), stuck


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "book.csv"
    os.mkfifo(fifo)
    good = write(tmp_path / "good.csv", SEMICOLON_CSV)
    book, stuck = _load_in_thread([fifo, good], fifo)
    assert not stuck, "reading the phone book waited for a writer to the FIFO"
    assert book is not None
    assert book.errors == [(f"{fifo}: cannot read it: it is a named pipe (FIFO), not a "
                            "regular file (a phone book must be a CSV or vCard file)")]
    assert book.lookup("00891234567").contact.name == "Erika Mustermann"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_swapped_in_after_the_look_is_refused_at_the_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The path was a regular file when looked at, and is a FIFO when opened.
    import cstapopup.calls.phonebook as module

    fifo = tmp_path / "book.csv"
    os.mkfifo(fifo)
    regular = os.stat(write(tmp_path / "regular.csv", SEMICOLON_CSV))
    monkeypatch.setattr(module, "_stat", lambda p: regular if Path(p) == fifo else os.stat(p))
    book, stuck = _load_in_thread([fifo], fifo)
    assert not stuck, "opening the FIFO waited for a writer"
    assert book is not None
    assert book.errors == [(f"{fifo}: cannot read it: it is a named pipe (FIFO), not a "
                            "regular file (a phone book must be a CSV or vCard file)")]


def test_a_directory_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "kontakte.csv"
    folder.mkdir()
    assert Phonebook([folder], MUNICH).errors == [
        (f"{folder}: cannot read it: it is a directory, not a regular file "
         "(a phone book must be a CSV or vCard file)")]


def test_a_file_over_the_limit_is_refused_naming_file_and_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", SEMICOLON_CSV * 40)
    size = path.stat().st_size
    good = write(tmp_path / "good.csv", "Name;Phone\nKlein;089 99998 160\n")
    book = Phonebook([path, good], MUNICH, max_file_bytes=1000)
    assert book.errors == [(f"{path}: file is {size:,} bytes, more than the phone-book limit "
                            "of 1,000 bytes; not read")]
    assert book.lookup("0089 99998160").contact.name == "Klein"
    assert book.lookup("00891234567") is None
    contacts, errors = read_contacts(path, max_file_bytes=1000)
    assert contacts == [] and errors == book.errors


def test_the_default_limit_is_64_mb_and_named_in_megabytes(tmp_path: Path) -> None:
    import cstapopup.calls.phonebook as module

    assert module.MAX_FILE_BYTES == 64 * 1024 * 1024
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:      # sparse: no disk space used
        f.truncate(module.MAX_FILE_BYTES + 1)
    assert Phonebook([path], MUNICH).errors == [
        (f"{path}: file is 64.0 MB (67,108,865 bytes), more than the phone-book limit of "
         "64 MB (67,108,864 bytes); not read")]


def test_a_file_growing_past_the_limit_while_read_is_stopped() -> None:
    # Files in /proc say they are empty and then have content: the limit holds while reading.
    status = Path("/proc/self/status")
    if not status.is_file() or status.stat().st_size != 0:
        pytest.skip("no /proc here")
    book = Phonebook([status], MUNICH, max_file_bytes=100)
    assert book.errors == [f"{status}: file grew past the phone-book limit of 100 bytes; not read"]


# ---- streaming


def _reads_while_parsing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes handed to the parser so far, noted at every read of the parsing pass."""
    import cstapopup.calls.phonebook as module

    counts: list[int] = []
    real = module._Limited.readinto

    def readinto(self, buffer):  # type: ignore[no-untyped-def]
        n = real(self, buffer)
        counts.append(self.count)
        return n

    monkeypatch.setattr(module._Limited, "readinto", readinto)
    return counts


@pytest.mark.parametrize("suffix", [".csv", ".vcf"])
def test_files_are_parsed_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    import cstapopup.calls.phonebook as module

    if suffix == ".csv":
        body = "Name;Phone;Notes\n" + "".join(
            f"Person {i};089 9{i:06d};{'x' * 200}\n" for i in range(20_000))
    else:
        body = "".join(f"BEGIN:VCARD\nFN:Person {i}\nTEL:089 9{i:06d}\nNOTE:{'x' * 200}\n"
                       "END:VCARD\n" for i in range(20_000))
    path = write(tmp_path / f"big{suffix}", "\ufeff" + body)    # BOM: no pass to guess encoding
    size = path.stat().st_size
    counts = _reads_while_parsing(monkeypatch)
    contacts = module._read_file(path, module._Messages(path))
    first = next(contacts)
    assert first[1].name == "Person 0"
    assert counts and counts[-1] < size / 10, "the whole file was read before the first entry"
    rest = list(contacts)
    assert len(rest) == 19_999 and rest[-1][1].numbers == ("089 9019999",)


def test_without_bom_the_whole_file_decides_the_encoding(tmp_path: Path) -> None:
    # The first byte that is not UTF-8 comes after 2 MB: the whole file is still Windows ANSI.
    # (The filler has no numbers, which are skipped without being parsed.)
    filler = "".join(f"Person {i} ohne Nummer;\n" for i in range(100_000))
    text = "Name;Phone\n" + filler + "Jürgen Größe;089 99998 170\n"
    path = write(tmp_path / "ansi.csv", text, encoding="cp1252")
    assert path.stat().st_size > 2 * 1024 * 1024
    book = Phonebook([path], MUNICH)
    assert book.errors == []
    assert book.lookup("0089 99998170").contact.name == "Jürgen Größe"


def test_utf8_characters_across_chunk_boundaries(tmp_path: Path) -> None:
    rows = "".join(f"Jürgen Größe-Ärger {i};089 9{i:06d}\n" for i in range(60_000))
    path = write(tmp_path / "utf8.csv", "Name;Phone\n" + rows)
    contacts, errors = read_contacts(path)
    assert errors == []
    assert [c.name for c in contacts] == [f"Jürgen Größe-Ärger {i}" for i in range(60_000)]
    assert contacts[-1].numbers == ("089 9059999",)


def test_utf16_across_chunk_boundaries(tmp_path: Path) -> None:
    rows = "".join(f"Zoë Øre {i}\t0172 9{i:06d}\n" for i in range(20_000))
    path = tmp_path / "outlook.txt"
    path.write_bytes(("Name\tMobile Phone\n" + rows).encode("utf-16"))
    contacts, errors = read_contacts(path)
    assert errors == []
    assert [c.name for c in contacts] == [f"Zoë Øre {i}" for i in range(20_000)]
    assert contacts[-1].numbers == ("0172 9019999",)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_vcard_lines_split_in_chunks_as_splitlines_does(chunk: int) -> None:
    import io
    import random

    from cstapopup.calls.phonebook import _text_lines

    rng = random.Random(chunk)
    alphabet = "ab \t=:\r\n\x0b\x0c\x1c\x85\u2028\x00é"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        got = list(_text_lines(io.StringIO(text, newline=""), chunk))
        assert got == text.replace("\x00", "").splitlines(), repr(text)


def test_vcard_with_large_photos_keeps_its_contacts(tmp_path: Path) -> None:
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 50_000
    folded = "\r\n ".join(photo[i:i + 74] for i in range(0, len(photo), 74))
    cards = "".join(f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bild {i}\r\n{folded}\r\n"
                    f"TEL:089 99998 {i:03d}\r\nEND:VCARD\r\n" for i in range(20))
    book = Phonebook([write(tmp_path / "photos.vcf", cards)], MUNICH)
    assert book.errors == []
    assert book.contact_count == 20
    assert book.lookup("0089 99998019").contact.name == "Bild 19"


# ---- loading off the start path and off the event path (issue 13.9)


class Gate:
    """Holds the worker's file reading until the test opens it; notes the reading threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import threading

        import cstapopup.calls.phonebook as module

        self.open = threading.Event()
        self.threads: list[int] = []
        real = module._load_file

        def load(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.threads.append(threading.get_ident())
            if not self.open.wait(30):
                raise AssertionError("the gate was never opened")
            return real(*args, **kwargs)

        monkeypatch.setattr(module, "_load_file", load)


def spy_on_disk(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every look at a phone-book file (stat or read), with the thread it happened on."""
    import threading

    import cstapopup.calls.phonebook as module

    seen: list[tuple[str, int]] = []
    real_signature, real_read = module._signature, module._read_file

    def signature(path):  # type: ignore[no-untyped-def]
        seen.append(("stat", threading.get_ident()))
        return real_signature(path)

    def read(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(("read", threading.get_ident()))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(module, "_signature", signature)
    monkeypatch.setattr(module, "_read_file", read)
    return seen


async def test_service_start_returns_before_the_files_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from cstapopup.calls.phonebook import PhonebookService

    gate = Gate(monkeypatch)
    heard: list[tuple[int, object]] = []
    service = PhonebookService([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH)
    service.add_listener(lambda status: heard.append((threading.get_ident(), status)))
    try:
        service.start()
        # The worker is stuck in the first load, and lookups answer at once: no match, not ready.
        assert service.ready is False and service.busy is True
        assert service.lookup("00891234567") is None
        assert service.status().ready is False and service.status().files == ()
        assert heard == []
        gate.open.set()
        status = await service.wait_idle(timeout=30)
        assert gate.threads and threading.get_ident() not in gate.threads
        assert status.ready and not status.busy
        assert service.lookup("00891234567").contact.name == "Erika Mustermann"
        # Listeners hear of the new index once, on the loop's thread, with each file's status.
        assert len(heard) == 1
        thread, heard_status = heard[0]
        assert thread == threading.get_ident()
        assert heard_status.files[0].contacts == 2 and heard_status.files[0].numbers == 3
        assert heard_status.files[0].error is None and heard_status.errors == ()
    finally:
        gate.open.set()
        service.close()


async def test_service_lookups_never_look_at_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cstapopup.calls.phonebook import PhonebookService

    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    service = PhonebookService([path], MUNICH)
    service.start()
    try:
        await service.wait_idle(timeout=30)
        write(path, SEMICOLON_CSV.replace("Erika Mustermann", "Erika Neuname"))
        bump_mtime(path)
        seen = spy_on_disk(monkeypatch)
        for _ in range(50):
            assert service.lookup("00891234567").contact.name == "Erika Mustermann"
        assert seen == []
        # Only asking for a check looks at the disk -- in the worker -- and then the new name
        # is used.
        assert service.check_for_changes() is True
        assert service.check_for_changes() is False    # one check at a time
        await service.wait_idle(timeout=30)
        assert {kind for kind, _ in seen} == {"stat", "read"}
        assert {thread for _, thread in seen} == {next(iter(seen))[1]} != {threading_id()}
        assert service.lookup("00891234567").contact.name == "Erika Neuname"
    finally:
        service.close()


def threading_id() -> int:
    import threading

    return threading.get_ident()


async def test_service_check_reads_only_what_changed_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cstapopup.calls.phonebook import PhonebookService

    a = write(tmp_path / "a.csv", "Name;Phone\nAnna;089 99998 131\n")
    b = write(tmp_path / "b.csv", "Name;Phone\nBert;089 99998 132\n")
    service = PhonebookService([a, b], MUNICH)
    heard: list[object] = []
    service.add_listener(heard.append)
    service.start()
    try:
        await service.wait_idle(timeout=30)
        assert len(heard) == 1
        assert service.check_for_changes() is True
        await service.wait_idle(timeout=30)
        assert len(heard) == 1          # nothing changed: no new index, nobody told
        seen = spy_on_disk(monkeypatch)
        write(b, "Name;Phone\nBerta;089 99998 132\n")
        bump_mtime(b)
        service.check_for_changes()
        await service.wait_idle(timeout=30)
        assert [kind for kind, _ in seen].count("read") == 1
        assert len(heard) == 2
        assert service.lookup("0089 99998131").contact.name == "Anna"
        assert service.lookup("0089 99998132").contact.name == "Berta"
    finally:
        service.close()


async def test_service_checks_on_its_own_timer_when_asked_to(tmp_path: Path) -> None:
    import asyncio

    from cstapopup.calls.phonebook import PhonebookService

    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    service = PhonebookService([path], MUNICH)
    changed = asyncio.Event()
    loads: list[object] = []

    def heard(status: object) -> None:
        loads.append(status)
        if len(loads) == 2:
            changed.set()

    service.add_listener(heard)
    service.start(check_interval=0.02)
    try:
        await service.wait_idle(timeout=30)
        write(path, SEMICOLON_CSV.replace("Erika", "Erna"))
        bump_mtime(path)
        await asyncio.wait_for(changed.wait(), 30)
        assert service.lookup("00891234567").contact.name == "Erna Mustermann"
    finally:
        service.close()


async def test_service_reports_bad_files_as_data(tmp_path: Path) -> None:
    from cstapopup.calls.phonebook import PhonebookService

    missing = tmp_path / "missing.csv"
    folder = tmp_path / "folder.vcf"
    folder.mkdir()
    big = write(tmp_path / "big.csv", SEMICOLON_CSV * 40)
    noisy = write(tmp_path / "noisy.csv", "Name;Phone\nKaputt;bitte Zentrale fragen\n")
    good = write(tmp_path / "good.csv", SEMICOLON_CSV)
    service = PhonebookService([missing, folder, big, noisy, good], MUNICH, max_file_bytes=1000)
    service.start()
    try:
        status = await service.wait_idle(timeout=30)
        errors = {f.path.name: f.error for f in status.files}
        assert errors["missing.csv"] == f"{missing}: file not found"
        assert "it is a directory" in errors["folder.vcf"]
        assert "more than the phone-book limit of 1,000 bytes" in errors["big.csv"]
        # A file with bad lines is still used: its problems are listed, it has no error.
        assert errors["noisy.csv"] is None and errors["good.csv"] is None
        noisy_status = status.files[3]
        assert noisy_status.problems and "line 2" in noisy_status.problems[0]
        assert list(status.errors) == service.errors and len(status.errors) == 4
        assert service.lookup("00891234567").contact.name == "Erika Mustermann"
    finally:
        service.close()


async def test_reload_while_loading_runs_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cstapopup.calls.phonebook import PhonebookService

    gate = Gate(monkeypatch)
    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    service = PhonebookService([path], MUNICH)
    service.start()
    try:
        service.reload()        # asked while the first load waits at the gate
        write(path, SEMICOLON_CSV.replace("Erika", "Erna"))
        gate.open.set()
        await service.wait_idle(timeout=30)
        assert len(gate.threads) == 2
        assert service.lookup("00891234567").contact.name == "Erna Mustermann"
    finally:
        service.close()


async def test_close_during_a_load_abandons_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from cstapopup.calls.phonebook import PhonebookService

    gate = Gate(monkeypatch)
    service = PhonebookService([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH)
    heard: list[object] = []
    service.add_listener(heard.append)
    service.start()
    service.close()
    gate.open.set()
    assert service.busy is False
    await asyncio.wait_for(asyncio.to_thread(service._executor.shutdown, wait=True), 30)
    await asyncio.sleep(0)
    assert heard == [] and service.ready is False and service.lookup("00891234567") is None
    assert service.check_for_changes() is False


def test_a_closed_phonebook_stops_reading_at_the_next_chunk(tmp_path: Path) -> None:
    import threading

    import cstapopup.calls.phonebook as module

    rows = "".join(f"Person {i};089 9{i:06d}\n" for i in range(50_000))
    path = write(tmp_path / "big.csv", "\ufeffName;Phone\n" + rows)
    stop = threading.Event()
    contacts = module._read_file(path, module._Messages(path), stop=stop)
    next(contacts)
    stop.set()
    with pytest.raises(module._Cancelled):
        list(contacts)


def test_service_start_needs_a_loop(tmp_path: Path) -> None:
    from cstapopup.calls.phonebook import PhonebookService

    service = PhonebookService([write(tmp_path / "book.csv", SEMICOLON_CSV)], MUNICH)
    with pytest.raises(RuntimeError):
        service.start()
    service.close()


# ---- the recorder: no loading on the start path or in the event path


async def test_recorder_open_reads_the_phonebook_off_the_loop_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from cstapopup.calls.recorder import Recorder

    seen = spy_on_disk(monkeypatch)
    book = write(tmp_path / "book.csv", SEMICOLON_CSV)
    recorder = Recorder.open(tmp_path / "h.sqlite3", ["100"], phonebook_files=[book],
                             plan=MUNICH)
    try:
        # Nothing was read on the way: a 50,000-contact book used to delay the start by 2.3 s.
        assert ("read", threading.get_ident()) not in seen
        await recorder.phonebook.wait_idle(timeout=30)
        assert recorder.lookup("00891234567").contact.name == "Erika Mustermann"
        assert [kind for kind, _ in seen].count("read") == 1
        assert threading.get_ident() not in {thread for _, thread in seen}
    finally:
        recorder.close()


def test_recorder_lookup_does_not_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Recorder.lookup used to call reload_if_changed(): a changed 50,000-contact file was read
    # again inside the event handler, and the popup waited for it.
    from cstapopup.calls.recorder import Recorder
    from cstapopup.calls.store import HistoryStore
    from cstapopup.calls.tracker import CallTracker

    path = write(tmp_path / "book.csv", SEMICOLON_CSV)
    clock = FakeClock()
    book = Phonebook([path], MUNICH, clock=clock)
    recorder = Recorder(HistoryStore(tmp_path / "h.sqlite3"), CallTracker(["100"]),
                        phonebook=book, plan=MUNICH)
    try:
        write(path, SEMICOLON_CSV.replace("Erika", "Erna"))
        bump_mtime(path)
        clock.now += 60
        seen = spy_on_disk(monkeypatch)
        assert recorder.lookup("00891234567").contact.name == "Erika Mustermann"
        assert seen == []
    finally:
        recorder.close()


async def test_recorder_names_a_call_once_the_book_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from cstapopup.calls.model import Call, Direction
    from cstapopup.calls.recorder import Recorder

    gate = Gate(monkeypatch)
    book = write(tmp_path / "book.csv", SEMICOLON_CSV)
    recorder = Recorder.open(tmp_path / "h.sqlite3", ["100"], phonebook_files=[book],
                             plan=MUNICH)
    call = Call(key="k1", direction=Direction.INCOMING,
                started_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                remote_number="00891234567")
    try:
        assert recorder._named(call).remote_name is None      # still loading: no name yet
        gate.open.set()
        await recorder.phonebook.wait_idle(timeout=30)
        named = recorder._named(call)       # the miss while loading was not remembered
        assert (named.remote_name, named.remote_company) == ("Erika Mustermann",
                                                             "Mustermann GmbH")
    finally:
        gate.open.set()
        recorder.close()


async def test_recorder_reconfigure_replaces_and_closes_the_book(tmp_path: Path) -> None:
    from cstapopup.calls.recorder import Recorder

    first = write(tmp_path / "a.csv", SEMICOLON_CSV)
    second = write(tmp_path / "b.csv", "Name;Phone\nZweite Datei;089 1234567\n")
    recorder = Recorder.open(tmp_path / "h.sqlite3", ["100"], phonebook_files=[first],
                             plan=MUNICH)
    try:
        old = recorder.phonebook
        await old.wait_idle(timeout=30)
        recorder.reconfigure(phonebook_files=[second])
        assert old.check_for_changes() is False     # closed
        await recorder.phonebook.wait_idle(timeout=30)
        assert recorder.lookup("00891234567").contact.name == "Zweite Datei"
        recorder.reconfigure(phonebook_files=[])
        assert recorder.phonebook is None and recorder.lookup("00891234567") is None
    finally:
        recorder.close()
