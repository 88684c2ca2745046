"""The desk without Qt: what it decides to show (PopupView, badge, link, notices) for the event
sequences of docs/event-sequences.md fed by hand, and for the switch simulator's calls over
real TCP through a real PbxLink; and the user's intents turned into PBX requests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from pathlib import Path

import pytest

from cstapopup.calls.desk import Desk, DeskConfig, DeskListener
from cstapopup.calls.link import LinkChange, LinkFault, LinkState, PbxLink
from cstapopup.calls.model import Call, Outcome
from cstapopup.calls.views import Action, Level, LinkStatus, Notice, PopupState, PopupView
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.settings import ConnectionParameters
from tests import event_sequences as es
from tests.client_helpers import fast_options

FAST = fast_options(backoff_max=0.3)


class Seen(DeskListener):
    """Everything the desk hands up, in order."""

    def __init__(self) -> None:
        self.opened: list[PopupView] = []
        self.changed: list[PopupView] = []
        self.closed: list[str] = []
        self.calls: list[Call] = []
        self.deleted: list[str] = []
        self.badges: list[int] = []
        self.links: list[LinkStatus] = []
        self.notices: list[Notice] = []
        self.statuses: list[str] = []

    def popup_opened(self, view: PopupView) -> None:
        self.opened.append(view)

    def popup_changed(self, view: PopupView) -> None:
        self.changed.append(view)

    def popup_closed(self, key: str) -> None:
        self.closed.append(key)

    def calls_changed(self, calls: list[Call]) -> None:
        self.calls.extend(calls)

    def call_deleted(self, key: str) -> None:
        self.deleted.append(key)

    def badge_changed(self, missed: int) -> None:
        self.badges.append(missed)

    def link_changed(self, status: LinkStatus) -> None:
        self.links.append(status)

    def notice(self, notice: Notice) -> None:
        self.notices.append(notice)

    def status(self, text: str) -> None:
        self.statuses.append(text)

    def views(self, key: str) -> list[PopupView]:
        return [v for v in self.opened + self.changed if v.key == key]

    def last(self, key: str) -> PopupView:
        return [v for v in [*self.opened, *self.changed] if v.key == key][-1]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def phonebook(tmp_path: Path) -> Path:
    path = tmp_path / "book.csv"
    path.write_text("Name;Company;Phone;Mobile\n"
                    "Anna Schmidt;Schmidt & Partner;+49 89 1234567;\n", encoding="utf-8")
    return path


def make_desk(tmp_path: Path, *, monitored=("100", "101", "102"), own="100", books=(),
              crm="", **kwargs) -> tuple[Desk, Seen]:
    seen = Seen()
    config = DeskConfig(monitored=tuple(monitored), own_device=own, crm_template=crm,
                        close_after=8.0, phonebook_files=tuple(str(b) for b in books))
    desk = Desk(seen, config=config, **kwargs)
    desk.open_history(tmp_path / "history.sqlite3")
    return desk, seen


def feed(desk: Desk, seq: es.Sequence) -> None:
    for item in seq.items:
        desk.on_event(item.monitor, item.event, item.received_at)


# --- event sequences fed by hand -----------------------------------------------------------

def test_a_call_answered_at_the_own_phone(tmp_path):
    desk, seen = make_desk(tmp_path)
    seq = es.Sequence(["100"])
    es.incoming_answered(seq)
    feed(desk, seq)
    (opened,) = seen.opened
    assert opened.title == "089 1234567" and opened.number == "" and opened.name is None
    assert opened.state is PopupState.RINGING and opened.state_text == "Ringing"
    assert opened.where == "Ringing at 100" and opened.redirect == ""
    assert opened.trunk == es.TRUNK
    assert opened.actions == {Action.ANSWER, Action.COPY_NUMBER, Action.PUT_THROUGH}
    assert opened.copy_text == "0891234567" and opened.closes_in is None
    states = [(v.state, v.state_text, v.closes_in) for v in seen.changed]
    assert states[0] == (PopupState.ANSWERED_HERE, "Answered at 100", None)  # stays: ours
    assert states[-1] == (PopupState.ENDED, "Answered at 100 · ended (1:00)", 8.0)
    # One view per change: nothing handed up twice.
    assert len({v for v in seen.views(opened.key)}) == len(seen.views(opened.key))
    assert seen.calls[-1].outcome is Outcome.ANSWERED


async def test_a_known_caller_has_name_company_and_a_filled_crm_address(tmp_path, phonebook):
    desk, seen = make_desk(tmp_path, books=[phonebook], crm="https://crm/?q={number}&n={name}")
    await desk.recorder.phonebook.wait_idle(10.0)   # the book loads in the background
    seq = es.Sequence(["100"])
    es.incoming_missed(seq)
    feed(desk, seq)
    (opened,) = seen.opened
    assert (opened.title, opened.name, opened.company, opened.number) == (
        "Anna Schmidt", "Anna Schmidt", "Schmidt & Partner", "089 1234567")
    assert Action.OPEN_CRM in opened.actions
    assert opened.crm_url == "https://crm/?q=0891234567&n=Anna%20Schmidt"
    last = seen.last(opened.key)
    assert last.state is PopupState.MISSED and last.accent == "missed"
    assert last.state_text == "Missed" and last.actions == {Action.COPY_NUMBER, Action.OPEN_CRM,
                                                            Action.NOTE}
    assert seen.badges[-1] == 1
    desk.close()


async def test_a_popup_opened_while_the_phone_book_loads_gets_its_name_when_it_is_read(
        tmp_path, phonebook):
    """The phone book is read in the background: a call that rings before it is read shows
    its number, and its name as soon as the book is there (no restart, no new event)."""
    desk, seen = make_desk(tmp_path, books=[phonebook])
    book = desk.recorder.phonebook
    assert not book.ready
    seq = es.Sequence(["100"])
    es.incoming_answered(seq)
    first = seq.items[0]
    assert first.event.name == "delivered"
    desk.on_event(first.monitor, first.event, first.received_at)
    (opened,) = seen.opened
    assert opened.name is None and opened.title == "089 1234567"
    await book.wait_idle(10.0)
    assert book.ready
    await until(lambda: seen.last(opened.key).name == "Anna Schmidt")
    assert seen.last(opened.key).company == "Schmidt & Partner"
    desk.close()


def test_a_withheld_number_has_nothing_to_copy(tmp_path):
    desk, seen = make_desk(tmp_path, crm="https://crm/?q={number}")
    seq = es.Sequence(["100"])
    es.restricted_caller(seq)
    feed(desk, seq)
    (opened,) = seen.opened
    assert opened.title == "Withheld number" and opened.number == ""
    assert opened.actions == {Action.ANSWER, Action.PUT_THROUGH}
    assert opened.copy_text == "" and opened.crm_url == ""


def test_a_deflected_call_moves_its_popup_and_says_where_it_came_from(tmp_path):
    desk, seen = make_desk(tmp_path)
    seq = es.Sequence(["100", "102"])
    es.deflect(seq, at="100", to="102")
    feed(desk, seq)
    (opened,) = seen.opened   # one call, one popup
    assert opened.ringing_device == "100" and opened.redirect == ""
    moved = next(v for v in seen.changed if v.ringing_device == "102")
    assert moved.state is PopupState.RINGING
    assert moved.where == "Ringing at 102 · line 100"
    assert moved.redirect == "Forwarded from 100" and moved.forwarded_from == "100"
    assert Action.ANSWER not in moved.actions   # it rings at 102, not at the user's phone
    assert seen.last(opened.key).state_text.startswith("Answered at 102")


def test_answered_elsewhere_says_by_whom_and_closes(tmp_path):
    desk, seen = make_desk(tmp_path, monitored=("100",))
    seq = es.Sequence(["100"])
    es.pickup(seq, at="100", by="101")
    feed(desk, seq)
    (_opened,) = seen.opened
    elsewhere = seen.changed[0]
    assert elsewhere.state is PopupState.ANSWERED_ELSEWHERE
    assert elsewhere.state_text == "Answered by 101" and elsewhere.where == "Rang at 100"
    assert elsewhere.answered_by == "101"
    assert elsewhere.closes_in == 8.0 and Action.ANSWER not in elsewhere.actions


def test_the_consultation_call_of_a_transfer_closes_its_popup(tmp_path):
    desk, seen = make_desk(tmp_path, monitored=("100", "101"))
    seq = es.Sequence(["100", "101"])
    es.transfer(seq, at="100", target="101")
    feed(desk, seq)
    keys = [v.key for v in seen.opened]
    assert len(keys) == 2   # the call at 100, then the consultation ringing at 101
    first, consultation = keys
    assert seen.closed == [consultation] and seen.deleted == [consultation]
    assert seen.last(first).state_text == "Transferred to 101"
    assert desk.view_of(consultation) is None


def test_do_not_disturb_records_without_popups(tmp_path):
    desk, seen = make_desk(tmp_path)
    desk.set_do_not_disturb(True)
    seq = es.Sequence(["100"])
    es.incoming_missed(seq)
    feed(desk, seq)
    assert seen.opened == [] and seen.calls[-1].outcome is Outcome.MISSED
    assert desk.store.count() == 1


async def test_answer_is_only_for_the_own_phone_while_it_rings(tmp_path):
    desk, seen = make_desk(tmp_path)
    seq = es.Sequence(["101"])
    es.ring(seq, seq.call(0x77), "101")
    feed(desk, seq)
    (opened,) = seen.opened
    assert Action.ANSWER not in opened.actions   # 101 is not the user's phone
    notice = await desk.answer(opened.key, "101")
    assert notice is not None and notice.text == "This call no longer rings at 101."
    assert seen.notices == [notice]


def test_more_popups_than_allowed_close_the_oldest_and_say_so(tmp_path):
    desk, seen = make_desk(tmp_path, max_popups=5)
    seq = es.Sequence(["100"])
    calls = [seq.call(0x100 + i) for i in range(12)]
    for c in calls:
        es.ring(seq, c, "100")
    feed(desk, seq)
    keys = [v.key for v in seen.opened]
    assert len(keys) == 12 and len(desk.popup_views()) == 5
    assert seen.closed == keys[:7] and desk.popups_dropped == 7
    assert [v.key for v in desk.popup_views()] == keys[7:]
    (notice,) = [n for n in seen.notices if n.title == "Too many calls at once"]
    assert notice.level is Level.WARNING and "history" in notice.text
    assert desk.store.count() == 12   # every call is recorded


def test_a_popup_ringing_without_news_goes_stale_and_closes(tmp_path):
    clock = Clock()
    desk, seen = make_desk(tmp_path, clock=clock, stale_after=300.0)
    seq = es.Sequence(["100"])
    quiet, busy = seq.call(0x201), seq.call(0x202)
    es.ring(seq, quiet, "100")
    es.ring(seq, busy, "100")
    feed(desk, seq)
    quiet_key, busy_key = (v.key for v in seen.opened)
    clock.now += 200
    desk.sweep()
    assert seen.changed == []   # 200 s: still ringing
    more = es.Sequence(["100"])
    es.answer(more, busy, "100")   # news of the other call only
    feed(desk, more)
    clock.now += 100
    desk.sweep()
    stale = seen.last(quiet_key)
    assert stale.state is PopupState.STALE and stale.accent == "ended"
    assert stale.state_text == "No news from the PBX for 5\u00a0minutes"   # unit kept on the line
    assert stale.closes_in == 8.0 and stale.actions == {Action.COPY_NUMBER}
    assert desk.view_of(quiet_key) is None            # forgotten: bounded
    assert desk.view_of(busy_key) is not None        # it had news 100 s ago


def test_a_stale_popup_closes_even_when_popups_stay_until_dismissed(tmp_path):
    clock = Clock()
    seen = Seen()
    desk = Desk(seen, config=DeskConfig(monitored=("100",), own_device="100", close_after=0),
                clock=clock)
    desk.open_history(tmp_path / "h.sqlite3")
    seq = es.Sequence(["100"])
    es.ring(seq, seq.call(0x301), "100")
    feed(desk, seq)
    clock.now += 301
    desk.sweep()
    assert seen.changed[-1].state is PopupState.STALE and seen.changed[-1].closes_in == 10.0


async def test_the_desk_looks_for_stale_popups_by_itself_while_it_has_any(tmp_path, monkeypatch):
    import cstapopup.calls.desk as desk_module

    monkeypatch.setattr(desk_module, "SWEEP_SECONDS", 0.01)
    clock = Clock()
    desk, seen = make_desk(tmp_path, clock=clock, stale_after=300.0)
    seq = es.Sequence(["100"])
    es.ring(seq, seq.call(0x401), "100")
    feed(desk, seq)          # in a running loop: the desk schedules its own sweeps
    clock.now += 300
    await until(lambda: bool(seen.changed))
    assert seen.changed[-1].state is PopupState.STALE and desk.popup_views() == []
    desk.close()


def test_link_states_become_tray_states_and_notices(tmp_path):
    desk, seen = make_desk(tmp_path)
    desk.on_link_state(LinkChange(LinkState.CONNECTING, "connecting to pbx:7001"))
    desk.on_link_state(LinkChange(LinkState.DOWN, "refused; retrying in 1 s",
                                  LinkFault.UNREACHABLE, 1.0))
    desk.on_link_state(LinkChange(LinkState.UP, "connected to pbx:7001, monitoring 100"))
    desk.on_link_state(LinkChange(LinkState.DOWN, "connection lost; reconnecting",
                                  LinkFault.LOST, 1.0))
    desk.on_link_state(LinkChange(LinkState.REJECTED, "the PBX refused the login of AMHOST",
                                  LinkFault.REJECTED))
    assert [s.state for s in seen.links] == ["connecting", "down", "up", "down", "down"]
    assert [(n.title, n.opens_settings) for n in seen.notices] == [
        ("Cannot connect to the PBX", True), ("PBX link", False), ("PBX link lost", False),
        ("Login refused", True)]
    assert seen.notices[-1].text == "The PBX refused the login of AMHOST."


def test_a_bad_numbering_setting_is_a_notice_and_the_defaults(tmp_path):
    values = {"numbers.country": "germany", "numbers.area_code": "", "numbers.trunk_prefix": "0",
              "numbers.internal_max_length": 4, "popup.close_after_seconds": 5,
              "devices.monitor": ["100"], "devices.own": "100", "crm.url_template": "",
              "phonebook.files": [], "devices.colleagues": ["101 Anna Berger", "110-111"]}
    config, notices = DeskConfig.from_settings(values.__getitem__)
    assert config.plan.country == "DE" and config.close_after == 5.0
    assert config.colleagues == (("101", "Anna Berger"), ("110", None), ("111", None))
    assert config.link_devices == ("100", "101", "110", "111")
    assert [n.title for n in notices] == ["Numbers"]


# --- the simulator over TCP ----------------------------------------------------------------

@contextlib.asynccontextmanager
async def connected(tmp_path: Path, server: SwitchServer, **kwargs):
    desk, seen = make_desk(tmp_path, link_factory=functools.partial(PbxLink, options=FAST),
                           **kwargs)
    params = ConnectionParameters("127.0.0.1", server.port, "AMHOST", "77777")
    try:
        await desk.connect(params)
        await until(lambda: desk.link_status.state == "up")
        yield desk, seen
    finally:
        await desk.disconnect()
        desk.close()


async def until(predicate, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), timeout)


@contextlib.asynccontextmanager
async def simulator(speed: float = 10.0):
    server = SwitchServer(port=0, devices="100-120", speed=speed)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_simulated_deflection_shows_forwarded_from(tmp_path):
    async with simulator() as server, connected(tmp_path, server) as (_desk, seen):
        server.start_scenario("deflect", "100")   # an outside caller rings 100, sent on to 102
        await until(lambda: any(v.ringing_device == "102" for v in seen.changed))
        (opened,) = seen.opened
        assert opened.where == "Ringing at 100" and opened.title == "0711 654321"
        moved = next(v for v in seen.changed if v.ringing_device == "102")
        assert moved.redirect == "Forwarded from 100"
        assert Action.ANSWER not in moved.actions
        await until(lambda: seen.last(opened.key).state_text == "Answered at 102")


async def test_simulated_call_answered_from_the_popup(tmp_path):
    async with simulator(speed=1.0) as server, connected(tmp_path, server) as (desk, seen):
        server.start_scenario("incoming-missed", "100")   # nobody would answer it
        await until(lambda: bool(seen.opened))
        (opened,) = seen.opened
        assert opened.allows(Action.ANSWER)
        assert await desk.answer(opened.key, "100") is None
        await until(lambda: seen.last(opened.key).state is PopupState.ANSWERED_HERE)
        assert seen.last(opened.key).state_text == "Answered at 100"
        assert desk.store.get(opened.key).answered_by == "100"


async def test_call_back_places_the_call_and_says_so(tmp_path):
    async with simulator() as server, connected(tmp_path, server) as (desk, seen):
        assert await desk.call_back("00891234567") is None
        assert seen.statuses == ["Calling 089 1234567 from 100…"]
        await until(lambda: any(c.remote_number == "00891234567" for c in seen.calls))


async def test_call_back_without_a_link_is_a_notice(tmp_path):
    desk, _seen = make_desk(tmp_path)
    notice = await desk.call_back("00891234567")
    assert notice is not None and notice.title == "Call back"
    assert notice.text == "Not connected to the PBX: cannot call 089 1234567."
    desk.close()


async def test_every_demo_phonebook_entry_gets_its_name_when_the_simulator_calls_from_it(
        tmp_path):
    """The demo's phone books, every number of every entry (also those written "+49 (0)69"
    and "0049 (0)30"): the simulator rings from it as a PBX presents the caller, and the
    popup names the entry."""
    from cstapopup import resources
    from cstapopup.calls.phonebook import read_contacts
    from cstapopup.csta.switch.demo import pbx_number

    books = [resources.path("demo/phonebook.csv"), resources.path("demo/phonebook.vcf")]
    entries: dict[str, tuple[str | None, str | None, str]] = {}
    for book in books:
        contacts, problems = read_contacts(book)
        assert problems == []
        for contact in contacts:
            for written in contact.numbers:
                number = pbx_number(written)
                assert number is not None, written
                entries[number] = (contact.name or None, contact.company or None, written)
    assert any("(0)" in written for *_, written in entries.values())
    async with simulator(speed=20.0) as server, \
            connected(tmp_path, server, monitored=("100",), books=books) as (desk, seen):
        await until(lambda: desk.recorder.phonebook.ready)
        for number, (name, company, written) in entries.items():
            opened = len(seen.opened)
            call = server.traffic.incoming(number, "100")
            assert call is not None, written
            await until(lambda opened=opened: len(seen.opened) > opened)
            view = seen.opened[-1]
            assert (view.name, view.company) == (name, company), (written, number, view.title)
            server.traffic.finish(call)
            await until(lambda: not server.model.is_busy("100"))
            desk.dismiss(view.key)


# --- the history's health --------------------------------------------------------------------

class Healthy(Seen):
    def __init__(self) -> None:
        super().__init__()
        self.healths: list = []

    def history_health_changed(self, health) -> None:
        self.healths.append(health)


def test_close_commits_everything_and_settles_the_calls_going_on(tmp_path):
    """Grouped commits (the desk's recorder waits up to COMMIT_DELAY): closing the desk
    writes what waits, and a call still ringing is settled as "end not seen"."""
    from cstapopup.calls.recorder import COMMIT_DELAY, STOPPED_HOP

    seen = Healthy()
    desk = Desk(seen, config=DeskConfig(monitored=("100",), own_device="100"))
    desk.open_history(tmp_path / "history.sqlite3")
    assert desk.recorder.commit_delay == COMMIT_DELAY
    assert seen.healths and seen.healths[-1].ok and seen.healths[-1].path == str(
        tmp_path / "history.sqlite3")
    seq = es.Sequence(["100"])
    es.incoming_answered(seq, cid=0x0001)
    ringing = seq.call(0x0002)
    es.ring(seq, ringing, "100")
    feed(desk, seq)
    desk.close()
    conn = sqlite3.connect(tmp_path / "history.sqlite3")
    try:
        rows = dict(conn.execute("SELECT outcome, end_unknown FROM calls").fetchall())
        hops = [h for (h,) in conn.execute("SELECT hops FROM calls")]
    finally:
        conn.close()
    assert rows == {"answered": 0, "unknown": 1}
    assert sum(STOPPED_HOP in h for h in hops) == 1


def test_a_history_that_cannot_be_written_is_said_once_and_handed_up(tmp_path):
    """A full disk (SQLite may not grow the file): one notice, the health handed up with
    every change; the calls wait and are all written by the close once there is space."""
    seen = Healthy()
    desk = Desk(seen, config=DeskConfig(monitored=("100",), own_device="100"))
    desk.open_history(tmp_path / "history.sqlite3")
    db = desk.store._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    for i in range(60):
        seq = es.Sequence(["100"])
        es.incoming_answered(seq, cid=i + 1)
        feed(desk, seq)
        if not desk.history_health.saving:
            break
    assert not desk.history_health.saving
    failing = [h for h in seen.healths if not h.saving]
    assert failing and failing[0].message.startswith(
        "Calls are not being saved: the disk is full")
    said = [n for n in seen.notices if n.text.startswith("Calls are not being saved")]
    assert len(said) == 1 and said[0].level is Level.ERROR and said[0].title == "Call history"
    db.execute("PRAGMA max_page_count = 1073741823")
    desk.close()   # what waited is written at the close: every call fed is in the file
    conn = sqlite3.connect(tmp_path / "history.sqlite3")
    try:
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == i + 1
    finally:
        conn.close()
