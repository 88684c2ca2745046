"""The office gateway end to end: simulator -> gateway -> a real Mosquitto -> desktops.

Every desktop must see what a monitor of its own on the PBX sees, a desktop that starts during
a call must get the call under way, and call control goes only as far as the rights file
allows.  Mosquitto runs from its own config on a free port (skipped only when not installed).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from cstapopup.calls.model import Outcome
from cstapopup.csta.client import (
    CstaClient,
    CstaServiceError,
    MonitorEvent,
)
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.gateway import wire
from cstapopup.gateway.client import GatewayRefusedError

from . import mosquitto_helpers
from .client_helpers import fast_options
from .gateway_helpers import USERS, Desktop, RunningGateway, rows_by_gid
from .mosquitto_helpers import Mosquitto, wait_until
from .test_e2e_history import SCENARIOS, compare

pytestmark = pytest.mark.skipif(not mosquitto_helpers.available(),
                                reason="mosquitto is not installed (apt-get install mosquitto)")

DEVICES = [str(d) for d in range(100, 106)]


@pytest.fixture
def broker(tmp_path):
    m = Mosquitto(tmp_path / "broker", users=dict(USERS))
    m.start()
    yield m
    m.stop()


@pytest.fixture
def rights_file(tmp_path):
    path = tmp_path / "rights.toml"
    path.write_text('[users]\nalice = ["101", "103-104"]\nadmin = ["*"]\n')
    return path


class DirectMonitor:
    """A monitor of its own on the PBX: what the desktops must match."""

    def __init__(self, port: int, devices: list[str]) -> None:
        self.client = CstaClient("127.0.0.1", port, options=fast_options())
        self.devices = devices
        self.events: list[MonitorEvent] = []
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        async def consume() -> None:
            async for item in self.client.events():
                if isinstance(item, MonitorEvent):
                    self.events.append(item)

        self._task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        await self.client.connect()
        for d in self.devices:
            await self.client.monitor_start(d)

    def lines(self, device: str | None = None) -> list[dict]:
        out = []
        for e in self.events:
            if device is None or e.device == device:
                d = wire.event_dict(e.device, e.event)
                d.pop("cross_ref_id")
                out.append(d)
        return out

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            self._task.cancel()


async def test_desktops_see_what_a_direct_monitor_sees_and_record_the_truth(broker, tmp_path):
    server = SwitchServer(port=0, devices=DEVICES, speed=40)
    await server.start()
    records = []
    server._record_listeners.append(records.append)
    gw = RunningGateway(broker, server.port, DEVICES)
    direct = DirectMonitor(server.port, DEVICES)
    desktops = [Desktop(broker, DEVICES, tmp_path / f"d{i}.sqlite3") for i in range(3)]
    try:
        await gw.start()
        await direct.start()
        await server.wait_for(lambda: all(server.monitors_of(d) == 2 for d in DEVICES), 10)
        for d in desktops:
            await d.start()
        for scenario in SCENARIOS:
            await server.run_scenario(scenario, "100", timeout=20)
        await server.wait_for(lambda: not server.model.calls, 10)
        # Two links monitor the same devices: each event was sent twice.
        await wait_until(lambda: 2 * len(direct.events) >= server.events_sent, 10, "direct")
        expected = direct.lines()
        assert 2 * len(expected) == server.events_sent and len(expected) > 50
        for d in desktops:
            await d.wait(lambda d=d: len(d.events) >= len(expected))
        await asyncio.sleep(0)
        for d in desktops:
            for device in DEVICES:
                assert d.lines(device) == direct.lines(device)
            assert d.client.lost == 0
            assert compare(records, d.recorder.store) == []
        assert gw.gateway.stats.dropped == 0
    finally:
        for d in desktops:
            await d.stop()
        await direct.stop()
        await gw.stop()
        await server.stop()


async def test_a_desktop_started_during_a_ringing_call_gets_it_and_can_answer_it(
        broker, rights_file, tmp_path):
    """100 calls 101; while 101 rings, alice's desktop (rights on 101) starts: the call is
    there at once (replayed from the retained record), she answers it through the gateway,
    and her history has the whole call, answered at 101."""
    server = SwitchServer(port=0, devices=DEVICES, remote_answer_after=None, auto_answer_after=None)
    await server.start()
    records = []
    server._record_listeners.append(records.append)
    gw = RunningGateway(broker, server.port, DEVICES, rights=rights_file)
    phone = CstaClient("127.0.0.1", server.port, options=fast_options())  # plays 100's user
    alice = Desktop(broker, ["100", "101"], tmp_path / "alice.sqlite3", user="alice")
    try:
        await gw.start()
        await server.wait_for(lambda: server.monitors_of("101") == 1, 10)
        await phone.connect()
        call = await phone.make_call("100", "101")
        await server.wait_for(
            lambda: any(c.party("101") is not None for c in server.model.calls.values()), 5)
        # The gateway has published the ringing (its record includes the delivered event).
        dev = gw.gateway.calls["101"]
        await wait_until(lambda: any(
            i["kind"] == "event" and i["data"]["event"] == "delivered" for i in dev.items), 5)
        await alice.start()
        await alice.wait(lambda: any(e.device == "101" and e.event.name == "delivered"
                                     for e in alice.events), 5)
        ringing = next(e for e in alice.events if e.device == "101" and e.event.name == "delivered")
        assert ringing.event.calling_device.number == "100"
        assert ringing.event.local_connection_state == "alerting"
        # The call is in alice's history as ringing now (no need to wait for the next event).
        live = [c for c in alice.recorder.store.iter_calls() if c.ended_at is None]
        assert len(live) == 1 and set(live[0].local_devices) == {"100", "101"}
        await alice.client.answer_call(ringing.event.connection)
        await alice.wait(lambda: any(e.device == "101" and e.event.name == "established"
                                     for e in alice.events), 5)
        await phone.clear_connection(call)
        await server.wait_for(lambda: not server.model.calls, 5)
        await alice.wait(lambda: any(c.ended_at is not None
                                     for c in alice.recorder.store.iter_calls()), 5)
        rows = rows_by_gid(alice.recorder)
        assert len(records) == 1 and len(rows) == 1
        assert compare(records, alice.recorder.store) == []
        (row,) = next(iter(rows.values()))
        assert row.outcome is Outcome.ANSWERED and row.answered_by == "101"
    finally:
        await alice.stop()
        await phone.close()
        await gw.stop()
        await server.stop()


async def test_call_control_only_within_the_rights(broker, rights_file, tmp_path):
    server = SwitchServer(port=0, devices=DEVICES, remote_answer_after=None, auto_answer_after=None)
    await server.start()
    gw = RunningGateway(broker, server.port, DEVICES, rights=rights_file)
    alice = Desktop(broker, ["101", "102"], None, user="alice")
    bob = Desktop(broker, ["101"], None, user="bob")
    try:
        await gw.start()
        await alice.start()
        await bob.start()
        # alice may control 101: a call from 101 to 102 is made, its connection comes back.
        conn = await alice.client.make_call("101", "102")
        assert conn.device.number == "101" and conn.call_id
        await alice.wait(lambda: any(e.device == "102" and e.event.name == "delivered"
                                     for e in alice.events))
        ringing = next(e for e in alice.events if e.device == "102" and e.event.name == "delivered")
        # ... but not 102: the answer at 102 is refused, with the reason, by the gateway.
        with pytest.raises(GatewayRefusedError, match="alice may not control device 102"):
            await alice.client.answer_call(ringing.event.connection)
        # bob may control nothing.
        with pytest.raises(GatewayRefusedError, match="bob may not control device 101"):
            await bob.client.clear_connection(conn)
        with pytest.raises(GatewayRefusedError):
            await bob.client.make_call("101", "103")
        assert len(server.model.calls) == 1
        # The PBX's own refusal comes back as the universalFailure reason.
        bogus = type(conn)(b"\x7f\x7f", conn.device)
        with pytest.raises(CstaServiceError) as failure:
            await alice.client.clear_connection(bogus)
        assert failure.value.reason  # e.g. invalid_call_identifier (the simulator's word)
        assert failure.value.failure is not None
        snapshot = await alice.client.snapshot_device("101")
        assert [c.call_id for c in snapshot] == [conn.call_id]
        await alice.client.clear_connection(conn)
        await server.wait_for(lambda: not server.model.calls, 5)
        assert gw.gateway.stats.refused == 3
    finally:
        await alice.stop()
        await bob.stop()
        await gw.stop()
        await server.stop()


async def test_a_user_cannot_act_as_another(broker, rights_file):
    """The identity is the request topic, which the broker's ACL (%u) lets only its user
    write: alice publishing on admin's request topic is dropped by the broker; alice naming
    a response topic of bob's is ignored by the gateway."""
    aiomqtt = pytest.importorskip("aiomqtt")
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    server = SwitchServer(port=0, devices=DEVICES, remote_answer_after=None, auto_answer_after=None)
    await server.start()
    gw = RunningGateway(broker, server.port, DEVICES, rights=rights_file)
    topics = wire.Topics("default")
    try:
        await gw.start()
        async with aiomqtt.Client("127.0.0.1", broker.port, username="alice",
                                  password=USERS["alice"], protocol=aiomqtt.ProtocolVersion.V5,
                                  identifier="alice-raw") as raw:
            mine = topics.responses("alice") + "raw"
            await raw.subscribe(mine, qos=1)

            def props(response: str, corr: bytes) -> Properties:
                p = Properties(PacketTypes.PUBLISH)
                p.ResponseTopic, p.CorrelationData = response, corr
                return p

            make = wire.encode_request("make_call", ["101", "102"])
            await raw.publish(topics.request("admin"), make, qos=1, properties=props(mine, b"1"))
            await raw.publish(topics.request("alice"), make, qos=1,
                              properties=props(topics.responses("bob") + "x", b"2"))
            # A request of alice's own, answered: the gateway has read what came before it.
            await raw.publish(topics.request("alice"),
                              wire.encode_request("make_call", ["102", "103"]), qos=1,
                              properties=props(mine, b"3"))
            answer = await asyncio.wait_for(anext(aiter(raw.messages)), 10)
            assert answer.properties.CorrelationData == b"3"
            assert json.loads(answer.payload)["error"] == "refused"
        assert server.model.calls == {}
        assert gw.gateway.stats.requests == 1
    finally:
        await gw.stop()
        await server.stop()


