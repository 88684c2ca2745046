"""The captured bytes of the protocol facts, replayed by a raw socket peer into
`cstapopup monitor --json` (a real subprocess over real TCP on 127.0.0.1)."""

import asyncio
import json
import os
import signal
import sys

from cstapopup.csta import codec
from cstapopup.csta.framing import FrameReader, frame
from cstapopup.csta.switch import faults

from . import vectors as v

CAPTURED = [v.DELIVERED, v.CONNECTION_CLEARED]


async def raw_pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: list,
                  events: list[bytes] = CAPTURED) -> None:
    """Plays the PBX with literal bytes: AARE, the captured SystemStatus, monitor results with
    the cross-refs of the captures (0000 for 548, 0001 for 100), then `events` (by default the
    captured ones)."""
    frames = FrameReader()
    monitors = 0
    while True:
        data = await reader.read(4096)
        if not data:
            return
        for apdu in frames.feed(data):
            msg = codec.decode_apdu(apdu)
            seen.append(msg)
            if isinstance(msg, codec.AssociationRequest):
                writer.write(frame(codec.encode_apdu(codec.AssociationResponse(0, 0))) + frame(v.SYSTEM_STATUS))
            elif isinstance(msg, codec.Invoke) and msg.operation == 71:
                cross = b"\x00\x00" if monitors == 0 else b"\x00\x01"
                monitors += 1
                writer.write(frame(codec.encode_apdu(codec.ReturnResult(msg.invoke_id, 71, {"crossRefIdentifier": cross}))))
                if monitors == 2:
                    # split the captured events awkwardly across writes
                    stream = b"".join(frame(e) for e in events)
                    writer.write(stream[:7])
                    await writer.drain()
                    writer.write(stream[7:])
            elif isinstance(msg, codec.Invoke) and msg.operation == 74:
                # SnapshotDevice after each monitor start: no calls at the device
                writer.write(frame(codec.encode_apdu(codec.ReturnResult(
                    msg.invoke_id, 74, {"crossRefIDorSnapshotData": ("snapshotData", [])}))))
            elif isinstance(msg, codec.Invoke) and msg.operation == 210:
                writer.write(frame(codec.encode_apdu(codec.ReturnResult(msg.invoke_id, 210, {"systemStatus": "normal"}))))
            elif isinstance(msg, codec.Invoke):
                writer.write(frame(codec.encode_apdu(codec.ReturnResult(msg.invoke_id, msg.operation, ("noData", None)))))
            elif isinstance(msg, codec.ReleaseRequest):
                writer.write(frame(codec.encode_apdu(codec.ReleaseResponse())))
            await writer.drain()


async def test_captured_bytes_through_monitor_json():
    seen: list = []
    server = await asyncio.start_server(lambda r, w: raw_pbx(r, w, seen), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "monitor", "--host", "127.0.0.1", "--port", str(port),
        "--device", "548", "--device", "100", "--json", "--once",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    try:
        lines = [json.loads(await asyncio.wait_for(proc.stdout.readline(), 20)) for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        rc = await asyncio.wait_for(proc.wait(), 20)
        stderr = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
        server.close()
        await server.wait_closed()
    assert rc == 0, stderr
    delivered, cleared = lines
    assert delivered["event"] == "delivered" and delivered["device"] == "548"
    assert delivered["call_id"] == "886b" and delivered["cross_ref_id"] == "0000"
    assert delivered["calling_device"] == "531" and delivered["called_device"] == "548"
    assert delivered["alerting_device"] == "548" and delivered["local_connection_state"] == "alerting"
    assert delivered["cause"] == "new_call" and delivered["timestamp"] == "2012-12-11T10:57:19"
    assert delivered["last_redirection_device"] == "not_known"
    assert cleared["event"] == "connection_cleared" and cleared["device"] == "100"
    assert cleared["call_id"] == "b164" and cleared["releasing_device"] == "257"
    assert cleared["cause"] == "normal_clearing" and cleared["local_connection_state"] == "null"
    # the exchange was the known-good one, and it ended properly
    assert isinstance(seen[0], codec.AssociationRequest) and seen[0].password == "77777"
    ops = [m.operation for m in seen if isinstance(m, codec.Invoke)]
    # each monitor start is followed by its snapshot; both monitors stopped on SIGINT
    assert ops[0] == 71 and sorted(ops[:4]) == [71, 71, 74, 74] and ops.count(73) == 2
    assert any(isinstance(m, codec.ReturnResult) and m.operation == 211 for m in seen)
    assert isinstance(seen[-1], (codec.ReleaseRequest, codec.Abort))
    assert "link up" in stderr


async def monitor_run(events: list[bytes], count: int, *extra: str) -> tuple[list[dict], str]:
    """`cstapopup monitor --json` against the raw PBX sending `events`: the first `count`
    lines, and stderr."""
    seen: list = []
    server = await asyncio.start_server(lambda r, w: raw_pbx(r, w, seen, events), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "monitor", "--host", "127.0.0.1", "--port", str(port),
        "--device", "548", "--device", "100", "--json", "--once", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    try:
        lines = [json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
                 for _ in range(count)]
        proc.send_signal(signal.SIGINT)
        rc = await asyncio.wait_for(proc.wait(), 20)
        stderr = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
        server.close()
        await server.wait_closed()
    assert rc == 0, stderr
    return lines, stderr


async def test_hipaths_transferred_and_an_undecodable_event_through_monitor_json(tmp_path):
    """The Transferred in the layout a HiPath really sends (§6) is decoded; an event that
    cannot be decoded is shown as such (with its bytes) and, with --record, marks its call:
    the delivered call 886B gets an undecodable transfer, so how it went is not claimed."""
    broken = faults.undecodable_transferred(0x1234, b"\x00\x00", b"\x88\x6b", "548")[3:]
    db = tmp_path / "h.sqlite3"
    lines, stderr = await monitor_run([v.DELIVERED, v.TRANSFERRED_HIPATH, broken], 3,
                                      "--db", str(db))
    delivered, transferred, undecodable = lines
    assert delivered["event"] == "delivered" and delivered["call_id"] == "886b"
    assert transferred["event"] == "transferred" and transferred["device"] == "100"
    assert transferred["call_id"] == "b164" and transferred["endpoint"] == "01711234567"
    assert transferred["secondary_old_call"] == {"call_id": "b169", "device": "240"}
    assert transferred["transferred_connections"][0]["associated_nid"] == "7806"
    assert undecodable["event"] == "undecodable" and undecodable["device"] == "548"
    assert undecodable["event_type"] == "transferred" and undecodable["call_id"] == "886b"
    assert undecodable["raw"] == broken.hex()
    assert broken.hex(" ") in stderr          # the warning with the bytes
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "history", "--db", str(db), "--format", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err
    rows = {r["key"].split(":")[1]: r for r in json.loads(out)}
    call = rows["013ec5c322c34788010080000000886b"]
    assert call["outcome"] == "unknown"
    assert ["delivered", "undecodable"] == [h["kind"] for h in call["hops"]]
    assert call["hops"][1]["detail"] == "transferred" and call["ended_at"] is not None
