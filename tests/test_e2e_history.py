"""End to end: simulator -> real TCP -> client -> tracker -> SQLite history, compared call by
call with the simulator's own record of what it did (its ground truth)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from cstapopup import resources
from cstapopup.calls.recorder import Recorder
from cstapopup.calls.store import HistoryStore
from cstapopup.csta.client import ClientOptions, CstaClient, MonitorEvent
from cstapopup.csta.switch.demo import load_phonebook
from cstapopup.csta.switch.model import CallRecord
from cstapopup.csta.switch.server import SwitchServer

DEVICES = [str(d) for d in range(100, 106)]
FAST = ClientOptions(backoff_initial=0.05, backoff_max=0.2, connect_timeout=3, request_timeout=3)


def gid_of(key: str) -> str | None:
    return key.split(":")[1] if key.startswith("g:") else None


def compare(records: list[CallRecord], store: HistoryStore) -> list[str]:
    """Differences between the ground truth and the history (empty when they agree)."""
    problems: list[str] = []
    by_gid: dict[str, list] = {}
    for call in store.iter_calls():
        by_gid.setdefault(gid_of(call.key), []).append(call)
    expected = [r for r in records if not r.consultation]
    for r in expected:
        calls = by_gid.pop(r.global_call_id.hex(), [])
        if len(calls) != 1:
            problems.append(f"{r.call_id.hex()} ({r.outcome}): {len(calls)} rows")
            continue
        c = calls[0]
        got = (c.outcome.value, c.answered_by, c.transferred_to, c.diverted_to, c.direction.value)
        want = (r.outcome, r.answered_by, r.transferred_to, r.diverted_to, r.direction)
        if got != want:
            problems.append(f"{r.call_id.hex()}: history {got} != truth {want}")
        if c.remote_kind != r.remote_kind or (r.remote_kind == "number" and c.remote_number != r.remote_number):
            problems.append(f"{r.call_id.hex()}: remote {c.remote_kind}/{c.remote_number} != {r.remote_kind}/{r.remote_number}")
        if c.ended_at is None or c.end_unknown:
            problems.append(f"{r.call_id.hex()}: no end recorded")
    consultations = {r.global_call_id.hex() for r in records if r.consultation}
    for gid, calls in by_gid.items():
        if gid not in consultations:
            problems.append(f"extra rows {[c.key for c in calls]}")
        else:
            problems.append(f"consultation call kept as a row: {[c.key for c in calls]}")
    return problems


async def record_through_client(server: SwitchServer, store_path: Path, run) -> tuple[list[CallRecord], HistoryStore]:
    """Run `run(server)` while a recording client monitors DEVICES; the truth and the store."""
    records: list[CallRecord] = []
    server._record_listeners.append(records.append)
    recorder = Recorder.open(store_path, monitored=DEVICES)
    client = CstaClient("127.0.0.1", server.port, options=FAST)
    fed = 0

    async def consume():
        nonlocal fed
        async for item in client.events():
            if isinstance(item, MonitorEvent):
                recorder.feed(item.device, item.event)
                fed += 1

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    try:
        await client.connect()
        for d in DEVICES:
            await client.monitor_start(d)
        await run(server)
        # the last events are on their way: wait until the client has fed everything sent
        await server.wait_for(lambda: True, 1)
        deadline = time.monotonic() + 10
        while fed < server.events_sent and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert fed == server.events_sent, f"fed {fed} of {server.events_sent} events"
    finally:
        await client.close()
        consumer.cancel()
    return records, recorder.store


SCENARIOS = ["incoming-answered", "incoming-missed", "incoming-busy", "outgoing", "internal",
             "transfer", "deflect", "restricted-caller", "pickup", "forwarded", "conference"]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_every_scenario_recorded_as_the_simulator_did_it(scenario, tmp_path):
    server = SwitchServer(port=0, devices=DEVICES, speed=40)
    await server.start()
    try:
        records, store = await record_through_client(
            server, tmp_path / "h.sqlite3", lambda s: s.run_scenario(scenario, "100", timeout=20))
    finally:
        await server.stop()
    assert records
    assert compare(records, store) == []


async def test_demo_run_of_500_calls_matches_the_ground_truth(tmp_path):
    server = SwitchServer(port=0, devices=DEVICES, demo=True, rate=60, speed=60, seed=7,
                          phonebook=load_phonebook(resources.demo_phonebooks()))

    async def run(s: SwitchServer) -> None:
        await s.wait_for(lambda: len(s.records) >= 520, timeout=240)

    await server.start()
    try:
        records, store = await record_through_client(server, tmp_path / "demo.sqlite3", run)
    finally:
        await server.stop()
    # calls still in progress when the run stopped are not in the truth yet: compare the ended ones
    ended = {r.global_call_id.hex() for r in records}
    finished = [r for r in records if not r.consultation]
    assert len(finished) >= 500
    problems = [p for p in compare(records, store) if not p.startswith("extra rows")]
    extra = [c for c in store.iter_calls() if gid_of(c.key) not in ended]
    assert all(c.ended_at is None for c in extra), "a row for a call the switch never finished"
    assert problems == []
    outcomes = {r.outcome for r in finished}
    assert {"answered", "missed", "transferred"} <= outcomes


async def test_sigkill_of_the_recording_monitor_loses_no_finished_call(tmp_path):
    """`cstapopup monitor --record` is killed with SIGKILL in a stream of calls: every call
    that had ended (and reached it) before the kill is in the database, which opens."""
    db = tmp_path / "kill.sqlite3"
    ended_at: dict[str, float] = {}
    server = SwitchServer(port=0, devices=DEVICES, demo=True, rate=120, speed=30, seed=3,
                          on_record=lambda r: ended_at.setdefault(r.global_call_id.hex(), time.monotonic()))
    await server.start()
    args = [sys.executable, "-m", "cstapopup", "monitor", "--port", str(server.port), "--db", str(db)]
    for d in DEVICES:
        args += ["--device", d]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    try:
        await server.wait_for(lambda: all(server.monitors_of(d) >= 1 for d in DEVICES), timeout=20)
        # Calls already under way (or over) before every monitor was up are not fully seen.
        before_ready = set(ended_at) | {c.global_call_id.hex() for c in server.model.calls.values()}
        ready = len(server.records)
        await server.wait_for(lambda: len(server.records) >= ready + 100, timeout=180)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
        await server.stop()
    # Calls that ended at least half a second before the kill have long reached the monitor
    # (loopback, milliseconds); consultation calls are not rows by design.
    consultations = {r.global_call_id.hex() for r in server.records if r.consultation}
    must_have = {g for g, t in ended_at.items()
                 if t < killed_at - 0.5 and g not in consultations and g not in before_ready}
    assert len(must_have) >= 30  # enough finished calls to make the check meaningful
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = HistoryStore(db)
    have = {gid_of(c.key): c for c in store.iter_calls()}
    missing = [g for g in must_have if g not in have]
    assert missing == []
    assert all(have[g].ended_at is not None for g in must_have)
    store.close()


async def test_a_call_under_way_before_monitoring_gets_one_honest_row(tmp_path):
    """100 calls 101 and they talk before the recording client starts: its monitors'
    snapshots list the call, so it gets a row; its end is seen, its outcome is not claimed.
    A call made afterwards is recorded completely."""
    from cstapopup.calls.model import Direction, Outcome
    from cstapopup.csta.client import MonitorSnapshot

    server = SwitchServer(port=0, devices=DEVICES, remote_answer_after=None, auto_answer_after=None)
    await server.start()
    phone = CstaClient("127.0.0.1", server.port, options=FAST)   # plays the users' phones
    recorder = Recorder.open(tmp_path / "h.sqlite3", monitored=["100", "101"])
    client = CstaClient("127.0.0.1", server.port, options=FAST)
    snapshots = asyncio.Event()
    seen: list[str] = []

    async def consume():
        async for item in client.events():
            if isinstance(item, MonitorEvent):
                recorder.feed(item.device, item.event)
            elif isinstance(item, MonitorSnapshot):
                recorder.snapshot(item.device, item.calls)
                seen.append(item.device)
                if len(seen) == 2:
                    snapshots.set()

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    try:
        await phone.connect()
        await phone.monitor_start("101")
        early = await phone.make_call("100", "101")
        await server.wait_for(lambda: any(c.party("101") is not None for c in server.model.calls.values()), 5)
        ringing = next(c for c in server.model.calls.values() if c.call_id == early.call_id)
        await phone.answer_call(ringing.party("101").connection)
        await client.connect()
        await client.monitor_start("100")
        await client.monitor_start("101")
        await asyncio.wait_for(snapshots.wait(), 5)
        await phone.clear_connection(early)
        later = await phone.make_call("100", "102")
        await asyncio.sleep(0.3)
        await phone.clear_connection(later)
        await server.wait_for(lambda: not server.model.calls, 5)
        await asyncio.sleep(0.3)
    finally:
        await client.close()
        await phone.close()
        consumer.cancel()
        await server.stop()
    rows = {c.key.split(":")[1]: c for c in recorder.store.iter_calls()}
    assert len(rows) == 2, list(rows.values())
    first = next(c for c in rows.values() if "under_way" in [h.kind for h in c.hops])
    second = next(c for c in rows.values() if c is not first)
    assert first.outcome is Outcome.UNKNOWN and first.ended_at is not None and not first.end_unknown
    assert first.direction is Direction.UNKNOWN     # only clears came after the snapshot
    assert set(first.local_devices) == {"100", "101"}
    assert second.outcome is Outcome.ABANDONED and second.remote_number == "102"
    recorder.close()