async def test_a_desktop_that_reads_slowly_holds_back_its_reading_and_loses_nothing(broker):
    """A consumer of events() that stops reading: the client stops taking messages from the
    broker at `queue_size` items waiting (they wait in the MQTT client) instead of dropping
    the oldest; once the consumer reads again, every event comes, in order."""
    server = SwitchServer(port=0, devices=DEVICES, speed=40)
    await server.start()
    gw = RunningGateway(broker, server.port, DEVICES)
    direct = DirectMonitor(server.port, DEVICES)
    client = Desktop(broker, DEVICES, None, queue_size=5).client
    events = client.events()
    first = asyncio.ensure_future(events.__anext__())  # subscribed; then reads no further
    await asyncio.sleep(0)
    try:
        await gw.start()
        await direct.start()
        await server.wait_for(lambda: all(server.monitors_of(d) == 2 for d in DEVICES), 10)
        for d in DEVICES:
            await client.monitor_start(d)
        await client.connect()
        await client.wait_up(10)
        for scenario in SCENARIOS:
            await server.run_scenario(scenario, "100", timeout=20)
        await server.wait_for(lambda: not server.model.calls, 10)
        await wait_until(lambda: 2 * len(direct.events) >= server.events_sent, 10, "direct")
        expected = direct.lines()
        assert len(expected) > 50  # ten times the queue the slow consumer is given
        await wait_until(lambda: client.read_pauses >= 1, 10, "reading paused")
        got: list[dict] = []

        async def drain() -> None:
            item = await first
            while True:
                if isinstance(item, MonitorEvent):
                    d = wire.event_dict(item.device, item.event)
                    d.pop("cross_ref_id")
                    got.append(d)
                    if len(got) == len(expected):
                        return
                item = await events.__anext__()

        await asyncio.wait_for(drain(), 20)
        for device in DEVICES:
            assert [g for g in got if g["device"] == device] == direct.lines(device)
        assert client.lost == 0
    finally:
        first.cancel()
        await client.close()
        await events.aclose()
        await direct.stop()
        await gw.stop()
        await server.stop()


