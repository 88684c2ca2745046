"""The console's decisions without Qt: for each state of the own phone, which CSTA service an
action takes and on which connections (`Desk.plan`), carried out against the simulator over
real TCP, both ways to the PBX: through a real PbxLink, and through the office gateway (a
real Gateway and Mosquitto, a GatewayLink: each service an MQTT 5 request); the history shows
the call's way; the PBX's refusals come back in words; the colleagues' lamps and the own line
follow."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import pytest

from cstapopup.calls.colleagues import ColleagueState
from cstapopup.calls.desk import Desk, DeskConfig, Service
from cstapopup.calls.gateway_link import GatewayLink
from cstapopup.calls.link import PbxLink
from cstapopup.calls.model import Outcome
from cstapopup.calls.views import CallAction, ColleagueView, LineState, OwnLineView
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.settings import ConnectionParameters, GatewayParameters
from tests import mosquitto_helpers
from tests.client_helpers import fast_options, running
from tests.gateway_helpers import USERS, RunningGateway, client_options
from tests.mosquitto_helpers import Mosquitto
from tests.test_desk import Seen, until

X = "00891234567"


class Console(Seen):
    def __init__(self) -> None:
        super().__init__()
        self.colleagues: list[ColleagueView] = []
        self.lines: list[OwnLineView] = []

    def colleagues_changed(self, views: list[ColleagueView]) -> None:
        self.colleagues.extend(views)

    def own_line_changed(self, view: OwnLineView) -> None:
        self.lines.append(view)


@pytest.fixture(params=["direct", "gateway"])
def way(request) -> str:
    """The way to the PBX: a link of the desk's own, or through the office gateway."""
    if request.param == "gateway" and not mosquitto_helpers.available():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    return request.param


#: What the office gateway monitors in the gateway runs (999 the PBX does not know).
GATEWAY_DEVICES = [str(d) for d in range(100, 111)] + ["999"]


@contextlib.asynccontextmanager
async def office_gateway(server: SwitchServer, tmp_path: Path, rights: str):
    """Mosquitto and a Gateway in front of the simulator; yields the desk's parameters (broker
    user alice, who may control what `rights` says)."""
    broker = Mosquitto(tmp_path / "broker", users=dict(USERS))
    broker.start()
    rights_file = tmp_path / "rights.toml"
    rights_file.write_text(f"[users]\nalice = {rights}\n")
    gateway = RunningGateway(broker, server.port, GATEWAY_DEVICES, rights=rights_file)
    try:
        await gateway.start()
        # The gateway monitors everything (and knows 999 cannot be) before any call starts.
        await until(lambda: all(server.monitors_of(d) == 1 for d in GATEWAY_DEVICES[:-1])
                    and "999" in gateway.gateway.unmonitored)
        yield GatewayParameters(broker.url, "alice", USERS["alice"])
    finally:
        await gateway.stop()
        broker.stop()


@contextlib.asynccontextmanager
async def desk_on(server: SwitchServer, tmp_path: Path, way: str = "direct", *,
                  monitored=("100", "101"),
                  colleagues=(("101", "Anna Berger"), ("102", "Tom Keller"), ("103", None),
                              ("104", None), ("999", None)), rights='["100-101"]'):
    seen = Console()
    config = DeskConfig(monitored=tuple(monitored), own_device="100", close_after=8.0,
                        colleagues=tuple(colleagues))
    async with contextlib.AsyncExitStack() as stack:
        if way == "gateway":
            params = await stack.enter_async_context(office_gateway(server, tmp_path, rights))
            factory = functools.partial(GatewayLink, options=client_options())
        else:
            params = ConnectionParameters("127.0.0.1", server.port, "AMHOST", "77777")
            factory = functools.partial(PbxLink, options=fast_options())
        desk = Desk(seen, config=config, link_factory=factory)
        desk.configure(config)
        desk.open_history(tmp_path / "history.sqlite3")
        try:
            await desk.connect(params)
            await until(lambda: desk.link_status.state == "up")
            yield desk, seen
        finally:
            await desk.disconnect()
            desk.close()


