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
from cstapopup.csta.client import CstaClient, MonitorEvent
from cstapopup.csta.switch.demo import load_phonebook
from cstapopup.csta.switch.model import CallRecord
from cstapopup.csta.switch.server import SwitchServer

from .client_helpers import fast_options

DEVICES = [str(d) for d in range(100, 106)]


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
        # Consultations: "consulted" hops on the call they were made from, a "consultation"
        # hop on one that kept its row.
        consulted = [(h.device, h.detail) for h in c.hops if h.kind == "consulted"]
        if consulted != list(r.consulted):
            problems.append(f"{r.call_id.hex()}: consulted {consulted} != truth {r.consulted}")
        marks = [h.device for h in c.hops if h.kind == "consultation"]
        if marks != ([r.devices[0]] if r.consultation_of is not None else []):
            problems.append(f"{r.call_id.hex()}: consultation hops {marks}, truth "
                            f"{r.consultation_of and r.consultation_of.hex()}")
    consultations = {r.global_call_id.hex() for r in records if r.consultation}
    for gid, calls in by_gid.items():
        if gid not in consultations:
            problems.append(f"extra rows {[c.key for c in calls]}")
        else:
            problems.append(f"consultation call kept as a row: {[c.key for c in calls]}")
    return problems


class Progress:
    """A count that a test can wait on: `wait(predicate)` wakes whenever it is bumped."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def bump(self) -> None:
        self.count += 1
        self._changed.set()

    async def wait(self, predicate, timeout: float) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)


async def record_through_client(server: SwitchServer, store_path: Path, run) -> tuple[list[CallRecord], HistoryStore]:
    """Monitor DEVICES with a recording client, then start the switch's traffic (a demo
    switch is made with hold_traffic, so that every call is seen from its first event) and
    run `run(server)`; the truth and the store."""
    records: list[CallRecord] = []
    server._record_listeners.append(records.append)
    recorder = Recorder.open(store_path, monitored=DEVICES)
    client = CstaClient("127.0.0.1", server.port, options=fast_options())
    fed = Progress()

    async def consume():
        async for item in client.events():
            if isinstance(item, MonitorEvent):
                recorder.feed(item.device, item.event)
                fed.bump()

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)  # let the consumer subscribe before the first link state change
    try:
        await client.connect()
        for d in DEVICES:
            await client.monitor_start(d)
        server.start_traffic()
        await run(server)
        # The last events are on their way: wait until the client has fed every one sent.
        await fed.wait(lambda: fed.count >= server.events_sent, 30)
        assert fed.count == server.events_sent, f"fed {fed.count} of {server.events_sent} events"
    finally:
        await client.close()
        consumer.cancel()
    return records, recorder.store


SCENARIOS = ["incoming-answered", "incoming-missed", "incoming-busy", "outgoing", "internal",
             "transfer", "deflect", "restricted-caller", "pickup", "forwarded", "conference"]


@pytest.mark.parametrize("scenario, linkage", [(s, "new") for s in SCENARIOS]
                         + [("transfer", "old"), ("conference", "old")])
async def test_every_scenario_recorded_as_the_simulator_did_it(scenario, linkage, tmp_path):
    server = SwitchServer(port=0, devices=DEVICES, speed=40, linkage_after_transfer=linkage)
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
                          phonebook=load_phonebook(resources.demo_phonebooks()), hold_traffic=True)

    async def run(s: SwitchServer) -> None:
        await s.wait_for(lambda: len(s.records) >= 520, timeout=240)
        # No new calls; the ones under way end (a few virtual minutes at most).
        assert s.demo is not None
        s.demo.stop()
        await s.wait_for(lambda: not s.model.calls, timeout=120)

    await server.start()
    try:
        records, store = await record_through_client(server, tmp_path / "demo.sqlite3", run)
    finally:
        await server.stop()
    # Calls still in progress when the run stopped are not in the truth yet: compare the ended
    # ones.  Every call began after the monitors were up (hold_traffic).
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
    that it had fed to its recorder more than its commit delay (COMMIT_DELAY +
    FLUSH_INTERVAL: the README's "within a second") before an event that it then acted on is
    in the database, which opens.

    What the monitor has fed is known without guessing at its speed: it prints each event
    before it feeds it, one after the other, so once it has printed its n-th line it has fed
    the first n - 1 events (and committed whatever was due when it fed them).  Its one link
    gets the switch's events in order, so a call whose last event was the switch's k-th event
    sent has been fed once k < n, before the moment line k + 1 was read here.  The call is
    then committed by the monitor's next change that comes DELAY later: the end of another
    call (a change, so the recorder checks its commit), sent DELAY after that moment and fed
    before the kill.  All times are this machine's monotonic clock, which both processes
    read; no assumption about how fast the monitor is."""
    from bisect import bisect_left

    from cstapopup.calls.recorder import COMMIT_DELAY, FLUSH_INTERVAL

    delay = COMMIT_DELAY + FLUSH_INTERVAL
    db = tmp_path / "kill.sqlite3"
    server = SwitchServer(port=0, devices=DEVICES, demo=True, rate=120, speed=30, seed=3,
                          hold_traffic=True)
    #: global call id -> events the switch had sent once the call's last event was out.
    last_event: dict[str, int] = {}
    #: (events sent so far, when) after each batch the switch wrote.
    flushes: list[tuple[int, float]] = []
    #: when each line of the monitor's output was read here.
    line_times: list[float] = []

    def ended(record: CallRecord) -> None:
        if not record.consultation:  # consultation calls are not rows, by design
            # Called inside the traffic step that ends the call; the step's events are sent
            # before the loop runs the next callback.
            gid = record.global_call_id.hex()
            asyncio.get_running_loop().call_soon(
                lambda: last_event.setdefault(gid, server.events_sent))

    flush = server._flush

    def timed_flush() -> None:
        flush()
        flushes.append((server.events_sent, time.monotonic()))

    server._flush = timed_flush
    server._record_listeners.append(ended)
    await server.start()
    args = [sys.executable, "-m", "cstapopup", "monitor", "--port", str(server.port), "--db", str(db)]
    for d in DEVICES:
        args += ["--device", d]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL, env=dict(os.environ))
    printed = Progress()

    async def count_lines() -> None:
        assert proc.stdout is not None
        async for _ in proc.stdout:
            line_times.append(time.monotonic())
            printed.bump()

    reader = asyncio.create_task(count_lines())

    def sent_at(k: int) -> float:
        """When the switch wrote its k-th event (the batch that held it)."""
        return flushes[bisect_left(flushes, (k, 0.0))][1]

    def committed_calls() -> set[str]:
        n = printed.count
        fed = {g: line_times[k] for g, k in last_event.items() if k < n}
        witness = max((sent_at(last_event[g]) for g in fed), default=None)
        return set() if witness is None else {g for g, t in fed.items() if t + delay <= witness}

    try:
        await server.wait_for(lambda: all(server.monitors_of(d) >= 1 for d in DEVICES), timeout=60)
        server.start_traffic()
        # Kill it once a good number of finished calls are due on disk, mid-stream.
        await printed.wait(lambda: len(committed_calls()) >= 100, timeout=180)
        must_have = committed_calls()
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
        reader.cancel()
        await server.stop()
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
    phone = CstaClient("127.0.0.1", server.port, options=fast_options())   # plays the users' phones
    recorder = Recorder.open(tmp_path / "h.sqlite3", monitored=["100", "101"])
    client = CstaClient("127.0.0.1", server.port, options=fast_options())
    snapshots = asyncio.Event()
    seen: list[str] = []
    fed: list[MonitorEvent] = []
    progress = Progress()

    async def consume():
        async for item in client.events():
            if isinstance(item, MonitorEvent):
                recorder.feed(item.device, item.event)
                fed.append(item)
                progress.bump()
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
        await server.wait_for(lambda: any(c.party("101") is not None for c in server.model.calls.values()), 30)
        ringing = next(c for c in server.model.calls.values() if c.call_id == early.call_id)
        await phone.answer_call(ringing.party("101").connection)
        await client.connect()
        await client.monitor_start("100")
        await client.monitor_start("101")
        await asyncio.wait_for(snapshots.wait(), 30)
        await phone.clear_connection(early)
        later = await phone.make_call("100", "102")
        # It rings at 102 (the recorder has seen so) before 100 gives up.
        await progress.wait(lambda: any(i.event.name == "delivered"
                                        and i.event.call_id == later.call_id for i in fed), 30)
        await phone.clear_connection(later)
        await server.wait_for(lambda: not server.model.calls, 30)
        # Every event the switch sent the recording client has been fed.
        (link,) = [lk for lk in server.links if "100" in lk.monitored]
        await progress.wait(lambda: len(fed) >= link.session.events_sent, 30)
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
