"""Phone notes in the domain (no Qt): kept with the call in the history (a schema migration
over a real older file), never lost to the tracker's rewrites, found by the search, in the
exports; the colleague's e-mail address from the phone book (vCard 2.1/3.0/4.0, CSV); the
note as a `mailto:` link (RFC 6068)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from cstapopup.calls import store as store_mod
from cstapopup.calls.desk import Desk, DeskConfig
from cstapopup.calls.model import Call, Direction, Hop, Outcome, PhoneNote
from cstapopup.calls.notes import (
    NoteContext,
    Recipient,
    mailto_url,
    note_mail,
    recipient_for,
    recipients,
)
from cstapopup.calls.numbers import NumberingPlan
from cstapopup.calls.phonebook import Phonebook, read_contacts
from cstapopup.calls.recorder import Recorder
from cstapopup.calls.store import HistoryError, HistoryFilter, HistoryStore
from cstapopup.calls.tracker import CallTracker
from cstapopup.calls.views import Action, PopupState
from cstapopup.csta.switch.model import SwitchModel

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DEVICES = ["100", "101"]


def make_call(i: int, *, name: str | None = None, company: str | None = None,
              number: str | None = "0891234567", started: datetime | None = None) -> Call:
    started = started or T0 + timedelta(minutes=i)
    return Call(key=f"call-{i}", direction=Direction.INCOMING, started_at=started,
                remote_number=number, remote_name=name, remote_company=company,
                local_devices=("100",), answered_at=started + timedelta(seconds=5),
                ended_at=started + timedelta(seconds=60), outcome=Outcome.ANSWERED,
                answered_by="100", hops=(Hop("delivered", "100", started),))


def note(text: str = "Wants the offer for the new boiler", **fields) -> PhoneNote:
    values = {"for_name": "Tom Keller", "for_number": "102", "callback": True,
              "written_at": T0 + timedelta(hours=1), "written_by": "Reception (100)"}
    values.update(fields)
    return PhoneNote(text=text, **values)


def fts_consistent(store: HistoryStore) -> None:
    """FTS5's own check that the external-content index matches the calls table."""
    if store.search_mode != "scan":
        store._db.execute("INSERT INTO calls_fts(calls_fts, rank) VALUES ('integrity-check', 1)")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture(params=["trigram", "words", "scan"])
def search_mode(request, monkeypatch) -> str:
    """Each text index a history can have (its SQLite decides when it is made)."""
    monkeypatch.setattr(store_mod, "_search_support", lambda: request.param)
    return request.param


def schema_2_file(path: Path, monkeypatch, calls: list[Call]) -> None:
    """A history as the released schema 2 wrote it (migrations 1 and 2 only)."""
    real = store_mod.MIGRATIONS
    monkeypatch.setattr(store_mod, "MIGRATIONS", real[:2])
    with HistoryStore(path) as old:
        old.upsert_many(calls)
        assert old.schema_version == 2 and not old.has_notes
    monkeypatch.setattr(store_mod, "MIGRATIONS", real)


# --- the history: migration, notes, search ---------------------------------------------------

def test_a_schema_2_history_is_upgraded_and_its_search_covers_notes(path, monkeypatch,
                                                                    search_mode):
    calls = [make_call(i, name=f"Caller {i}", company="Kessel & Co") for i in range(40)]
    calls.append(make_call(99, name="Anna Schmidt", company="Müller GmbH"))
    schema_2_file(path, monkeypatch, calls)
    raw = sqlite3.connect(path)
    assert "note_text" not in [r[1] for r in raw.execute("PRAGMA table_info(calls)")]
    raw.close()
    # Read-only (the `history` command before the app upgraded the file): no notes, no error.
    with HistoryStore(path, readonly=True) as reader:
        assert reader.schema_version == 2 and not reader.has_notes
        assert reader.get("call-99").note is None
        assert [c.key for c in reader.search("Schmidt")] == ["call-99"]
        assert reader.query(noted=True) == [] and reader.count(noted=True) == 0
        with pytest.raises(HistoryError):
            reader.set_note("call-99", note())
    with HistoryStore(path) as store:
        assert store.schema_version == len(store_mod.MIGRATIONS) == 3 and store.has_notes
        assert store.search_mode == search_mode
        fts_consistent(store)
        # What was searchable stays so (the index was built anew).
        assert [c.key for c in store.search("Schmidt")] == ["call-99"]
        assert len(store.search("Kessel", limit=None)) == 40
        assert store.get("call-99") == calls[-1]
        saved = store.set_note("call-99", note("Angebot für den Heizkessel, bitte bis Freitag"))
        assert saved is not None and saved.note == note(
            "Angebot für den Heizkessel, bitte bis Freitag")
        fts_consistent(store)
        assert [c.key for c in store.search("Heizkessel")] == ["call-99"]
        assert [c.key for c in store.search("Freitag Schmidt")] == ["call-99"]  # both fields
        assert [c.key for c in store.search("Keller")] == ["call-99"]           # for whom
        assert [c.key for c in store.query(noted=True)] == ["call-99"]
        assert store.count(text="Heizkessel") == 1 and store.count(noted=True) == 1
        # The search in memory (a live row in a filtered table) says the same as the SQL.
        assert store.matches(saved, text="Heizkessel")
        assert store.matches(saved, noted=True) and not store.matches(calls[0], noted=True)
        # Changed and removed: the index follows.
        store.set_note("call-99", note("Rückruf wegen Wartung"))
        fts_consistent(store)
        assert store.search("Heizkessel") == [] and len(store.search("Wartung")) == 1
        store.set_note("call-99", None)
        fts_consistent(store)
        assert store.search("Wartung") == [] and store.get("call-99").note is None
        assert store.query(noted=True) == []


