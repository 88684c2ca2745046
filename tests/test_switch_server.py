"""The simulator over real TCP on 127.0.0.1, driven by a minimal raw client (frame + codec).

Every wait is bounded.  To know that the server has sent everything up to a point, a test
sends RequestSystemStatus and reads until its result: the link is in order, so every event
sent before that result has arrived by then.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from typing import Any

import pytest

from cstapopup import cli
from cstapopup.csta import codec, framing, operations
from cstapopup.csta.codec import (
    Abort,
    AssociationRequest,
    AssociationResponse,
    EventReport,
    Invoke,
    Reject,
    ReleaseRequest,
    ReleaseResponse,
    ReturnError,
    ReturnResult,
)
from cstapopup.csta.events import CallEvent
from cstapopup.csta.switch import faults
from cstapopup.csta.switch.scenarios import SCENARIOS
from cstapopup.csta.switch.server import SwitchServer, mask_password

from . import vectors

TIMEOUT = 5.0
SCENARIO_SPEED = 200.0  # virtual seconds per real second: a 15 s scenario takes 75 ms


class LinkClosed(Exception):
    pass


class RawClient:
    """The client end of one link, by hand: frames and the codec, nothing else."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames = framing.FrameReader()
        self.queue: list[bytes] = []
        self.invoke_id = 0
        self.events: list[EventReport] = []

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        return cls(r, w)

    def send(self, apdu: codec.Apdu | bytes) -> None:
        raw = apdu if isinstance(apdu, bytes) else framing.frame(codec.encode_apdu(apdu))
        self.writer.write(raw)

    async def recv_raw(self, timeout: float = TIMEOUT) -> bytes:
        while not self.queue:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise LinkClosed
            self.queue.extend(self.frames.feed(data))
        return self.queue.pop(0)

    async def recv(self, timeout: float = TIMEOUT) -> codec.Apdu:
        return codec.decode_apdu(await self.recv_raw(timeout))

    async def closed(self) -> list[codec.Apdu]:
        """Read until the server closes the link (then close our end); what came before."""
        got = []
        try:
            while True:
                got.append(await self.recv())
        except LinkClosed:
            self.writer.close()
            return got

    async def associate(self, user: str = "AMHOST", password: str = "77777") -> AssociationResponse:
        self.send(AssociationRequest(user, password))
        aare = await self.recv()
        assert isinstance(aare, AssociationResponse)
        if aare.result == 0:
            status = await self.recv()
            assert isinstance(status, Invoke) and status.operation == operations.SYSTEM_STATUS
            self.send(ReturnResult(status.invoke_id, operations.SYSTEM_STATUS, ("noData", None)))
        return aare

    async def request(self, operation: int, argument: Any) -> codec.Apdu:
        """Invoke and return the answer with our invoke id; events meanwhile go to `events`."""
        self.invoke_id += 1
        iid = self.invoke_id
        self.send(Invoke(iid, operation, argument))
        while True:
            apdu = await self.recv()
            if isinstance(apdu, EventReport):
                self.events.append(apdu)
            elif isinstance(apdu, Invoke) and apdu.operation == operations.SYSTEM_STATUS:
                self.send(ReturnResult(apdu.invoke_id, operations.SYSTEM_STATUS, ("noData", None)))
            elif getattr(apdu, "invoke_id", None) == iid:
                return apdu
            else:
                raise AssertionError(f"unexpected {apdu!r}")

    async def monitor(self, device: str) -> bytes:
        res = await self.request(operations.MONITOR_START, codec.monitor_start_argument(device))
        assert isinstance(res, ReturnResult), res
        return res.result["crossRefIdentifier"]

    async def sync(self) -> list[EventReport]:
        """Everything the server sent up to now: the events since the last sync."""
        res = await self.request(operations.REQUEST_SYSTEM_STATUS, {})
        assert isinstance(res, ReturnResult) and res.result == {"systemStatus": "normal"}
        events, self.events = self.events, []
        return events

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), TIMEOUT)
        except (ConnectionError, TimeoutError):
            pass


async def up(server: SwitchServer) -> RawClient:
    client = await RawClient.connect(server.port)
    aare = await client.associate()
    assert aare.result == 0
    return client


def names_of(events: list[EventReport], cross_ref: bytes | None = None) -> list[str]:
    return [e.event.name for e in events if cross_ref is None or e.event.cross_ref_id == cross_ref]