async def test_retained_state_for_any_subscriber(broker, tmp_path):
    """A plain MQTT subscriber (a CRM, Node-RED) finds the link state and each device's calls
    under way retained, and the events as `monitor --json` lines."""
    aiomqtt = pytest.importorskip("aiomqtt")
    server = SwitchServer(port=0, devices=DEVICES, remote_answer_after=None, auto_answer_after=None)
    await server.start()
    gw = RunningGateway(broker, server.port, DEVICES, site="office")
    phone = CstaClient("127.0.0.1", server.port, options=fast_options())
    try:
        await gw.start()
        await server.wait_for(lambda: server.monitors_of("105") == 1, 10)
        await phone.connect()
        await phone.make_call("104", "105")
        dev = gw.gateway.calls["105"]
        await wait_until(lambda: bool(dev.active), 5)

        async def retained() -> dict[str, dict]:
            """What a subscriber that connects now is given: the retained messages."""
            got: dict[str, dict] = {}
            async with aiomqtt.Client("127.0.0.1", broker.port, username="admin",
                                      password=USERS["admin"],
                                      protocol=aiomqtt.ProtocolVersion.V5,
                                      identifier="crm") as crm:
                await crm.subscribe("cstapopup/office/#", qos=1)

                async def read() -> None:
                    async for m in crm.messages:
                        if m.retain:
                            got[str(m.topic)] = json.loads(m.payload)
                        if ("cstapopup/office/link" in got
                                and "cstapopup/office/device/105/calls" in got):
                            return

                await asyncio.wait_for(read(), 10)
            return got

        # The gateway knows the call before the broker holds its new retained state (the
        # publish is under way): a subscriber that came too early would get the state before
        # the call, so ask again, within a bound, until the broker has the call.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            got = await retained()
            if got["cstapopup/office/device/105/calls"]["calls"] or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert got["cstapopup/office/link"]["state"] == "up"
        calls = got["cstapopup/office/device/105/calls"]
        assert calls["device"] == "105" and calls["complete"] is True
        assert [(c["state"], c["calling_device"]) for c in calls["calls"]] == [("alerting", "104")]
        delivered = [i["data"] for i in calls["items"] if i["kind"] == "event"]
        assert delivered[-1]["event"] == "delivered" and delivered[-1]["device"] == "105"
    finally:
        await phone.close()
        await gw.stop()
        await server.stop()