def test_a_note_is_never_touched_by_upserts_and_moves_with_a_moved_start(path):
    with HistoryStore(path) as store:
        call = make_call(1, name="Anna Schmidt")
        store.upsert(call)
        store.set_note(call.key, note())
        # The tracker rewrites the call (without a note: it knows none) again and again.
        for i in range(5):
            store.upsert(call.evolve(updated_at=T0 + timedelta(seconds=i),
                                     remote_name=f"Anna Schmidt {i}"))
            assert store.get(call.key).note == note()
        # An upsert that carries another note does not write it either: only set_note does.
        store.upsert(call.evolve(note=note("not from the tracker")))
        assert store.get(call.key).note == note()
        # A moved start makes a new row (the id is the start time): the note moves along.
        earlier = call.evolve(started_at=call.started_at - timedelta(seconds=3))
        store.upsert(earlier)
        assert store.get(call.key).note == note()
        assert [c.key for c in store.search("boiler")] == [call.key]
        fts_consistent(store)


def test_a_call_merged_away_keeps_its_row_when_it_has_a_note(path, caplog):
    with HistoryStore(path) as store:
        store.upsert_many([make_call(1), make_call(2)])
        store.set_note("call-2", note())
        store.write_changes([("call-1", None), ("call-2", None)])
        assert store.get("call-1") is None
        assert store.get("call-2").note == note()
        assert "has a phone note: its row stays" in caplog.text
        # The user's delete deletes, note and all.
        assert store.delete("call-2") and store.get("call-2") is None
        fts_consistent(store)


def test_set_note_of_an_unknown_call_and_an_empty_note(path):
    with HistoryStore(path) as store:
        assert store.set_note("nobody", note()) is None
        store.upsert(make_call(1))
        assert store.set_note("call-1", PhoneNote(text="   ")) .note is None
        assert store.get_note("call-1") is None
        # A note without a time is written now (timezone-aware).
        saved = store.set_note("call-1", PhoneNote(text="x")).note
        assert saved.written_at is not None and saved.written_at.tzinfo is not None


def test_exports_carry_the_note_and_csv_cells_are_injection_safe(path):
    with HistoryStore(path) as store:
        store.upsert_many([make_call(1), make_call(2)])
        store.set_note("call-1", note("=HYPERLINK(\"http://evil\")\nline two",
                                      for_name="@Tom", written_by="-Reception"))
        buf = io.StringIO()
        store.export_csv(buf)
        rows = {r["key"]: r for r in csv.DictReader(io.StringIO(buf.getvalue()))}
        row = rows["call-1"]
        assert row["note"] == "'=HYPERLINK(\"http://evil\")\nline two"
        assert row["note_for"] == "'@Tom" and row["note_for_number"] == "102"
        assert row["callback_wanted"] == "1" and row["note_written_by"] == "'-Reception"
        assert datetime.fromisoformat(row["note_written_at"]) == T0 + timedelta(hours=1)
        assert all(rows["call-2"][k] == "" for k in ("note", "note_for", "callback_wanted"))
        buf = io.StringIO()
        store.export_json(buf)
        data = {c["key"]: c for c in json.loads(buf.getvalue())}
        assert data["call-1"]["note"]["text"] == "=HYPERLINK(\"http://evil\")\nline two"
        assert data["call-1"]["note"]["callback"] is True and data["call-2"]["note"] is None