def simulator(**kw) -> SwitchServer:
    return SwitchServer(port=0, devices="100-110", auto_answer_after=None,
                        remote_answer_after=None, **kw)


def lamp(desk: Desk, device: str) -> ColleagueState:
    return next(v.state for v in desk.colleague_views() if v.device == device)


async def ringing_at_own(server: SwitchServer, desk: Desk):
    call = server.traffic.incoming(X, "100")
    await until(lambda: desk.own_line().state is LineState.RINGING)
    return call


async def test_answer_and_put_through_blind_with_the_history_showing_the_way(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, seen):
        await ringing_at_own(server, desk)
        line = desk.own_line()
        assert line.text == "089 1234567 is calling"
        assert line.actions == {CallAction.ANSWER, CallAction.PUT_THROUGH}
        key = line.key
        assert key is not None and key == seen.opened[0].key   # the popup's call
        assert desk.plan(CallAction.ANSWER).service is Service.ANSWER
        assert await desk.act(CallAction.ANSWER) is None
        await until(lambda: desk.own_line().state is LineState.TALKING)
        assert desk.own_line().text == "On a call with 089 1234567"
        plan = desk.plan(CallAction.PUT_THROUGH, "102")
        assert plan.service is Service.SINGLE_STEP_TRANSFER
        assert (plan.first.call_id, plan.first.device.number) == (b"\x00\x01", "100")
        assert await desk.act(CallAction.PUT_THROUGH, "102") is None
        assert seen.statuses[-1] == "Putting 089 1234567 through to Tom Keller (102)…"
        await until(lambda: lamp(desk, "102") is ColleagueState.RINGING)
        assert next(v for v in desk.colleague_views() if v.device == "102").party == \
            "089 1234567"
        await until(lambda: desk.own_line().state is LineState.IDLE)
        call = desk.store.get(key)
        assert (call.outcome, call.answered_by, call.transferred_to) == (
            Outcome.TRANSFERRED, "100", "102")
        assert [h.kind for h in call.hops][-1] == "transferred"


async def test_a_ringing_call_is_deflected(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, _seen):
        await ringing_at_own(server, desk)
        key = desk.own_line().key
        assert desk.plan(CallAction.PUT_THROUGH, "103").service is Service.DEFLECT
        assert await desk.act(CallAction.PUT_THROUGH, "103") is None
        await until(lambda: lamp(desk, "103") is ColleagueState.RINGING)
        await until(lambda: desk.store.get(key).outcome is Outcome.DIVERTED)
        assert desk.store.get(key).diverted_to == "103"
        assert desk.own_line().state is LineState.IDLE


async def test_consult_first_then_complete(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, seen):
        call = await ringing_at_own(server, desk)
        key = desk.own_line().key
        await desk.act(CallAction.ANSWER)
        await until(lambda: desk.own_line().state is LineState.TALKING)
        assert desk.plan(CallAction.CONSULT, "101").service is Service.CONSULTATION
        assert await desk.act(CallAction.CONSULT, "101") is None
        await until(lambda: desk.own_line().state is LineState.CONSULTING)
        line = desk.own_line()
        assert (line.text, line.detail) == ("Consulting Anna Berger (101)",
                                            "089 1234567 waits on hold")
        assert line.key == key   # the caller's call, not the consultation
        assert line.actions >= {CallAction.COMPLETE, CallAction.BACK, CallAction.ALTERNATE}
        # While consulting, putting through to someone else is refused in words.
        notice = await desk.act(CallAction.PUT_THROUGH, "102")
        assert notice is not None and notice.text.startswith("You are consulting Anna Berger")
        server.model.answer(server.model.calls[b"\x00\x02"], "101")
        await until(lambda: lamp(desk, "101") is ColleagueState.BUSY)
        plan = desk.plan(CallAction.COMPLETE)
        assert plan.service is Service.TRANSFER
        assert (plan.first.call_id, plan.second.call_id) == (call.call_id, b"\x00\x02")
        assert await desk.act(CallAction.COMPLETE) is None
        assert seen.statuses[-1] == "089 1234567 is put through to Anna Berger (101)."
        await until(lambda: desk.own_line().state is LineState.IDLE)
        await until(lambda: next(v for v in desk.colleague_views()
                                 if v.device == "101").party == "089 1234567")
        await until(lambda: desk.store.get(key).transferred_to == "101")
        assert desk.store.get(key).answered_by == "100"
        assert any(h.kind == "transferred" for h in desk.store.get(key).hops)