# Association -----------------------------------------------------------------------------------


async def test_association_accepted_then_system_status_with_a_result_due() -> None:
    async with SwitchServer(port=0) as server:
        client = await RawClient.connect(server.port)
        client.send(vectors.AARQ_AMHOST_FRAME)  # the bytes both known clients send
        aare = await client.recv()
        assert isinstance(aare, AssociationResponse) and aare.result == 0
        status = await client.recv()
        assert isinstance(status, Invoke)
        assert (status.operation, status.argument) == (211, {"systemStatus": "normal"})
        assert server.links[0].session.status_pending == {status.invoke_id}
        client.send(ReturnResult(status.invoke_id, 211, ("noData", None)))
        await server.wait_for(lambda: server.links[0].session.status_confirmed == 1)
        assert not server.links[0].session.status_pending
        await client.close()


async def test_wrong_password_is_rejected_permanently_and_closed() -> None:
    async with SwitchServer(port=0) as server:
        client = await RawClient.connect(server.port)
        aare = await client.associate(password="12345")
        assert (aare.result, aare.diagnostic) == (1, 13)  # authentication-failure
        assert await client.closed() == []
        client2 = await RawClient.connect(server.port)
        assert (await client2.associate(user="OTHER")).result == 1
        await client2.close()


async def test_more_than_max_links_are_rejected_transiently() -> None:
    async with SwitchServer(port=0, max_links=2) as server:
        first, second = await up(server), await up(server)
        third = await RawClient.connect(server.port)
        aare = await third.associate()
        assert aare.result == 2
        assert await third.closed() == []
        # A link that goes makes room for the next.
        first.send(ReleaseRequest())
        assert isinstance(await first.recv(), ReleaseResponse)
        await server.wait_for(lambda: len(server.associated_links) == 1)
        fourth = await up(server)
        assert len(server.associated_links) == 2
        for c in (second, fourth):
            await c.close()


async def test_release_request_gets_release_response_then_close() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        client.send(ReleaseRequest())
        assert await client.closed() == [ReleaseResponse(0)]
        await server.wait_for(lambda: not server.links)


async def test_abort_from_the_client_closes_the_link() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        await client.monitor("100")
        client.send(bytes.fromhex("26 80 08") + vectors.ABRT)
        assert await client.closed() == []
        await server.wait_for(lambda: not server.links and server.monitors_of("100") == 0)


async def test_anything_before_the_association_is_aborted() -> None:
    async with SwitchServer(port=0) as server:
        client = await RawClient.connect(server.port)
        client.send(vectors.MONITOR_START_100_FRAME)
        got = await client.closed()
        assert len(got) == 1 and isinstance(got[0], Abort)


# Monitors -------------------------------------------------------------------------------


async def test_monitor_start_known_and_unknown_device() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        client.send(vectors.MONITOR_START_100_FRAME)  # invoke 1, device 100
        assert await client.recv_raw() == vectors.MONITOR_START_RESULT
        client.invoke_id = 1
        err = await client.request(71, codec.monitor_start_argument("999"))
        # Byte for byte the error of the protocol facts (invoke 2, invalidMonitorObject).
        assert codec.encode_apdu(err) == vectors.ERROR_INVALID_MONITOR_OBJECT
        assert isinstance(err, ReturnError) and err.failure.name == "invalid_monitor_object"
        second = await client.monitor("101")
        assert len(second) == 2 and second != b"\x00\x01"
        await client.close()


async def test_monitor_stop_and_unknown_cross_ref() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        xref = await client.monitor("100")
        res = await client.request(73, codec.monitor_stop_argument(xref))
        assert isinstance(res, ReturnResult) and res.result == ("noData", None)
        err = await client.request(73, codec.monitor_stop_argument(xref))
        assert isinstance(err, ReturnError)
        assert (err.failure.group, err.failure.value) == ("operation", 17)
        assert server.monitors_of("100") == 0
        await client.close()