def test_a_note_written_meanwhile_survives_the_trackers_rewrites(path, caplog):
    """A live call (the tracker rewrites it on every event, in grouped commits): a note set
    while it rings and talks is on every call the recorder hands up afterwards and stays in
    the file; a consultation call with a note that a transfer merges away stays too."""
    store = HistoryStore(path, writer=True, busy_timeout=0.1)
    recorder = Recorder(store, CallTracker(DEVICES, strict=True), commit_delay=0.5)
    at = [T0]
    handed: list = []

    def step(s) -> None:
        for n in s.notifications:
            at[0] += timedelta(milliseconds=20)
            handed.append(recorder.feed(n.device, n.event, at[0]))

    model = SwitchModel(DEVICES, listener=step)
    ringing = model.incoming_call("00891234567", "100").call
    key = next(c.key for c in handed[-1].calls)
    assert recorder.set_note(key, note("written while it rang")).note.text == \
        "written while it rang"
    handed.clear()
    model.answer(ringing, "100")
    consultation = model.consult(ringing, "100", "101").call
    consult_key = next(c.key for ch in handed for c in ch.calls if c.key != key)
    model.answer(consultation, "101")
    assert recorder.set_note(consult_key, note("on the consultation")) is not None
    handed.clear()
    model.transfer(ringing, consultation, "100")
    model.hang_up(ringing, "101")
    changed = [c for ch in handed for c in ch.calls]
    assert changed and all(c.note == note("written while it rang") for c in changed
                           if c.key == key)
    assert any(c.key == key for c in changed)
    assert consult_key not in [k for ch in handed for k in ch.deleted]   # the UI keeps it
    recorder.close()
    # The tracker did merge it away (the store kept the row because of its note).
    assert f"call {consult_key} was merged into another, but it has a phone note" in caplog.text
    with HistoryStore(path, readonly=True) as reader:
        final = reader.get(key)
        assert final.note == note("written while it rang") and not final.is_live
        assert reader.get(consult_key).note == note("on the consultation")
        assert {c.key for c in reader.search("while it rang")} == {key}


def test_a_note_on_a_call_still_waiting_in_the_queue_is_written(path):
    store = HistoryStore(path, writer=True, busy_timeout=0.1)
    recorder = Recorder(store, CallTracker(DEVICES, strict=True), commit_delay=60.0)
    model = SwitchModel(DEVICES, listener=lambda s: [
        recorder.feed(n.device, n.event, T0) for n in s.notifications])
    model.incoming_call("00891234567", "100")
    key = recorder.tracker.live_calls()[0].key
    assert recorder.set_note(key, note()) is not None   # committed with the call at once
    raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    assert raw.execute("SELECT note_text FROM calls WHERE key = ?", (key,)).fetchone() == (
        note().text,)
    raw.close()
    recorder.close()


def test_a_note_that_cannot_be_written_raises_and_the_health_says_why(path):
    store = HistoryStore(path, writer=True, busy_timeout=0.1)
    recorder = Recorder(store, CallTracker(DEVICES, strict=True))
    store.upsert(make_call(1))
    db = store._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(HistoryError) as caught:
        recorder.set_note("call-1", note("x" * 20000))
    assert caught.value.reason == "the disk is full"
    assert not recorder.health.saving
    db.execute("PRAGMA max_page_count = 1073741823")
    recorder.close()


# --- the phone book: e-mail addresses -----------------------------------------------------

PLAN = NumberingPlan(country="DE", area_code="89", trunk_prefix="0", internal_max_length=4)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return p


