"""The desktop app through the office gateway, end to end: the app (AppController, offscreen Qt)
with the "office gateway" settings, a real Mosquitto, a real Gateway in front of the
simulator over TCP, a real SQLite history.  The app must work as with a PBX link of its own
(popups, Answer, history rows, missed calls), show the way's own troubles in words (PBX down
behind a running gateway, the gateway gone, a broker that refuses the password: no retries)
and the gateway's refusal of a phone the broker user may not control.

Loop handling as in test_ui_app: one coroutine per test in the qasync loop, waits bounded and
on conditions, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QPushButton

from cstapopup.calls.desk import Desk, DeskConfig
from cstapopup.calls.gateway_link import NOT_AT_GATEWAY, GatewayLink
from cstapopup.calls.link import LinkFault, LinkState
from cstapopup.calls.model import Outcome
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.gateway.client import numbering
from cstapopup.settings import LINK_GATEWAY, GatewayParameters, PasswordStore, Settings
from cstapopup.ui.controller import AppController, AppOptions

from . import mosquitto_helpers
from . import test_ui_app as ui_app
from .client_helpers import fast_options
from .gateway_helpers import USERS, RunningGateway, client_options
from .mosquitto_helpers import Mosquitto, wait_until
from .test_desk import Seen
from .test_desk import until as desk_until
from .test_settings import MemoryKeyring
from .test_ui_app import FakeAutostart, Recorder, popup_text, until

# The loop fixtures of the app tests (a qasync loop on pytest-qt's QApplication).
aloop = ui_app.aloop
run = ui_app.run

pytestmark = pytest.mark.skipif(not mosquitto_helpers.available(),
                                reason="mosquitto is not installed (apt-get install mosquitto)")

DEVICES = [str(d) for d in range(100, 106)]


@pytest.fixture
def memory_keyring():
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def broker(tmp_path):
    m = Mosquitto(tmp_path / "broker", users=dict(USERS))
    m.start()
    yield m
    m.stop()


def gateway_settings(broker: Mosquitto, **more: Any) -> dict[str, Any]:
    values = {"pbx.connection": LINK_GATEWAY, "gateway.broker": broker.url,
              "gateway.user": "alice", "gateway.site": "office",
              "devices.monitor": ["100", "101"], "devices.own": "100",
              "popup.close_after_seconds": 1}
    values.update(more)
    return values


@contextlib.asynccontextmanager
async def office(broker: Mosquitto, tmp_path: Path, rights: str = '["100"]', **kwargs: Any):
    """The simulator and the office gateway in front of it (site "office"); alice may control
    what `rights` says."""
    server = SwitchServer(port=0, devices="100-120", **{"speed": 4.0, **kwargs})
    await server.start()
    rights_file = tmp_path / "rights.toml"
    rights_file.write_text(f"[users]\nalice = {rights}\n")
    gateway = RunningGateway(broker, server.port, DEVICES, rights=rights_file, site="office")
    try:
        await gateway.start()
        await wait_until(lambda: all(server.monitors_of(d) == 1 for d in DEVICES), 10,
                         "the gateway's monitors")
        yield server, gateway
    finally:
        await gateway.stop()
        await server.stop()


@contextlib.asynccontextmanager
async def desktop(tmp_path: Path, settings: dict[str, Any], *, password: str | None = None,
                  **kwargs: Any):
    """The app with these settings; the broker password, if given, in the keyring."""
    folder = tmp_path / "app"
    folder.mkdir(exist_ok=True)
    s = Settings(folder / "config.toml")
    s.update(settings)
    if password is not None:
        PasswordStore(s, kind=LINK_GATEWAY).set(password)
    s.save()
    options = AppOptions(settings_path=s.path, data_dir=folder, client_options=fast_options(),
                         gateway_options=client_options(), show_window=False)
    controller = AppController(
        options, first_run_prompt=lambda c: None,
        password_prompt=kwargs.get("password_prompt", lambda c, done: done(None)),
        autostart=FakeAutostart(), url_opener=lambda url: True, tray_available=False)
    await controller.start()
    try:
        yield controller
    finally:
        await controller.shutdown()


def up(controller: AppController) -> bool:
    link = controller.desk.link
    return link is not None and link.state == "up"


def test_popups_answer_history_and_missed_calls_through_the_gateway(
        run, tmp_path, broker, memory_keyring):
    async def scenario() -> None:
        async with office(broker, tmp_path) as (server, gateway), \
                desktop(tmp_path, gateway_settings(broker), password=USERS["alice"]) as app:
            assert isinstance(app.desk.link, GatewayLink)
            # The broker password was read from the keyring, under its own account.
            assert memory_keyring.passwords[("cstapopup", f"alice@{broker.url}")] == \
                USERS["alice"]
            await until(lambda: up(app), app.link_state_changed)
            assert app.link_state == (
                "up", (f"connected through the office gateway (site office) at {broker.url}, "
                       "monitoring 100, 101"))
            assert app.tray.state == "up"
            assert app.history.link_label.text().startswith("Connected through the office")

            # A call at the own phone: its popup, and Answer through the gateway.
            shown = Recorder(app.popups.shown)
            server.start_scenario("incoming-missed", "100")   # nobody would answer it
            (key,) = await shown.wait()
            popup = app.popups.popup(key)
            assert popup_text(popup, "where") == "Ringing at 100"
            popup.findChild(QPushButton, "answer").click()

            def answered() -> bool:
                call = app.desk.store.get(key)
                return call is not None and call.answered_by == "100"

            await until(answered, app.call_updated, timeout=20)
            assert popup_text(popup, "state") == "Answered at 100"
            assert gateway.gateway.stats.requests >= 1 and gateway.gateway.stats.refused == 0
            server.model.clear_call(next(iter(server.model.calls.values())))

            # A call nobody takes at 101: a history row, missed, and the badge counts it.
            records = await server.run_scenario("incoming-missed", "101", timeout=30)
            assert [r.outcome for r in records] == ["missed"]

            def missed() -> bool:
                return any(c.outcome is Outcome.MISSED and c.ended_at is not None
                           for c in app.desk.store.query())

            await until(missed, app.call_updated, timeout=20)
            assert len(app.desk.store.missed_not_done()) == 1
            await until(lambda: app.tray.missed_count == 1, app.call_updated)
            rows = [app.history.model.call_at(i) for i in range(app.history.model.rowCount())]
            assert {c.outcome for c in rows} >= {Outcome.ANSWERED, Outcome.MISSED}

    run(scenario(), 90)


def test_pbx_down_behind_the_gateway_and_back(run, tmp_path, broker, memory_keyring):
    async def scenario() -> None:
        async with office(broker, tmp_path) as (server, _gateway), \
                desktop(tmp_path, gateway_settings(broker), password=USERS["alice"]) as app:
            await until(lambda: up(app), app.link_state_changed)
            posted = Recorder(app.message_posted)
            port = server.port
            await server.stop()             # the PBX goes; the gateway and the broker stay
            await until(lambda: app.link_state[0] == "down", app.link_state_changed,
                        timeout=20)
            change = app.desk.link.change
            assert change.fault is LinkFault.PBX_DOWN
            assert change.text.startswith("PBX down behind the office gateway: the gateway "
                                          "runs, but its link to the PBX is down")
            assert app.tray.state == "down"
            assert app.tray.reason.startswith("PBX down behind the office gateway")
            assert app.history.link_label.text().startswith("PBX down behind the office gateway")
            _title, text = await posted.wait(
                lambda t, _x: t == "PBX down behind the office gateway")
            assert text.startswith("PBX down behind the office gateway")
            # The PBX comes back on the same port: the gateway reconnects, and so does the app.
            again = SwitchServer(port=port, devices="100-120", speed=4.0)
            await again.start()
            try:
                await until(lambda: up(app), app.link_state_changed, timeout=30)
            finally:
                await again.stop()

    run(scenario(), 90)


def test_a_phone_alice_may_not_control_is_refused_in_words(run, tmp_path, broker,
                                                           memory_keyring):
    async def scenario() -> None:
        # Her own phone is 101, but the gateway's rights file gives her only 100.
        settings = gateway_settings(broker, **{"devices.own": "101"})
        async with office(broker, tmp_path, rights='["100"]') as (server, gateway), \
                desktop(tmp_path, settings, password=USERS["alice"]) as app:
            await until(lambda: up(app), app.link_state_changed)
            shown = Recorder(app.popups.shown)
            posted = Recorder(app.message_posted)
            server.start_scenario("incoming-missed", "101")
            (key,) = await shown.wait()
            popup = app.popups.popup(key)
            popup.findChild(QPushButton, "answer").click()
            _title, text = await posted.wait(lambda t, _x: t == "Answer", timeout=20)
            assert text == ("The call at 101 was not answered: The office gateway does not let "
                            "your broker user alice control 101 (its rights file says which "
                            "phones each user may control).")
            assert gateway.gateway.stats.refused == 1
            assert popup_text(popup, "state") == "Ringing"   # nothing happened to the call

    run(scenario(), 60)


def test_a_wrong_broker_password_stops_the_attempts_and_says_so(run, tmp_path, broker,
                                                                memory_keyring):
    async def scenario() -> None:
        async with desktop(tmp_path, gateway_settings(broker), password="wrong") as app:
            posted = Recorder(app.message_posted)
            await until(lambda: app.desk.link is not None
                        and app.desk.link.state is LinkState.REJECTED, app.link_state_changed,
                        timeout=20)
            link = app.desk.link
            assert link.change.fault is LinkFault.BROKER_REFUSED
            assert link.change.text == (f"the broker {broker.url} refused the login of alice — "
                                        "check the broker user name and password in the "
                                        "settings")
            assert "wrong" not in link.change.text + link.change.detail
            assert app.tray.state == "down"
            _title, text = await posted.wait(lambda t, _x: t == "Login refused")
            assert text.startswith(f"The broker {broker.url} refused the login of alice")
            # It stopped trying: one refusal in the broker's log, and no more to come.
            await asyncio.wait_for(link.client.wait_finished(), 10)
            refusals = [line for line in broker.log.read_text().splitlines()
                        if "not authorised" in line.lower() or "bad user" in line.lower()]
            assert len(refusals) == 1, refusals

    run(scenario(), 60)


def test_the_broker_password_asked_for_when_kept_nowhere(run, tmp_path, broker):
    asked: list[str] = []

    def prompt(controller, done) -> None:
        asked.append(controller.settings.get("gateway.user"))
        done(USERS["alice"])

    async def scenario() -> None:
        settings = gateway_settings(broker, **{"pbx.password_storage": "none"})
        async with office(broker, tmp_path), \
                desktop(tmp_path, settings, password_prompt=prompt) as app:
            await until(lambda: up(app), app.link_state_changed)
            assert asked == ["alice"]

    run(scenario(), 60)


# --- the way's faults at the desk (no Qt) ----------------------------------------------------

@contextlib.asynccontextmanager
async def desk_through(broker: Mosquitto, tmp_path: Path, *, site: str = "office",
                       monitored=("100", "101"), **options: Any):
    seen = Seen()
    config = DeskConfig(monitored=tuple(monitored), own_device="100")
    desk = Desk(seen, config=config, link_factory=functools.partial(
        GatewayLink, options=client_options(**options)))
    desk.configure(config)
    desk.open_history(tmp_path / "history.sqlite3")
    try:
        await desk.connect(GatewayParameters(broker.url, "alice", USERS["alice"], site=site))
        yield desk, seen
    finally:
        await desk.disconnect()
        desk.close()


async def test_the_gateway_stopped_gone_and_back(broker, tmp_path):
    async with office(broker, tmp_path) as (server, gateway), \
            desk_through(broker, tmp_path, monitored=("100", "110")) as (desk, seen):
        await desk_until(lambda: desk.link_status.state == "up")
        # 110 is not among the gateway's devices: said, not silently missing.
        failures = [n for n in seen.notices if n.title == "Device not monitored"]
        assert [n.text for n in failures] == [
            (f"Cannot monitor 110: {NOT_AT_GATEWAY}. Check the monitored devices in the "
             "settings.")]
        await gateway.stop()
        await desk_until(lambda: desk.link_status.state == "down")
        assert desk.link.change.fault is LinkFault.GATEWAY_GONE
        assert desk.link_status.text == ("the office gateway was stopped: no calls are shown "
                                         "until it runs again")
        assert seen.notices[-1].title == "Office gateway gone"
        assert not seen.notices[-1].opens_settings   # nothing to fix on this computer
        again = RunningGateway(broker, server.port, DEVICES, site="office")
        try:
            await again.start()
            await desk_until(lambda: desk.link_status.state == "up", 20)
        finally:
            await again.stop()


async def test_events_of_the_gateway_that_never_arrive_are_said_in_the_link_state(broker,
                                                                                   tmp_path):
    """The gateway numbers its messages per device; a gap (messages the broker did not bring,
    e.g. dropped for a slow QoS 0 subscriber) is counted and said in the link's words, not
    only logged.  The gap is made by sending one of the gateway's event messages again under
    a number 100 higher than its last."""
    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from cstapopup.gateway import wire

    topic = wire.Topics("office").event("100")
    async with office(broker, tmp_path) as (server, gateway), \
            desk_through(broker, tmp_path) as (desk, seen), \
            aiomqtt.Client("127.0.0.1", broker.port, username="gateway",
                           password=USERS["gateway"], protocol=aiomqtt.ProtocolVersion.V5,
                           identifier="forger") as forger:
        await desk_until(lambda: desk.link_status.state == "up")
        await forger.subscribe(topic, qos=1)
        heard: list = []

        async def listen() -> None:
            async for m in forger.messages:
                heard.append(m)

        listening = asyncio.create_task(listen())
        try:
            await server.run_scenario("incoming-missed", "100", timeout=30)
            await server.wait_for(lambda: not server.model.calls, 10)
            # The desk has had the gateway's last message for 100 when its number is the one
            # the forger heard last.
            await desk_until(lambda: bool(heard) and desk.link.client._devices["100"].seq
                             == numbering(heard[-1])[1])
        finally:
            listening.cancel()
        message = heard[-1]
        instance, seq = numbering(message)
        assert instance is not None and seq is not None
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [wire.number_property(instance, seq + 100, 0.0)]
        await forger.publish(topic, message.payload, qos=1, properties=props)
        client = desk.link.client
        # 99 numbers skipped, fewer if the gateway's own next messages came in between.
        await desk_until(lambda: client.lost > 90)
        await desk_until(lambda: f"{client.lost} events of the office gateway never arrived "
                         "here" in desk.link_status.text)
        assert desk.link_status.state == "up"


async def test_a_vanished_gateway_is_gone_by_its_last_will(broker, tmp_path):
    server = SwitchServer(port=0, devices="100-105")
    await server.start()
    env = {"CSTAPOPUP_BROKER_PASSWORD": USERS["gateway"]}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "gateway", "--port", str(server.port), "--device",
        "100-105", "--broker", broker.url, "--broker-user", "gateway", "--site", "office",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL, env={**os.environ, **env})
    try:
        await server.wait_for(lambda: server.monitors_of("105") == 1, 30)
        async with desk_through(broker, tmp_path) as (desk, _seen):
            await desk_until(lambda: desk.link_status.state == "up", 20)
            proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)
            await desk_until(lambda: desk.link_status.state == "down", 30)
            assert desk.link.change.fault is LinkFault.GATEWAY_GONE
            assert desk.link_status.text == ("the office gateway is gone: it lost its "
                                             "connection to the broker (stopped, crashed or "
                                             "cut off)")
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
        await server.stop()


async def test_no_gateway_for_the_site_and_a_broker_that_goes_away(broker, tmp_path):
    async with office(broker, tmp_path), \
            desk_through(broker, tmp_path, site="elsewhere", gateway_wait=0.3) as (desk, seen):
        await desk_until(lambda: desk.link_status.state == "down")
        assert desk.link.change.fault is LinkFault.NO_GATEWAY
        assert desk.link_status.text.startswith("no office gateway answers for site "
                                                "“elsewhere” at the broker")
        assert seen.notices[-1].title == "No office gateway"
        assert seen.notices[-1].opens_settings   # the site name may be wrong
        broker.stop()
        await desk_until(lambda: desk.link.change.fault is LinkFault.BROKER_UNREACHABLE)
        assert desk.link_status.text.startswith(f"the office's broker {broker.url} cannot be "
                                                "reached")
        assert desk.link.change.retry_in is not None and "retrying in" in desk.link_status.text
        broker.start()
        await desk_until(lambda: desk.link.change.fault is LinkFault.NO_GATEWAY, 20)


async def test_the_settings_connection_test_through_the_gateway(broker, tmp_path):
    from cstapopup.calls.session import test_connection

    params = GatewayParameters(broker.url, "alice", USERS["alice"], site="office")
    with pytest.raises(RuntimeError, match="refused the login of alice"):
        await test_connection(GatewayParameters(broker.url, "alice", "wrong", site="office"))
    with pytest.raises(RuntimeError, match="no office gateway answers for site “office”"):
        await test_connection(params)
    async with office(broker, tmp_path):
        assert await test_connection(params) == (
            f"Connected: the broker {broker.url} accepted alice, and the office gateway (site "
            "office) has its PBX link up.")
    with pytest.raises(RuntimeError, match="the office gateway was stopped"):
        await test_connection(params)
    with pytest.raises(RuntimeError, match="mqtt://"):
        await test_connection(GatewayParameters("mqtt://127.0.0.1:1", "alice", "x"))


async def test_call_back_through_the_gateway_and_refused_for_a_phone_not_hers(broker, tmp_path):
    async with office(broker, tmp_path, rights='["100"]'), \
            desk_through(broker, tmp_path) as (desk, seen):
        await desk_until(lambda: desk.link_status.state == "up")
        assert await desk.call_back("00891234567") is None
        assert seen.statuses == ["Calling 089 1234567 from 100…"]
        await desk_until(lambda: any(c.remote_number == "00891234567" for c in seen.calls))
        desk.configure(DeskConfig(monitored=("100", "101"), own_device="101"))
        notice = await desk.call_back("00891234567")
        assert (notice.title, notice.text) == (
            "Call back", ("089 1234567 was not called: The office gateway does not let your "
                         "broker user alice control 101 (its rights file says which phones "
                         "each user may control)."))