async def test_two_links_monitoring_the_same_device_both_get_the_events() -> None:
    async with SwitchServer(port=0, speed=SCENARIO_SPEED) as server:
        a, b = await up(server), await up(server)
        xa, xb = await a.monitor("100"), await b.monitor("100")
        assert xa != xb
        await server.run_scenario("incoming-answered")
        events_a, events_b = await a.sync(), await b.sync()
        expected = ["delivered", "established", "connection_cleared", "connection_cleared"]
        assert names_of(events_a) == names_of(events_b) == expected
        assert {e.event.cross_ref_id for e in events_a} == {xa}
        assert {e.event.cross_ref_id for e in events_b} == {xb}
        # The same events, each link with its own cross-ref and its own invoke ids.
        assert [e.event.connection for e in events_a] == [e.event.connection for e in events_b]
        await a.close()
        await b.close()


async def test_change_monitor_filter_suppresses_event_kinds() -> None:
    async with SwitchServer(port=0, speed=SCENARIO_SPEED) as server:
        client = await up(server)
        xref = await client.monitor("100")
        # Bit 3 delivered and bit 2 connectionCleared set: both suppressed.
        flt = dict(codec.ALL_EVENTS_FILTER, callControl=(bytes([0b0011_0000, 0, 0]), 18))
        res = await client.request(72, {"crossRefIdentifier": xref, "requestedFilterList": flt})
        assert isinstance(res, ReturnResult) and res.result["actualFilterList"]["callControl"] == flt["callControl"]
        await server.run_scenario("incoming-answered")
        assert names_of(await client.sync()) == ["established"]
        err = await client.request(72, {"crossRefIdentifier": b"\x7f\x7f", "requestedFilterList": flt})
        assert isinstance(err, ReturnError) and err.failure.value == 17
        await client.close()


# Scenarios ---------------------------------------------------------------------------------------

EXPECTED: dict[str, dict[str, list[str]]] = {
    "incoming-answered": {"100": ["delivered", "established", "connection_cleared", "connection_cleared"]},
    "incoming-missed": {"100": ["delivered", "connection_cleared", "connection_cleared"]},
    "incoming-busy": {"100": ["service_initiated", "originated", "network_reached", "established",
                              "failed", "connection_cleared", "connection_cleared"]},
    "outgoing": {"100": ["service_initiated", "originated", "network_reached", "established",
                         "connection_cleared"]},
    "internal": {"100": ["service_initiated", "originated", "delivered", "established",
                         "connection_cleared", "connection_cleared"],
                 "101": ["delivered", "established", "connection_cleared"]},
    "transfer": {"100": ["delivered", "established", "held", "service_initiated", "originated",
                         "delivered", "established", "transferred"],
                 "101": ["delivered", "established", "transferred", "connection_cleared",
                         "connection_cleared"]},
    "deflect": {"100": ["delivered", "diverted"],
                "102": ["delivered", "established", "connection_cleared", "connection_cleared"]},
    "restricted-caller": {"100": ["delivered", "established", "connection_cleared", "connection_cleared"]},
    "pickup": {"100": ["delivered", "established"],
               "101": ["established", "connection_cleared", "connection_cleared"]},
    "forwarded": {"100": ["delivered", "diverted"],
                  "102": ["delivered", "established", "connection_cleared", "connection_cleared"]},
    "conference": {"100": ["delivered", "established", "held", "service_initiated", "originated",
                           "delivered", "established", "conferenced", "connection_cleared",
                           "connection_cleared", "connection_cleared"],
                   "101": ["delivered", "established", "conferenced", "connection_cleared"]},
}


def test_every_scenario_has_expected_events() -> None:
    assert set(EXPECTED) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_starts_when_its_device_is_monitored(name: str, tmp_path) -> None:
    record = tmp_path / "truth.jsonl"
    async with SwitchServer(port=0, scenario=name, speed=SCENARIO_SPEED, record=record) as server:
        client = await up(server)
        xrefs = {}
        # The scenario starts when 100 is monitored: the other ends first.
        for device in sorted(EXPECTED[name], reverse=True):
            xrefs[device] = await client.monitor(device)
        await server.wait_for(lambda: server.scenario_runs == 1)
        events = await client.sync()
        for device, expected in EXPECTED[name].items():
            assert names_of(events, xrefs[device]) == expected, device
        # Every event of every call is stamped and carries its global call id, which ends
        # with the call id until a transfer or conference gives the call a new one (protocol
        # facts §6).
        merges = [e.event for e in events if e.event.name in ("transferred", "conferenced")]
        assert all(m.global_call_id[-2:] != m.connection.call_id for m in merges)
        new_ids = {m.global_call_id for m in merges}
        for e in events:
            assert isinstance(e.event, CallEvent) and e.event.timestamp is not None
            assert len(e.event.global_call_id) == 16
            assert e.event.global_call_id in new_ids \
                or e.event.global_call_id[-2:] == e.event.connection.call_id
        lines = record.read_text("utf-8").splitlines()
        assert len(lines) == len(server.records) >= 1
        await client.close()