def test_vcard_email_in_every_version(tmp_path):
    path = write(tmp_path, "book.vcf", """BEGIN:VCARD
VERSION:2.1
N:Keller;Tom
TEL;WORK:102
EMAIL;INTERNET:tom@old.example
EMAIL;INTERNET;PREF:tom.keller@example.com
END:VCARD
BEGIN:VCARD
VERSION:2.1
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen K=C3=BChn
TEL:103
EMAIL;ENCODING=QUOTED-PRINTABLE:j=C3=BCrgen.k=C3=BChn@example.com
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Eva Roth
TEL;TYPE=WORK,VOICE:104
EMAIL;TYPE=INTERNET,HOME:eva@home.example
EMAIL;TYPE=INTERNET,WORK,PREF:eva.roth@example.com
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Mia Schulz
TEL;VALUE=uri;TYPE=work:tel:105
EMAIL;TYPE=home;PREF=2:mia@home.example
EMAIL;TYPE=work;PREF=1:mia.schulz@example.com
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Apple Grouped
item1.TEL:106
item1.EMAIL;type=INTERNET;type=pref:apple\\@not-an-escape@example.com
item2.EMAIL;type=INTERNET:second@example.com
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:No Address
TEL:107
EMAIL:n/a
END:VCARD
""")
    contacts, problems = read_contacts(path)
    assert problems == []
    emails = {c.name: c.emails for c in contacts}
    assert emails["Tom Keller"] == ("tom.keller@example.com", "tom@old.example")
    assert emails["Jürgen Kühn"] == ("jürgen.kühn@example.com",)
    assert emails["Eva Roth"] == ("eva.roth@example.com", "eva@home.example")
    assert emails["Mia Schulz"] == ("mia.schulz@example.com", "mia@home.example")
    assert emails["No Address"] == ()
    assert next(c for c in contacts if c.name == "Apple Grouped").emails[-1] == \
        "second@example.com"
    book = Phonebook([path], PLAN)
    assert book.lookup("104", from_pbx=True).contact.email == "eva.roth@example.com"


@pytest.mark.parametrize(("header", "delimiter"), [
    ("Name;Telefon;E-Mail", ";"),
    ("Name,Phone,Email", ","),
    ("First Name,Last Name,Business Phone,E-mail Address,E-mail Display Name", ","),
    ("Vorname;Nachname;Telefon geschäftlich;E-Mail-Adresse;E-Mail: Anzeigename", ";"),
    ("Name,Phone 1 - Value,E-mail 1 - Type,E-mail 1 - Value", ","),
    ("Name\tMobile\tMail", "\t"),
    ("Display Name,Work Phone,Primary Email,Secondary Email", ","),
])
def test_csv_email_columns_under_their_common_names(tmp_path, header, delimiter):
    columns = header.split(delimiter)
    row = []
    for column in columns:
        low = column.lower()
        if "display name" in low or "anzeigename" in low:
            row.append("Tom Keller (tom.keller@example.com)" if "mail" in low else "Tom Keller")
        elif low in ("name", "display name"):
            row.append("Tom Keller")
        elif low in ("first name", "vorname"):
            row.append("Tom")
        elif low in ("last name", "nachname"):
            row.append("Keller")
        elif "type" in low:
            row.append("* Work")
        elif "secondary" in low:
            row.append("tk@home.example")
        elif "mail" in low:
            row.append("tom.keller@example.com")
        else:
            row.append("102")
    path = write(tmp_path, "book.csv", f"{header}\n{delimiter.join(row)}\n")
    contacts, problems = read_contacts(path)
    assert problems == []
    (contact,) = contacts
    assert contact.name == "Tom Keller" and contact.numbers == ("102",)
    assert contact.email == "tom.keller@example.com"
    if "Secondary Email" in header:
        assert contact.emails == ("tom.keller@example.com", "tk@home.example")
    else:
        assert contact.emails == ("tom.keller@example.com",)


def test_csv_email_cells_without_an_address_and_with_several(tmp_path):
    path = write(tmp_path, "book.csv", "Name;Telefon;E-Mail\n"
                 "Tom Keller;102;Tom <tom.keller@example.com>; tk@example.org\n"
                 "Eva Roth;103;keine\n"
                 '"Mia Schulz";104;"mailto:mia@example.com"\n')
    contacts, _ = read_contacts(path)
    emails = {c.name: c.emails for c in contacts}
    # The cell ends at the first ";" (the delimiter): the second address is another cell.
    assert emails == {"Tom Keller": ("tom.keller@example.com",), "Eva Roth": (),
                      "Mia Schulz": ("mia@example.com",)}