async def test_consult_then_back_to_the_caller_and_alternate(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, _seen):
        await ringing_at_own(server, desk)
        await desk.act(CallAction.ANSWER)
        await until(lambda: desk.own_line().state is LineState.TALKING)
        await desk.act(CallAction.CONSULT, "102")
        await until(lambda: desk.own_line().state is LineState.CONSULTING)
        server.model.answer(server.model.calls[b"\x00\x02"], "102")
        await until(lambda: lamp(desk, "102") is ColleagueState.BUSY)
        assert desk.plan(CallAction.ALTERNATE).service is Service.ALTERNATE
        assert await desk.act(CallAction.ALTERNATE) is None
        await until(lambda: desk.own_line().text == "Consulting 089 1234567")
        assert desk.own_line().detail == "Tom Keller (102) waits on hold"
        await desk.act(CallAction.ALTERNATE)
        await until(lambda: desk.own_line().text == "Consulting Tom Keller (102)")
        plan = desk.plan(CallAction.BACK)
        assert plan.service is Service.RECONNECT
        assert plan.first.call_id == b"\x00\x02" and plan.second.call_id == b"\x00\x01"
        assert await desk.act(CallAction.BACK) is None
        await until(lambda: desk.own_line().state is LineState.TALKING)
        assert desk.own_line().text == "On a call with 089 1234567"
        await until(lambda: lamp(desk, "102") is ColleagueState.FREE)


async def test_hold_retrieve_and_hang_up(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, _seen):
        await ringing_at_own(server, desk)
        await desk.act(CallAction.ANSWER)
        await until(lambda: desk.own_line().state is LineState.TALKING)
        assert desk.plan(CallAction.HOLD).service is Service.HOLD
        await desk.act(CallAction.HOLD)
        await until(lambda: desk.own_line().state is LineState.HELD)
        assert desk.own_line().text == "089 1234567 waits on hold"
        assert desk.plan(CallAction.HOLD).service is Service.RETRIEVE
        await desk.act(CallAction.HOLD)
        await until(lambda: desk.own_line().state is LineState.TALKING)
        assert desk.plan(CallAction.HANG_UP).service is Service.CLEAR
        await desk.act(CallAction.HANG_UP)
        await until(lambda: desk.own_line().state is LineState.IDLE)


async def test_pick_up_a_colleagues_ringing_call(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, _seen):
        server.traffic.incoming(X, "103")
        await until(lambda: lamp(desk, "103") is ColleagueState.RINGING)
        view = next(v for v in desk.colleague_views() if v.device == "103")
        assert view.can_pick_up and view.party == "089 1234567"
        plan = desk.plan(CallAction.PICK_UP, "103")
        assert plan.service is Service.PICK_UP and plan.first.device.number == "103"
        assert await desk.act(CallAction.PICK_UP, "103") is None
        await until(lambda: desk.own_line().state is LineState.TALKING)
        assert lamp(desk, "103") is ColleagueState.FREE