async def test_scenario_runs_again_on_the_next_monitor_start_only_when_done() -> None:
    async with SwitchServer(port=0, scenario="incoming-missed", speed=SCENARIO_SPEED) as server:
        client = await up(server)
        first = await client.monitor("100")
        await client.monitor("100")  # while the first run is on: no second run
        await server.wait_for(lambda: server.scenario_runs == 1)
        await client.request(73, codec.monitor_stop_argument(first))
        await client.monitor("100")
        await server.wait_for(lambda: server.scenario_runs == 2)
        assert len(server.records) == 2
        await client.close()


async def test_ground_truth_file_for_a_transfer(tmp_path) -> None:
    record = tmp_path / "truth.jsonl"
    async with SwitchServer(port=0, speed=SCENARIO_SPEED, record=record) as server:
        await server.run_scenario("transfer")
        # Flushed per call: readable while the server still runs.
        lines = [json.loads(line) for line in record.read_text("utf-8").splitlines()]
    assert [(d["call_id"], d["consultation"], d["outcome"]) for d in lines] == [
        ("0002", True, "transferred"), ("0001", False, "transferred")]
    c1 = lines[1]
    assert c1 == c1 | {
        "direction": "incoming", "remote_number": "0017612345678", "remote_kind": "number",
        "devices": ["100", "101"], "answered_by": "100", "transferred_to": "101",
        "diverted_to": None}
    assert c1["global_call_id"].endswith("0001") and len(c1["global_call_id"]) == 32
    assert c1["started_at"] < c1["ended_at"]


async def test_demo_traffic_runs_without_clients(tmp_path) -> None:
    async with SwitchServer(port=0, demo=True, rate=30, speed=400, seed=5, phonebook=[]) as server:
        await server.wait_for(lambda: len(server.records) >= 10, timeout=20)
        assert not server.links
        assert {r.outcome for r in server.records} - {
            "answered", "missed", "busy", "abandoned", "transferred"} == set()


async def test_demo_traffic_reaches_a_monitor() -> None:
    async with SwitchServer(port=0, demo=True, rate=30, speed=400, seed=9, phonebook=[]) as server:
        client = await up(server)
        for device in server.model.devices:
            await client.monitor(device)
        await server.wait_for(lambda: server.events_sent >= 30, timeout=20)
        events = await client.sync()
        assert len(events) >= 30
        assert {"delivered", "established", "connection_cleared"} <= set(names_of(events))
        await client.close()


# Services -----------------------------------------------------------------------------------------


async def test_make_call_answer_and_clear_through_services() -> None:
    async with SwitchServer(port=0, auto_answer_after=None) as server:
        client = await up(server)
        x100, x101 = await client.monitor("100"), await client.monitor("101")
        res = await client.request(10, {"callingDevice": codec.device_to_asn1("100"),
                                        "calledDirectoryNumber": codec.device_to_asn1("101")})
        assert isinstance(res, ReturnResult) and res.operation == 10
        conn = codec.connection_from_asn1(res.result["callingDevice"])
        call_id = conn.call_id
        assert conn.device.number == "100" and len(call_id) == 2
        # The result comes before the events it caused.
        assert client.events == []
        events = await client.sync()
        assert names_of(events, x100) == ["service_initiated", "originated", "delivered"]
        assert events[0].event.cause == "make_call"
        assert names_of(events, x101) == ["delivered"]
        snap = await client.request(74, {"snapshotObject": codec.device_to_asn1("101")})
        (item,) = snap.result["crossRefIDorSnapshotData"][1]
        assert codec.connection_from_asn1(item["connectionIdentifier"]).call_id == call_id
        assert item["localCallState"] == ("compoundCallState", ["alerting"])
        answer = {"callToBeAnswered": codec.connection_to_asn1(
            codec.ConnectionId(call_id, codec.DeviceId("number", "101")))}
        assert (await client.request(2, answer)).result == ("noData", None)
        again = await client.request(2, answer)
        assert isinstance(again, ReturnError) and again.failure.group == "state_incompatibility"
        clear = {"connectionToBeCleared": codec.connection_to_asn1(
            codec.ConnectionId(call_id, codec.DeviceId("number", "100")))}
        assert (await client.request(5, clear)).result == ("noData", None)
        events = await client.sync()
        assert names_of(events, x101) == ["established", "connection_cleared", "connection_cleared"]
        assert server.records[-1].outcome == "answered"
        unknown = await client.request(2, answer)
        assert isinstance(unknown, ReturnError) and unknown.failure.name == "invalid_connection_id"
        await client.close()