def test_colleagues_get_their_address_from_the_phone_book_by_extension(tmp_path):
    path = write(tmp_path, "colleagues.csv", "Name;Durchwahl Telefon;E-Mail\n"
                 "Thomas Keller;102;tom.keller@example.com\nEva Roth;103;eva@example.com\n")
    desk = Desk(config=DeskConfig(monitored=("100",), own_device="100",
                                  colleagues=(("102", "Tom"), ("103", None), ("104", None))))
    desk.open_history(tmp_path / "h.sqlite3")
    try:
        # The book read at once (the app's reads in a worker, on its running loop).
        desk.recorder.phonebook = Phonebook([path], desk.config.plan)
        colleagues = desk.note_colleagues()
        assert colleagues == (Recipient("Tom", "102", "tom.keller@example.com"),
                              Recipient("Eva Roth", "103", "eva@example.com"),
                              Recipient("", "104", ""))
        # Type-ahead: colleagues first, then the phone book (each person once).
        found = desk.note_recipients("kel")
        assert [r.label for r in found] == ["Tom (102)", "Thomas Keller (102)"]
        assert [r.label for r in desk.note_recipients("roth")] == ["Eva Roth (103)"]
        assert [r.label for r in desk.note_recipients("")] == [
            "Tom (102)", "Eva Roth (103)", "104"]
    finally:
        desk.close()


def test_recipients_and_the_choice_in_the_field():
    colleagues = [Recipient("Tom Keller", "102", "tom@example.com"),
                  Recipient("Eva Roth", "103")]

    class Book:
        def find(self, text, limit=20):
            from cstapopup.calls.phonebook import Contact
            return [Contact("Tom Keller", "", ("102",), "b", ("x@example.com",)),
                    Contact("", "Kellerei Huber", ("089 123",), "b", ())]

    found = recipients("kel", colleagues, Book())
    assert [r.label for r in found] == ["Tom Keller (102)", "Kellerei Huber (089 123)"]
    assert recipient_for("tom keller (102)", found) == colleagues[0]
    assert recipient_for("103", colleagues) == colleagues[1]
    assert recipient_for("someone else", colleagues) is None


# --- the note by e-mail -------------------------------------------------------------------

def test_mailto_is_rfc_6068_with_umlauts_ampersands_and_line_breaks():
    url = mailto_url("tom.keller+notes@example.com", "Telefonnotiz: Müller & Söhne – bitte?",
                     "Hallo Tom,\n\nRückruf: ja & 100% sicher #1 = gut\r\nEnde")
    assert url == (
        "mailto:tom.keller+notes@example.com"
        "?subject=Telefonnotiz%3A%20M%C3%BCller%20%26%20S%C3%B6hne%20%E2%80%93%20bitte%3F"
        "&body=Hallo%20Tom%2C%0D%0A%0D%0AR%C3%BCckruf%3A%20ja%20%26%20100%25%20sicher%20%231"
        "%20%3D%20gut%0D%0AEnde")
    # What a mail program reads back: the same texts, every line break CRLF.
    parts = urlsplit(url)
    assert parts.scheme == "mailto" and unquote(parts.path) == "tom.keller+notes@example.com"
    fields = parse_qs(parts.query, keep_blank_values=True)
    assert fields["subject"] == ["Telefonnotiz: Müller & Söhne – bitte?"]
    assert fields["body"] == ["Hallo Tom,\r\n\r\nRückruf: ja & 100% sicher #1 = gut\r\nEnde"]
    # Nothing a URL parser could misread is left bare in the header values.
    query = parts.query.split("&", 1)
    assert all(ch not in q.split("=", 1)[1] for q in query for ch in " &=?#+\n\r")
    # Without an address the mail program asks for one; an address needs no escaping but
    # what RFC 6068 asks for.
    assert mailto_url("", "S") == "mailto:?subject=S"
    assert mailto_url("a%b@example.com") == "mailto:a%25b@example.com"


def test_the_ready_text_of_a_note():
    context = NoteContext("k", "Anna Schmidt (Müller & Co)", "089 1234567", T0, None)
    url = note_mail(context, note("Bitte Angebot schicken.\nDanke!"), "tom@example.com")
    fields = parse_qs(urlsplit(url).query)
    local = T0.astimezone()
    written = (T0 + timedelta(hours=1)).astimezone()
    assert fields["subject"] == ["Phone note: Anna Schmidt (Müller & Co) – please call back"]
    assert fields["body"] == ["\r\n".join([
        "Hello Tom Keller,", "",
        f"Anna Schmidt (Müller & Co) called on {local:%Y-%m-%d} at {local:%H:%M}.",
        "Number: 089 1234567", "Callback wanted: yes", "",
        "Bitte Angebot schicken.", "Danke!", "",
        f"Phone note by Reception (100), {written:%Y-%m-%d %H:%M}"])]
    quiet = note_mail(context, PhoneNote(text=""), "")
    body = parse_qs(urlsplit(quiet).query)["body"][0]
    assert body.startswith("Hello,\r\n") and "Callback wanted: no" in body
    assert parse_qs(urlsplit(quiet).query)["subject"] == [
        "Phone note: Anna Schmidt (Müller & Co)"]