async def test_events_read_while_the_broker_is_away_are_published_when_it_is_back(tmp_path):
    """The broker is down while calls happen: the gateway keeps what it reads and publishes
    it, in order and complete, once the broker is back.  (Its next attempt comes seconds
    later, so a witness subscribes in between and sees the backlog go out.)"""
    aiomqtt = pytest.importorskip("aiomqtt")
    from cstapopup.gateway.client import numbering

    broker = Mosquitto(tmp_path / "broker", users=dict(USERS))
    broker.start()
    server = SwitchServer(port=0, devices=DEVICES, speed=40)
    await server.start()
    gw = RunningGateway(broker, server.port, DEVICES, backoff_initial=5.0, backoff_max=5.0)
    direct = DirectMonitor(server.port, ["100"])
    got: dict[int, dict] = {}

    async def collect(c) -> None:
        async for m in c.messages:
            _, seq = numbering(m)
            got[seq] = json.loads(m.payload)

    try:
        await gw.start()
        await direct.start()
        await wait_until(lambda: len(direct.events) == 0 and gw.gateway.calls["100"].seq >= 1, 10,
                         "the gateway's snapshot of 100")
        dev = gw.gateway.calls["100"]
        before = dev.seq
        broker.stop()
        for scenario in ("incoming-missed", "transfer"):
            await server.run_scenario(scenario, "100", timeout=20)
        await server.wait_for(lambda: not server.model.calls, 10)
        await wait_until(lambda: len(direct.events) > 10
                         and dev.seq == before + len(direct.events), 10, "the gateway reading")
        assert len(gw.gateway._outbox) >= len(direct.events)  # held while the broker is away
        broker.start()
        async with aiomqtt.Client("127.0.0.1", broker.port, username="admin",
                                  password=USERS["admin"], protocol=aiomqtt.ProtocolVersion.V5,
                                  identifier="witness") as witness:
            await witness.subscribe("cstapopup/default/device/100/event", qos=1)
            assert gw.gateway.stats.broker_connects == 1  # not back yet: the witness is first
            reader = asyncio.create_task(collect(witness))
            await wait_until(lambda: set(range(before + 1, dev.seq + 1)) <= set(got), 30,
                             "every event read during the outage")
            reader.cancel()
        lines = [got[s] for s in sorted(got)]
        for line in lines:
            line.pop("cross_ref_id")
        assert lines == direct.lines("100")
        assert gw.gateway.stats.dropped == 0 and gw.gateway.stats.broker_connects == 2
    finally:
        await direct.stop()
        await gw.stop()
        await server.stop()
        broker.stop()