async def test_make_call_to_an_outside_number_is_answered_by_the_far_end() -> None:
    async with SwitchServer(port=0, speed=SCENARIO_SPEED, remote_answer_after=3) as server:
        client = await up(server)
        await client.monitor("100")
        res = await client.request(10, {"callingDevice": codec.device_to_asn1("100"),
                                        "calledDirectoryNumber": codec.device_to_asn1("00891234567")})
        call_id = codec.connection_from_asn1(res.result["callingDevice"]).call_id
        await server.wait_for(lambda: server.model.calls[call_id].outside().state == "connected")
        assert names_of(await client.sync()) == [
            "service_initiated", "originated", "network_reached", "established"]
        bad = await client.request(10, {"callingDevice": codec.device_to_asn1("100"),
                                        "calledDirectoryNumber": codec.device_to_asn1("101")})
        assert isinstance(bad, ReturnError) and bad.failure.name == "invalid_calling_device_state"
        await client.close()


async def test_consultation_and_transfer_through_services() -> None:
    async with SwitchServer(port=0, auto_answer_after=None) as server:
        client = await up(server)
        await client.monitor("100")
        c1 = server.model.incoming_call("00891234567", "100").call
        server.model.answer(c1, "100")

        def conn(cid: bytes, device: str) -> Any:
            return codec.connection_to_asn1(codec.ConnectionId(cid, codec.DeviceId("number", device)))

        res = await client.request(7, {"existingCall": conn(c1.call_id, "100"),
                                       "consultedDevice": codec.device_to_asn1("101")})
        c2_id = codec.connection_from_asn1(res.result["initiatedCall"]).call_id
        assert c2_id != c1.call_id
        server.model.answer(c2_id, "101")
        res = await client.request(16, {"heldCall": conn(c1.call_id, "100"), "activeCall": conn(c2_id, "100")})
        assert codec.connection_from_asn1(res.result["transferredCall"]).call_id == c1.call_id
        assert names_of(await client.sync())[-1] == "transferred"
        assert server.model.calls[c1.call_id].party("101").state == "connected"
        await client.close()


async def test_hold_retrieve_single_step_transfer_and_clear_call_services() -> None:
    async with SwitchServer(port=0, auto_answer_after=None) as server:
        client = await up(server)
        x100, x103 = await client.monitor("100"), await client.monitor("103")
        call = server.model.incoming_call("00891234567", "100").call
        server.model.answer(call, "100")

        def at(device: str) -> Any:
            return codec.connection_to_asn1(
                codec.ConnectionId(call.call_id, codec.DeviceId("number", device)))

        assert (await client.request(9, {"callToBeHeld": at("100")})).result == ("noData", None)
        assert (await client.request(14, {"callToBeRetrieved": at("100")})).result == ("noData", None)
        res = await client.request(50, {"activeCall": at("100"),
                                        "transferredTo": codec.device_to_asn1("103")})
        assert codec.connection_from_asn1(res.result["transferredCall"]).device.number == "103"
        res = await client.request(4, {"callToBeCleared": codec.connection_to_asn1(
            codec.ConnectionId(call.call_id, None))})
        assert res.result == ("noData", None)
        events = await client.sync()
        assert names_of(events, x100) == ["delivered", "established", "held", "retrieved", "transferred"]
        assert names_of(events, x103) == ["delivered", "connection_cleared", "connection_cleared"]
        assert call.ended and server.records[-1].transferred_to == "103"
        await client.close()