async def test_the_pbx_refusals_in_words(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, _seen):
        busy = server.model.make_call("104", "105").call
        await until(lambda: lamp(desk, "104") is ColleagueState.BUSY)
        await ringing_at_own(server, desk)
        await desk.act(CallAction.ANSWER)
        await until(lambda: desk.own_line().state is LineState.TALKING)
        notice = await desk.act(CallAction.PUT_THROUGH, "104")
        assert (notice.title, notice.text) == (
            "Put through", "089 1234567 was not put through to 104: 104 is busy.")
        notice = await desk.act(CallAction.PUT_THROUGH, "999")
        assert notice.text == "089 1234567 was not put through to 999: 999 does not exist."
        notice = await desk.act(CallAction.CONSULT, "999")
        assert notice.text == "999 was not called: 999 does not exist."
        # The colleague the PBX will not monitor is dark, and said so once for all.
        assert lamp(desk, "999") is ColleagueState.NOT_MONITORED
        notes = [n for n in _seen.notices if n.title == "Colleagues not monitored"]
        assert [n.text for n in notes] == [
            "Their lamps stay dark. 999: the PBX does not know this device."]
        notice = await desk.act(CallAction.PICK_UP, "102")
        assert notice.text == "No call rings at Tom Keller (102)."
        assert desk.own_line().state is LineState.TALKING   # nothing happened to the call
        server.model.clear_call(busy)


async def test_a_popup_ringing_at_another_monitored_phone_is_sent_on_from_there(tmp_path, way):
    async with running(simulator()) as server, desk_on(server, tmp_path, way) as (desk, seen):
        server.traffic.incoming(X, "101")
        await until(lambda: bool(seen.opened))
        key = seen.opened[0].key
        plan = desk.plan(CallAction.PUT_THROUGH, "102", key=key)
        assert plan.service is Service.DEFLECT and plan.first.device.number == "101"
        assert await desk.act(CallAction.PUT_THROUGH, "102", key=key) is None
        await until(lambda: lamp(desk, "102") is ColleagueState.RINGING)


async def test_without_an_own_phone_the_console_says_so(tmp_path):
    desk = Desk(Console(), config=DeskConfig(monitored=("101",)))
    desk.open_history(tmp_path / "h.sqlite3")
    assert desk.own_line().state is LineState.NO_PHONE
    notice = await desk.act(CallAction.PUT_THROUGH, "102")
    assert notice.text == "Set your own phone in the settings first."
    desk.close()


async def test_colleagues_get_their_phone_book_names_once_the_book_is_read(tmp_path):
    """The phone book loads in the background: a colleague without a name in the settings
    is shown by number first, and by the book's name once it is read (no event needed)."""
    book = tmp_path / "book.csv"
    book.write_text("Name;Company;Phone\nEva Roth;;103\n", encoding="utf-8")
    seen = Console()
    config = DeskConfig(monitored=("100",), own_device="100",
                        colleagues=(("101", "Anna Berger"), ("103", None)),
                        phonebook_files=(str(book),))
    desk = Desk(seen, config=config)
    desk.configure(config)
    desk.open_history(tmp_path / "history.sqlite3")
    try:
        assert [(v.device, v.title) for v in desk.colleague_views()] == [
            ("101", "Anna Berger"), ("103", "103")]
        await desk.recorder.phonebook.wait_idle(10.0)
        await until(lambda: desk.colleague_views()[1].name == "Eva Roth")
        assert seen.colleagues[-1].device == "103" and seen.colleagues[-1].title == "Eva Roth"
    finally:
        desk.close()


@pytest.mark.skipif(not mosquitto_helpers.available(), reason="mosquitto is not installed")
async def test_through_the_gateway_a_phone_the_user_may_not_control_is_refused_in_words(
        tmp_path):
    async with running(simulator()) as server, \
            desk_on(server, tmp_path, "gateway", rights='["100"]') as (desk, seen):
        server.traffic.incoming(X, "101")       # rings at 101, which alice may not control
        await until(lambda: bool(seen.opened))
        key = seen.opened[0].key
        notice = await desk.act(CallAction.PUT_THROUGH, "102", key=key)
        assert (notice.title, notice.text) == (
            "Put through",
            ("089 1234567 was not put through to Tom Keller (102): The office gateway does not "
            "let your broker user alice control 101 (its rights file says which phones each "
            "user may control)."))
        assert lamp(desk, "101") is ColleagueState.RINGING   # nothing happened to the call
        # Her own phone she may control: the same request for a call there goes through.
        await ringing_at_own(server, desk)
        assert await desk.act(CallAction.PUT_THROUGH, "103") is None
        await until(lambda: lamp(desk, "103") is ColleagueState.RINGING)