# --- the desk ------------------------------------------------------------------------------

def test_the_popup_offers_a_note_once_the_call_was_answered_or_ended():
    from cstapopup.calls.views import Caller, popup_view

    call = make_call(1)
    ringing = call.evolve(answered_at=None, ended_at=None, outcome=Outcome.IN_PROGRESS,
                          answered_by=None)
    view = popup_view(ringing, caller=Caller(), ringing_device="100", own_device="100")
    assert view.state is PopupState.RINGING and not view.allows(Action.NOTE)
    talking = ringing.evolve(answered_at=T0, answered_by="100", outcome=Outcome.ANSWERED)
    assert popup_view(talking, caller=Caller(), ringing_device="100",
                      own_device="100").allows(Action.NOTE)
    missed = ringing.evolve(ended_at=T0, outcome=Outcome.MISSED)
    assert popup_view(missed, caller=Caller(), ringing_device="100",
                      own_device="100").allows(Action.NOTE)
    stale = popup_view(ringing, caller=Caller(), ringing_device="100", own_device="100",
                       stale_after=300.0)
    assert not stale.allows(Action.NOTE)


def test_the_desk_saves_a_note_and_hands_the_call_up(tmp_path):
    seen: list[list[Call]] = []

    class Listener:
        def __getattr__(self, name):
            return lambda *a, **k: None

        def calls_changed(self, calls):
            seen.append(calls)

    desk = Desk(Listener(), config=DeskConfig(monitored=("100",), own_device="100",
                                              colleagues=(("102", "Tom Keller"),)))
    desk.open_history(tmp_path / "h.sqlite3")
    try:
        desk.recorder.store.upsert(make_call(1, name="Anna Schmidt", company="Müller GmbH"))
        context = desk.note_context("call-1")
        assert context.caller == "Anna Schmidt (Müller GmbH)"
        assert context.number == "089 1234567" and context.note is None
        assert context.written_by == "100" and context.colleagues[0].label == \
            "Tom Keller (102)"
        assert desk.save_note("call-1", note()) is None
        assert seen[-1][0].note == note()
        assert desk.note_context("call-1").note == note()
        assert desk.save_note("gone", note()) == \
            "The note was not saved: the call is no longer in the history."
        assert desk.note_context("gone") is None
        url = desk.note_mail_url("call-1", note(), "tom@example.com")
        assert url.startswith("mailto:tom@example.com?subject=Phone%20note%3A%20Anna%20Schmidt")
        # The console's note: the own phone's latest call from the history.
        assert desk.own_last_call() == "call-1"
        assert desk.store.query(HistoryFilter(noted=True))[0].key == "call-1"
    finally:
        desk.close()


# --- `cstapopup history` --------------------------------------------------------------------

def test_the_history_command_marks_finds_and_lists_notes(path, capsys):
    from cstapopup.cli import main

    with HistoryStore(path) as store:
        store.upsert_many([make_call(1, name="Anna Schmidt"), make_call(2, name="Eva Roth"),
                           make_call(3, name="Ben Hoffmann")])
        store.set_note("call-1", note("Angebot schicken\nbis Freitag"))
        store.set_note("call-3", note("Nur zur Info", callback=False, for_name=None,
                                      for_number=None))

    def history(*args: str) -> list[str]:
        assert main(["history", "--db", str(path), *args]) == 0
        return capsys.readouterr().out.splitlines()

    lines = history()
    assert lines[0].split()[-1] == "NOTE"
    assert lines[1].endswith("note") and "Ben Hoffmann" in lines[1]
    assert lines[3].endswith("call back") and "Anna Schmidt" in lines[3]
    assert lines[2].endswith("answered at 100")   # no note: the column stays empty
    found = history("--search", "Freitag")
    assert len(found) == 2 and "Anna Schmidt" in found[1]
    noted = history("--notes")
    assert len(noted) == 1 + 3 + 4   # the header; Ben and his note; Anna and hers
    assert "Ben Hoffmann" in noted[1] and "Anna Schmidt" in noted[4]
    assert noted[2:4] == ["    Phone note", "    Nur zur Info"]
    assert noted[5:] == ["    Phone note for Tom Keller (102) · callback wanted",
                         "    Angebot schicken", "    bis Freitag"]