async def test_refused_services_return_universal_failures() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        nowhere = {"callToBeDiverted": codec.connection_to_asn1(
            codec.ConnectionId(b"\x12\x34", codec.DeviceId("number", "100"))),
            "newDestination": codec.device_to_asn1("101")}
        err = await client.request(218, nowhere)
        assert isinstance(err, ReturnError) and err.failure.name == "invalid_connection_id"
        err = await client.request(10, {"callingDevice": codec.device_to_asn1("555"),
                                        "calledDirectoryNumber": codec.device_to_asn1("101")})
        assert err.failure.name == "invalid_calling_device_id"
        err = await client.request(74, {"snapshotObject": codec.device_to_asn1("555")})
        assert err.failure.name == "invalid_device_id"
        await client.close()


# Bad input ----------------------------------------------------------------------------------


async def test_unknown_operation_is_rejected() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        rej = await client.request(999, b"\x05\x00")
        assert rej == Reject(1, "invoke", 1) and rej.problem_name == "unrecognizedOperation"
        await client.sync()  # the link goes on
        await client.close()


async def test_undecodable_apdu_is_rejected_and_the_link_stays() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        client.send(faults.UNKNOWN_APDU)
        rej = await client.recv()
        assert isinstance(rej, Reject) and (rej.invoke_id, rej.problem_kind) == (None, "general")
        # An invoke whose argument does not decode: rejected by its invoke id.
        client.send(framing.frame(bytes.fromhex("A1 0A 02 01 63 02 01 47 30 02 04 00")))
        rej = await client.recv()
        assert rej == Reject(0x63, "invoke", 2)
        await client.sync()
        await client.close()


async def test_garbage_gets_an_abort_and_the_link_is_closed_without_disturbing_others() -> None:
    async with SwitchServer(port=0, speed=SCENARIO_SPEED) as server:
        bad, good = await up(server), await up(server)
        await good.monitor("100")
        bad.send(faults.GARBAGE)
        got = await bad.closed()
        assert len(got) == 1 and isinstance(got[0], Abort)
        await server.run_scenario("incoming-missed")
        assert names_of(await good.sync()) == ["delivered", "connection_cleared", "connection_cleared"]
        await good.close()


async def test_a_client_that_does_not_read_is_dropped_alone() -> None:
    async with SwitchServer(port=0, max_write_buffer=16384) as server:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", server.port)), TIMEOUT)
        stuck = RawClient(*await asyncio.open_connection(sock=sock))
        await stuck.associate()
        await stuck.monitor("100")
        (stuck_link,) = server.associated_links
        stuck_link.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        good = await up(server)
        await good.monitor("101")
        # `stuck` reads nothing more: calls at 100 fill its link until the switch gives up.
        for _ in range(20_000):
            if stuck_link.closed or stuck_link.transport.is_closing():
                break
            call = server.model.make_call("100", "102").call
            server.model.hang_up(call, "100")
            await asyncio.sleep(0)  # let the events go out
        assert stuck_link.closed or stuck_link.transport.is_closing()
        # The other link is untouched.
        call = server.model.make_call("101", "102").call
        server.model.hang_up(call, "101")
        assert names_of(await good.sync()) == [
            "service_initiated", "originated", "delivered", "connection_cleared"]
        stuck.writer.close()
        await good.close()


async def test_invoke_ids_of_the_server_grow_past_127_and_32767() -> None:
    async with SwitchServer(port=0, first_invoke_id=32766, speed=SCENARIO_SPEED) as server:
        client = await RawClient.connect(server.port)
        client.send(AssociationRequest("AMHOST", "77777"))
        await client.recv()
        raw = await client.recv_raw()
        assert raw[:7] == bytes.fromhex("A1 0D 02 02 7F FE 02")  # SystemStatus, invoke 32766
        client.send(ReturnResult(32766, 211, ("noData", None)))
        await client.monitor("100")
        await server.run_scenario("incoming-answered")
        ids = [e.invoke_id for e in await client.sync()]
        assert ids == [32767, 32768, 32769, 32770]
        await client.close()
    async with SwitchServer(port=0, first_invoke_id=126) as server:
        client = await RawClient.connect(server.port)
        client.send(AssociationRequest("AMHOST", "77777"))
        await client.recv()
        assert (await client.recv()).invoke_id == 126
        assert server.send_system_status() == [127]
        assert server.send_system_status() == [128]
        raws = [await client.recv_raw(), await client.recv_raw()]
        assert raws[0][2:5] == bytes.fromhex("02 01 7F") and raws[1][2:6] == bytes.fromhex("02 02 00 80")
        await client.close()


