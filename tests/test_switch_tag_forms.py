"""The simulator speaks HiPath: its AARE and its events have the layouts of the protocol facts
(byte structure compared with the corpus), and with `tag_form="alternate"` every tagged field
comes in its other form; the client takes both, end to end (`cstapopup monitor --json`,
`--record` and `cstapopup history`, real subprocesses over real TCP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from cstapopup.csta import codec, operations
from cstapopup.csta.codec import AssociationRequest, AssociationResponse, EventReport
from cstapopup.csta.switch.scenarios import TRANSFER_CALLER
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.csta.switch.session import APS_STAMP, SYSTEM_VERSION

from . import vectors
from .test_switch_server import RawClient, up

TIMEOUT = 20.0
SPEED = 200.0  # the simulator's time runs 200 times faster


def skeleton(data: bytes) -> list[Any]:
    """The BER structure of `data`: each element's tag, and its elements when constructed
    (lengths and primitive contents left out)."""
    out: list[Any] = []
    pos = 0
    while pos < len(data):
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[pos:pos + n], "big")
            pos += n
        content = data[pos:pos + length]
        out.append((tag, skeleton(content)) if tag & 0x20 else (tag,))
        pos += length
    return out


async def events_until(client: RawClient, done, timeout: float = TIMEOUT) -> list[bytes]:
    """Raw event report APDUs until `done(decoded report)`; SystemStatus answered."""
    got: list[bytes] = []

    async def loop() -> None:
        while True:
            raw = await client.recv_raw()
            apdu = codec.decode_apdu(raw)
            if isinstance(apdu, codec.Invoke) and apdu.operation == operations.SYSTEM_STATUS:
                client.send(codec.ReturnResult(apdu.invoke_id, operations.SYSTEM_STATUS,
                                               ("noData", None)))
            elif isinstance(apdu, EventReport):
                got.append(raw)
                if done(apdu):
                    return

    await asyncio.wait_for(loop(), timeout)
    return got


# The AARE -------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["77777", "wrong"])
async def test_the_aare_has_the_documented_layout(password):
    """Accepted or not, the AARE carries what the Perl client reads (protocol facts §2):
    result, diagnostic, responder requirements, aps-stamp (04 10) and system-version
    (04 07) under [10] -> [2] -> [0] -> [1], and the CSTA version."""
    async with SwitchServer(port=0) as server:
        client = await RawClient.connect(server.port)
        client.send(AssociationRequest("AMHOST", password))
        raw = await client.recv_raw()
        await client.close()
    assert skeleton(raw) == skeleton(vectors.AARE_LAYOUT)
    result = 0 if password == "77777" else 1
    diagnostic = 0 if password == "77777" else 13  # authentication-failure (X.227)
    assert raw == (bytes.fromhex("6149 a10706052b0c00815a") + bytes([0xA2, 3, 2, 1, result])
                   + bytes([0xA3, 5, 0xA1, 3, 2, 1, diagnostic]) + bytes.fromhex("88020680")
                   + bytes.fromhex("aa21a21fa01da11b0410") + APS_STAMP + b"\x04\x07"
                   + SYSTEM_VERSION + bytes.fromhex("be0b2809a007a005030300 1000"))
    aare = codec.decode_apdu(raw)
    assert isinstance(aare, AssociationResponse) and aare.result == result
    assert (aare.aps_stamp, aare.system_version) == (APS_STAMP, SYSTEM_VERSION)
    assert len(APS_STAMP) == 16 and len(SYSTEM_VERSION) == 7


def test_aares_with_and_without_the_optional_fields_decode():
    full = codec.decode_apdu(vectors.AARE_LAYOUT)
    assert full.accepted and len(full.aps_stamp) == 16 and len(full.system_version) == 7
    bare = codec.decode_apdu(bytes.fromhex("6115 a10706052b0c00815a a203020100 a305a103020100"))
    assert bare.accepted and bare.aps_stamp is None and bare.csta_version is None


# Event layouts ----------------------------------------------------------------------------


async def scenario_events(tag_form: str, scenario: str, monitored: list[str],
                          done, device: str = "100") -> list[bytes]:
    """The raw events the monitors of `monitored` get while `scenario` (about `device`) runs,
    up to the first one that is `done`."""
    async with SwitchServer(port=0, devices="100-105", speed=SPEED, tag_form=tag_form) as server:
        client = await up(server)
        for watched in monitored:
            await client.monitor(watched)
        client.events.clear()
        server.start_scenario(scenario, device)
        raws = await events_until(client, done)
        await client.close()
    return raws


def is_transferred(report: EventReport) -> bool:
    return report.event.name == "transferred"


@pytest.mark.parametrize("tag_form, layout", [
    ("hipath", vectors.TRANSFERRED_HIPATH), ("alternate", vectors.TRANSFERRED_OTHER_FORMS)])
async def test_the_transferred_event_has_hipaths_layout_or_its_other_form(tag_form, layout):
    """An outside caller transferred from 100 to 101: the event the monitor of 100 gets has
    exactly the element structure of the Transferred a HiPath sent (§6) — or, in the
    alternate form, of the same event with every tagged field in its other form."""
    raws = await scenario_events(tag_form, "transfer", ["100"], is_transferred)
    raw = raws[-1]
    assert skeleton(raw) == skeleton(layout)
    assert skeleton(raw) != skeleton(vectors.TRANSFERRED_OTHER_FORMS if tag_form == "hipath"
                                     else vectors.TRANSFERRED_HIPATH)
    event = codec.decode_apdu(raw).event
    assert event.transferring_device.number == "100"
    assert event.transferred_to_device.number == "101"
    first, second = event.transferred_connections
    assert first.endpoint.number == TRANSFER_CALLER and first.associated_nid.number == "9901"
    assert second.endpoint.number == "101" and second.associated_nid is None
    assert second.old_connection.call_id == event.secondary_old_call.call_id
    assert event.old_global_call_id is not None and event.old_global_call_id[-2:] == \
        event.secondary_old_call.call_id
    assert event.local_connection_state == "null" and event.cause == "transfer"


async def test_an_internal_delivered_has_the_captured_layout():
    """100 calls 101: the Delivered the monitor of 101 gets is built like the one captured
    on a HiPath (§7.4): connection, alerting, calling, called, last redirection not known,
    originating connection, state, cause, call linkage data with thread id, timestamp."""
    raws = await scenario_events("hipath", "internal", ["101"],
                                 lambda r: r.event.name == "delivered")
    assert skeleton(raws[-1]) == skeleton(vectors.DELIVERED)
    event = codec.decode_apdu(raws[-1]).event
    assert event.originating_connection.device.number == "100"
    assert event.thread_id == event.global_call_id


# End to end: monitor --json, --record and history, in both forms ---------------------------


async def read_json_lines(stream: asyncio.StreamReader, done, timeout: float) -> list[dict]:
    lines: list[dict] = []

    async def loop() -> None:
        while not done(lines):
            line = await stream.readline()
            if not line:
                raise AssertionError(f"monitor ended early after {lines}")
            lines.append(json.loads(line))

    await asyncio.wait_for(loop(), timeout)
    return lines


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("tag_form", ["hipath", "alternate"])
async def test_transfer_through_monitor_json_record_and_history(tag_form, tmp_path: Path):
    db = tmp_path / "history.sqlite3"
    server = SwitchServer(port=0, devices="100-105", speed=40, tag_form=tag_form)
    await server.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "monitor", "--port", str(server.port),
        "--device", "100", "--device", "101", "--json", "--record", "--db", str(db),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    try:
        await server.wait_for(lambda: server.monitors_of("100") >= 1
                              and server.monitors_of("101") >= 1, timeout=TIMEOUT)
        await server.run_scenario("transfer", "100", timeout=TIMEOUT)

        def over(lines: list[dict]) -> bool:
            # 101 hangs up last: its own connection cleared, state null
            return any(d["event"] == "connection_cleared" and d["device"] == "101"
                       and d["connection_device"] == "101" for d in lines)

        lines = await read_json_lines(proc.stdout, over, TIMEOUT)
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), TIMEOUT)
        stderr = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
        await server.stop()
    assert proc.returncode == 0, stderr
    assert "undecodable" not in stderr and not any(d["event"] == "undecodable" for d in lines)
    transfers = [d for d in lines if d["event"] == "transferred"]
    assert sorted(d["device"] for d in transfers) == ["100", "101"]
    for d in transfers:
        assert d["transferring_device"] == "100" and d["transferred_to_device"] == "101"
        assert d["endpoint"] == TRANSFER_CALLER and d["cause"] == "transfer"
        assert d["secondary_old_call"]["device"] == "100"
        first, second = d["transferred_connections"]
        assert (first["endpoint"], first["associated_nid"]) == (TRANSFER_CALLER, "9901")
        assert (second["endpoint"], second["new_connection"]["device"]) == ("101", "101")
    assert {d["local_connection_state"] for d in transfers} == {"null", "connected"}

    rc, out, err = await run_cli("history", "--db", str(db), "--format", "json")
    assert rc == 0, err
    rows = json.loads(out)
    assert len(rows) == 1, rows       # the consultation call is part of the transfer
    row = rows[0]
    assert (row["outcome"], row["transferred_to"], row["answered_by"]) == ("transferred", "101", "100")
    assert (row["remote_number"], row["direction"]) == (TRANSFER_CALLER, "incoming")
    assert row["ended_at"] is not None and not row["end_unknown"]
    assert "transferred" in [h["kind"] for h in row["hops"]]


def test_sim_takes_the_tag_form_option():
    from cstapopup import cli
    from cstapopup.commands.sim import build_server

    parse = cli.build_parser(["sim"]).parse_args
    assert build_server(parse(["sim", "--port", "0"])).tag_form == "hipath"
    assert build_server(parse(["sim", "--port", "0", "--tag-form", "alternate"])).tag_form == \
        "alternate"
    with pytest.raises(SystemExit):
        parse(["sim", "--tag-form", "implicit"])
    with pytest.raises(ValueError):
        SwitchServer(port=0, tag_form="implicit")