# Fault injection hooks --------------------------------------------------------------------------


async def test_silent_server_keeps_the_socket_but_answers_nothing() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        server.set_silent(True)
        client.send(Invoke(50, 210, {}))
        await server.wait_for(lambda: server.links[0].bytes_ignored > 0)
        server.set_silent(False)
        client.send(Invoke(51, 210, {}))
        res = await client.recv()
        # The first request was swallowed: the first answer is the second one's.
        assert isinstance(res, ReturnResult) and res.invoke_id == 51
        await client.close()


async def test_inject_writes_raw_bytes() -> None:
    async with SwitchServer(port=0) as server:
        client = await up(server)
        assert server.inject(faults.UNDECODABLE_EVENT_REPORT) == 1
        raw = await client.recv_raw()
        # an event report whose argument is no CSTAEventReportArgument: nothing of it but the
        # envelope can be read, and it is passed on as such
        report = codec.decode_apdu(raw)
        assert report.invoke_id == 0x7FF0 and report.event.name == "undecodable"
        assert report.event.cross_ref_id == b"" and report.event.raw == raw
        server.inject(faults.unknown_event_report(77))
        assert (await client.recv()).event.name == "unknown"
        server.inject(faults.TRUNCATED_FRAME)
        server.drop_link()
        with pytest.raises(LinkClosed):
            await client.recv()
        assert client.frames.buffered == len(faults.TRUNCATED_FRAME)


async def test_abort_link_and_periodic_system_status() -> None:
    async with SwitchServer(port=0, periodic_system_status=0.05) as server:
        client = await up(server)
        ids = []
        while len(ids) < 2:
            apdu = await client.recv()
            assert isinstance(apdu, Invoke) and apdu.operation == 211
            ids.append(apdu.invoke_id)
            client.send(ReturnResult(apdu.invoke_id, 211, ("noData", None)))
        assert ids[1] > ids[0]
        server.abort_link()
        got = await client.closed()
        assert isinstance(got[-1], Abort)


async def test_status_timeout_drops_a_client_that_never_answers() -> None:
    async with SwitchServer(port=0, status_timeout=0.1) as server:
        client = await RawClient.connect(server.port)
        client.send(AssociationRequest("AMHOST", "77777"))
        got = await client.closed()  # never answers the SystemStatus
        assert isinstance(got[0], AssociationResponse) and isinstance(got[-1], Abort)


# `cstapopup sim` --------------------------------------------------------------------------------


def test_mask_password() -> None:
    text = mask_password(vectors.AARQ_AMHOST_FRAME, "77777")
    assert "37 37 37 37 37" not in text and "** ** ** ** **" in text


def test_sim_port_in_use_exits_4(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["sim", "--port", str(port)]) == 4
    assert "already in use" in capsys.readouterr().err


def test_sim_bad_options_exit_2(capsys) -> None:
    assert cli.main(["sim", "--devices", "100-x"]) == 2
    assert cli.main(["sim", "--scenario", "nonsense"]) == 2
    assert cli.main(["sim", "--forward", "100"]) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_sim_runs_logs_in_plain_words_and_stops_cleanly_on_sigterm(tmp_path) -> None:
    record = tmp_path / "truth.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "sim", "--port", "0", "--scenario", "incoming-answered",
        "--speed", "50", "--debug", "--record", str(record),
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []

    async def line_with(text: str) -> str:
        while True:
            raw = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert raw, "\n".join(lines)
            lines.append(raw.decode())
            if text in lines[-1]:
                return lines[-1]

    try:
        listening = await line_with("listening on 127.0.0.1:")
        port = int(listening.split("127.0.0.1:")[1].split(";")[0])
        client = await RawClient.connect(port)
        await client.associate()
        await client.monitor("100")
        await line_with("scenario incoming-answered: done")
        assert len(await client.sync()) == 4
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        rest = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = "".join(lines) + rest
    assert "association accepted" in log and "ringing" in log
    assert "-> aarq" not in log and "<- aarq" in log
    assert "37 37 37 37 37" not in log  # the password never shows in the wire trace
    assert json.loads(record.read_text().splitlines()[0])["outcome"] == "answered"
    await client.close()
