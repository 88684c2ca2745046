"""End-to-end event figures: the simulator sends events to one client over loopback.

Prints
- events per second delivered to the client's callbacks (the switch, in another process,
  writes pre-encoded Delivered / Established / ConnectionCleared reports as fast as the
  socket takes them),
- latency from the switch writing a frame to the client's callback (p50, p99) at 200
  events/s (the send time travels in the event's private data; both processes read the same
  monotonic clock) — an upper bound of "frame arrival to callback", as it includes loopback,
- the resident memory of a headless client process monitoring 500 devices,
- "flood": N events (default 100,000; realistic reports of distinct calls) written by a fake PBX
  in another process as fast as TCP takes them, to a real CstaClient with a consumer of
  events() (plain, then recording like `monitor --record`: tracker + history store): events
  per second and events lost (target: 0 lost at any rate; a slow consumer pauses the reading),
- "handshake": the first handshake of fresh `cstapopup monitor` processes, measured at the PBX
  side: TCP accept -> first byte of the AARQ (target median < 5 ms), and accept -> the first
  MonitorStart, median and range over --handshake-runs runs,
- "lookup": the time to find an event's monitors among 500 (the cross-ref index).

Run: .venv/bin/python benchmarks/events.py [--seconds 5] [--flood 100000] [--handshake-runs 15]
     [--only throughput,memory,flood,handshake,lookup,tracked]

One option picks what runs: `--only` takes a comma-separated list of parts; without it the
wire parts run (throughput, memory, flood, handshake, lookup), not "tracked", which is a
benchmark of another layer.  `--mode tracked` is the same as `--only tracked` (and `--mode
wire`, the default, the same as leaving `--only` out); `--mode` and `--only` together are
refused.

"tracked" measures the whole tracked path, in one process on one core: a
HiPath event frame (BER) -> decode -> call tracker -> phone book names -> history store
(SQLite, grouped commits as `monitor --record` runs it), with distinct calls of every kind
made by the simulator's demo traffic (50 devices, all monitored; about 7 in 10 callers from a
phone book of regulars, the others new numbers) into a history already holding `--history`
calls.  It prints
- tracked events per second on one core (CPU time of the process), overall and per quarter
  of the run (a cost growing with the calls remembered or stored would show as a rise);
- latency per event at a paced 200 events/s (from the moment an event is due to the moment
  the recorder returned, its timer's commits included): p50, p99, max;
- how many history rows the run left, and that none of them is in progress.

    .venv/bin/python benchmarks/events.py --mode tracked [--calls 20000] [--history 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import multiprocessing as mp
import os
import signal
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cstapopup.csta import codec, framing  # noqa: E402
from cstapopup.csta.client import ClientOptions, CstaClient  # noqa: E402
from cstapopup.csta.events import (  # noqa: E402
    NOT_KNOWN,
    ConnectionClearedEvent,
    ConnectionId,
    DeliveredEvent,
    DeviceId,
    EstablishedEvent,
)
from cstapopup.csta.switch.server import SwitchServer  # noqa: E402
from cstapopup.csta.testing.fakepbx import FakePbx, call_events, event_frames  # noqa: E402


def sample_events(cross_ref: bytes, n_calls: int) -> list:
    """Realistic reports of n calls at device 100, as HiPath sends them."""
    out = []
    for i in range(n_calls):
        cid = (i % 60000 + 1).to_bytes(2, "big")
        conn = ConnectionId(cid, DeviceId.of("100"))
        caller = DeviceId.of(f"0089{1000000 + i:07d}")
        common = dict(cross_ref_id=cross_ref, connection=conn, global_call_id=b"\x01" * 14 + cid)
        out.append(DeliveredEvent(alerting_device=DeviceId.of("100"), calling_device=caller,
                                  called_device=DeviceId.of("100"), last_redirection_device=NOT_KNOWN,
                                  associated_calling_device=DeviceId.of("9901"), cause="new_call",
                                  local_connection_state="alerting", **common))
        out.append(EstablishedEvent(answering_device=DeviceId.of("100"), calling_device=caller,
                                    called_device=DeviceId.of("100"), last_redirection_device=NOT_KNOWN,
                                    cause="new_call", local_connection_state="connected", **common))
        out.append(ConnectionClearedEvent(releasing_device=caller, cause="normal_clearing",
                                          local_connection_state="null", **common))
    return out


def switch_process(port_q: mp.Queue, cmd_q: mp.Queue, devices: str) -> None:
    """The switch in its own process: association and monitors by SwitchServer, then bulk or
    paced event frames written straight to the link."""

    async def main() -> None:
        server = SwitchServer(port=0, devices=devices)
        await server.start()
        port_q.put(server.port)
        loop = asyncio.get_running_loop()
        while True:
            cmd = await loop.run_in_executor(None, cmd_q.get)
            if cmd[0] == "stop":
                break
            await server.wait_for(lambda: server.monitors_of("100") >= 1, 10)
            link = server.associated_links[0]
            cross = next(m.cross_ref for m in link.session.monitors.values() if m.device == "100")
            if cmd[0] == "bulk":
                seconds = cmd[1]
                events = sample_events(cross, 300)
                blob = b"".join(framing.frame(codec.encode_apdu(codec.EventReport(7, e))) for e in events)
                end = time.monotonic() + seconds
                sent = 0
                transport = link.transport
                while time.monotonic() < end:
                    if transport.get_write_buffer_size() > 1 << 20:
                        await asyncio.sleep(0.001)
                        continue
                    transport.write(blob)
                    sent += len(events)
                    await asyncio.sleep(0)
                port_q.put(("bulk_sent", sent))
            elif cmd[0] == "paced":
                rate, count = cmd[1], cmd[2]
                events = sample_events(cross, count // 3 + 1)[:count]
                start = time.monotonic()
                for i, e in enumerate(events):
                    target = start + i / rate
                    delay = target - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    stamped = dataclasses.replace(e, private_data=(b"\x04\x08" + struct.pack(">q", time.monotonic_ns()),))
                    link.transport.write(framing.frame(codec.encode_apdu(codec.EventReport(8, stamped))))
                port_q.put(("paced_done", count))
        await server.stop()

    asyncio.run(main())


async def client_side(port: int, cmd_q: mp.Queue, res_q: mp.Queue, seconds: float) -> dict:
    client = CstaClient("127.0.0.1", port, options=ClientOptions(keepalive_interval=60))
    counter = {"n": 0}
    latencies: list[float] = []

    def count(device, event) -> None:
        counter["n"] += 1

    def stamp(device, event) -> None:
        if event.private_data:
            sent = struct.unpack(">q", event.private_data[0][2:])[0]  # an OCTET STRING TLV
            latencies.append((time.monotonic_ns() - sent) / 1e6)

    client.on("*", count)
    client.on("*", stamp)
    await client.connect()
    await client.monitor_start("100")
    loop = asyncio.get_running_loop()

    # Throughput.
    cmd_q.put(("bulk", seconds))
    t0 = time.perf_counter()
    reply = await loop.run_in_executor(None, res_q.get)
    sent = reply[1]
    # let the client drain what is buffered, bounded
    deadline = time.perf_counter() + 30
    while counter["n"] < sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    delivered = counter["n"]
    throughput = delivered / elapsed

    # Latency at 200 events/s.
    latencies.clear()
    n_paced = int(200 * max(5.0, seconds))
    cmd_q.put(("paced", 200, n_paced))
    await loop.run_in_executor(None, res_q.get)
    deadline = time.perf_counter() + 10
    while len(latencies) < n_paced and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    await client.close()
    lat = sorted(latencies)
    return {
        "sent": sent, "delivered": delivered, "throughput": throughput,
        "lat_n": len(lat), "p50": statistics.median(lat) if lat else float("nan"),
        "p99": lat[int(len(lat) * 0.99) - 1] if lat else float("nan"), "max": lat[-1] if lat else float("nan"),
    }


MEMORY_SNIPPET = r"""
import asyncio, resource, sys
sys.path.insert(0, {root!r})
from cstapopup.csta.client import CstaClient, ClientOptions
async def main():
    c = CstaClient("127.0.0.1", {port}, options=ClientOptions(keepalive_interval=60))
    await c.connect()
    for d in range(1000, 1500):
        await c.monitor_start(str(d))
    assert sum(h.active for h in c.monitors) == 500
    with open("/proc/self/status") as fh:
        rss = next(int(l.split()[1]) for l in fh if l.startswith("VmRSS"))
    await c.close()
    print(rss)
asyncio.run(main())
"""


async def memory_with_500_monitors() -> float:
    server = SwitchServer(port=0, devices="1000-1499")
    await server.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", MEMORY_SNIPPET.format(root=str(ROOT), port=server.port),
            stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        return int(out.decode().strip()) / 1024
    finally:
        await server.stop()


# Flood: nothing lost between the socket and the consumer ----------------------------------


def flood_pbx_process(port_q: mp.Queue, cmd_q: mp.Queue, count: int) -> None:
    """The fake PBX in its own process: it encodes `count` events once, then for each "flood"
    command writes them to the newest link as fast as TCP takes them."""

    async def main() -> None:
        pbx = FakePbx()
        await pbx.start()
        frames = event_frames(call_events(b"\x00\x01", count))
        port_q.put(pbx.port)
        loop = asyncio.get_running_loop()
        while True:
            cmd = await loop.run_in_executor(None, cmd_q.get)
            if cmd[0] == "stop":
                break
            link = await pbx.wait_link(cmd[1], 30)
            await link.wait_monitor("100", 30)
            seconds = await link.flood(frames)
            port_q.put(("flooded", len(frames), seconds))
        await pbx.stop()

    asyncio.run(main())


async def flood_client(port: int, cmd_q: mp.Queue, res_q: mp.Queue, link_no: int,
                       record: bool) -> dict:
    """One real client, one consumer of events(); the PBX floods; what arrived, how fast."""
    client = CstaClient("127.0.0.1", port, options=ClientOptions(keepalive_interval=60,
                                                                 snapshot_monitors=False))
    recorder = recording = None
    tmp = tempfile.TemporaryDirectory()
    if record:
        # As `monitor --record` records: grouped commits, driven by its timer.
        from cstapopup.commands.recording import Recording

        recording = Recording.open(str(Path(tmp.name) / "history.sqlite"), ["100"],
                                   snapshots=False, err=sys.stderr)
        recorder = recording.recorder
        recording.start()
    from cstapopup.csta.client import MonitorEvent

    got = {"n": 0, "first": 0.0, "last": 0.0}
    done = asyncio.Event()
    expected = {"n": None}

    async def consume() -> None:
        async for item in client.events():
            if isinstance(item, MonitorEvent):
                if got["n"] == 0:
                    got["first"] = time.perf_counter()
                got["n"] += 1
                got["last"] = time.perf_counter()
                if recorder is not None:
                    recorder.feed(item.device, item.event)
                if expected["n"] is not None and got["n"] >= expected["n"]:
                    done.set()

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await client.connect()
    await client.monitor_start("100")
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    cmd_q.put(("flood", link_no))
    _, sent, write_seconds = await loop.run_in_executor(None, res_q.get)
    expected["n"] = sent
    if got["n"] >= sent:
        done.set()
    # Everything sent must arrive; a bound only so that a loss shows as a figure, not a hang.
    # Nothing can still be on its way after this long without a new event.
    while not done.is_set():
        before = got["n"]
        try:
            await asyncio.wait_for(done.wait(), 5.0)
        except TimeoutError:
            if got["n"] == before:
                break
    elapsed = (got["last"] or time.perf_counter()) - t0
    counters = client.counters
    await client.close()
    consumer.cancel()
    history = ""
    if recording is not None:
        health = await recording.close()
        history = f"; history: {health.lost} calls lost"
    tmp.cleanup()
    return {"sent": sent, "received": got["n"], "elapsed": elapsed, "rate": got["n"] / elapsed,
            "pauses": counters.read_pauses, "paused": counters.paused_seconds,
            "skipped": counters.callbacks_skipped, "write_seconds": write_seconds,
            "history": history}


def flood_benchmark(count: int) -> list[tuple[str, dict]]:
    ctx = mp.get_context("spawn")
    port_q: mp.Queue = ctx.Queue()
    cmd_q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=flood_pbx_process, args=(port_q, cmd_q, count), daemon=True)
    proc.start()
    port = port_q.get(timeout=600)
    results = []
    try:
        for link_no, (label, record) in enumerate(
                [("plain consumer", False), ("recording consumer (tracker + store)", True)], 1):
            results.append((label, asyncio.run(flood_client(port, cmd_q, port_q, link_no,
                                                            record))))
    finally:
        cmd_q.put(("stop",))
        proc.join(10)
    return results


# The first handshake of a fresh process ---------------------------------------------------

HANDSHAKE_SNIPPET = r"""
import sys
sys.argv = ["cstapopup", "monitor", "--port", sys.argv[1], "-d", "100", "--once"]
from cstapopup import cli
sys.exit(cli.main(sys.argv[1:]))
"""


async def first_handshakes(runs: int) -> dict:
    """Fresh `cstapopup monitor` processes against a fake PBX on loopback, timed at the PBX:
    accept -> first byte of the AARQ, accept -> first MonitorStart."""
    first_byte: list[float] = []
    monitor_start: list[float] = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # The fake PBX decodes in this process: its spec is compiled now, not during the first
    # handshake (a PBX is up before a client comes).
    codec.spec()
    async with FakePbx() as pbx:
        for i in range(runs):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", HANDSHAKE_SNIPPET, str(pbx.port),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env)
            link = await pbx.wait_link(i + 1, 60)
            await link.wait(lambda: link.first_monitor_start_at is not None, 60)
            first_byte.append((link.first_byte_at - link.accepted_at) * 1000)
            monitor_start.append((link.first_monitor_start_at - link.accepted_at) * 1000)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    return {"first_byte": first_byte, "monitor_start": monitor_start}


# Finding an event's monitors -----------------------------------------------------------------


def monitor_lookup(monitors: int = 500, rounds: int = 200_000) -> float:
    """Microseconds to find the monitor of an event among `monitors` active ones (the
    cross-ref index; it used to be a scan of every monitor per event)."""
    import timeit

    from cstapopup.csta.client import MonitorHandle

    client = CstaClient("127.0.0.1", 1)
    events = []
    for i in range(monitors):
        handle = MonitorHandle(str(1000 + i))
        client.monitors.append(handle)
        client._activate(handle, (i + 1).to_bytes(2, "big"))
        events.append(ConnectionClearedEvent(
            cross_ref_id=(i + 1).to_bytes(2, "big"),
            connection=ConnectionId(b"\x00\x01", DeviceId.of(str(1000 + i)))))
    picks = [events[(i * 7919) % monitors] for i in range(1024)]
    find = client._monitors_for
    seconds = timeit.timeit(lambda: [find(e) for e in picks], number=rounds // len(picks))
    return seconds / (rounds // len(picks) * len(picks)) * 1e6


def _spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f} ms, range {min(values):.2f}-"
            f"{max(values):.2f} ms")


# --- tracked mode: decode -> tracker -> store ---------------------------------------------------

TRACKED_DEVICES = [str(d) for d in range(100, 150)]


def tracked_workload(n_calls: int, seed: int) -> tuple[list[tuple[bytes, object]], dict, int]:
    """(frames as (APDU bytes, receive time), cross-ref id -> device, calls made) for about
    `n_calls` calls of the simulator's demo traffic (callers: the demo phone book's numbers 7
    times in 10, made-up ones otherwise), every event as HiPath sends it to each monitor."""
    from datetime import UTC, datetime, timedelta

    from cstapopup import resources
    from cstapopup.csta.switch.demo import DemoTraffic, NumberSource, load_phonebook
    from cstapopup.csta.switch.model import SwitchModel
    from cstapopup.csta.switch.traffic import Scheduler, Traffic

    pbx_start = datetime(2026, 3, 2, 8, 0, 0)           # the PBX's naive local clock
    utc_start = datetime(2026, 3, 2, 7, 0, 0, tzinfo=UTC)
    scheduler = Scheduler(start=pbx_start)
    notes: list = []
    model = SwitchModel(TRACKED_DEVICES, clock=scheduler.now, instance_id=seed,
                        listener=lambda step: notes.extend(step.notifications))
    records: list = []
    model.listeners.append(lambda step: records.extend(step.records))
    book = NumberSource(load_phonebook(resources.demo_phonebooks()))
    demo = DemoTraffic(Traffic(model, scheduler), rate=40, seed=seed, numbers=book)
    demo.start(0.0)
    while demo.started < n_calls:
        scheduler.advance(60)
    demo.stop()
    scheduler.run_until_idle()
    xref = {d: (0x10000 + i).to_bytes(4, "big") for i, d in enumerate(TRACKED_DEVICES)}
    frames = []
    for i, note in enumerate(notes):
        event = dataclasses.replace(note.event, cross_ref_id=xref[note.device])
        at = utc_start + (note.event.timestamp - pbx_start) + timedelta(microseconds=i)
        frames.append((codec.encode_apdu(codec.EventReport(i % 30000 + 1, event)), at))
    calls = sum(1 for r in records if not r.consultation)
    return frames, {v: k for k, v in xref.items()}, calls


def tracked_recorder(folder: Path, history: int, seed: int):
    """A recorder as `monitor --record` opens it, over a history of `history` older calls."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from history import generate  # the history benchmark's realistic calls

    from cstapopup.calls.phonebook import Phonebook
    from cstapopup.calls.recorder import COMMIT_DELAY, Recorder
    from cstapopup.calls.store import HistoryStore
    from cstapopup import resources

    db = folder / "history.sqlite3"
    if history:
        with HistoryStore(db) as store:
            store.upsert_many(generate(history, seed=seed))
    books = resources.demo_phonebooks()
    recorder = Recorder.open(db, TRACKED_DEVICES, commit_delay=COMMIT_DELAY)
    # Recorder.open loads the phone book in a worker on a running loop; this benchmark has
    # none, so the same files are read here, at once, before the clock starts.
    recorder.phonebook = Phonebook(books, recorder.plan)
    return recorder


def tracked_throughput(recorder, frames, dev_of) -> tuple[float, list[float]]:
    """Tracked events/s on one core, and µs per event in each quarter of the run."""
    from cstapopup.calls.recorder import FLUSH_INTERVAL

    quarter = max(1, len(frames) // 4)
    marks = []
    next_tick = time.monotonic() + FLUSH_INTERVAL
    c0 = time.process_time()
    for i, (data, at) in enumerate(frames):
        event = codec.decode_apdu(data).event
        recorder.feed(dev_of[event.cross_ref_id], event, at)
        if i % 64 == 0 and time.monotonic() >= next_tick:   # the owner's timer
            recorder.flush_due()
            next_tick = time.monotonic() + FLUSH_INTERVAL
        if (i + 1) % quarter == 0:
            marks.append(time.process_time())
    recorder.flush()
    c1 = time.process_time()
    per_quarter, prev = [], c0
    for m in marks[:4]:
        per_quarter.append((m - prev) / quarter * 1e6)
        prev = m
    return len(frames) / (c1 - c0), per_quarter


def tracked_latency(recorder, frames, dev_of, rate: float) -> tuple[list[float], list[float]]:
    """Latency (ms) of each event fed at `rate` events/s: due time -> the recorder returned;
    and the CPU time (ms) of the process over the same span (what the scheduler gave it: a
    latency far above its CPU time is time spent waiting for a core)."""
    from cstapopup.calls.recorder import FLUSH_INTERVAL

    lat, cpu = [], []
    start = time.perf_counter() + 0.05
    next_tick = start + FLUSH_INTERVAL
    for i, (data, at) in enumerate(frames):
        due = start + i / rate
        while True:
            now = time.perf_counter()
            if now >= due:
                break
            if now >= next_tick:   # the timer fires in the gaps, as in the app
                recorder.flush_due()
                next_tick += FLUSH_INTERVAL
                continue
            time.sleep(min(due, next_tick) - now)
        c0 = time.process_time()
        event = codec.decode_apdu(data).event
        recorder.feed(dev_of[event.cross_ref_id], event, at)
        lat.append((time.perf_counter() - due) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    recorder.flush()
    return lat, cpu


def tracked_main(args: argparse.Namespace) -> None:
    t = time.perf_counter()
    frames, dev_of, made = tracked_workload(args.calls, args.seed)
    n_paced = int(200 * args.paced_seconds)
    paced, dev_paced, _ = tracked_workload(n_paced // 3 + 50, args.seed + 1)
    print(f"workload: {made:,} distinct calls (consultations of transfers not counted), "
          f"{len(frames):,} events at {len(TRACKED_DEVICES)} monitored devices (made in "
          f"{time.perf_counter() - t:.1f} s)")
    with tempfile.TemporaryDirectory(prefix="cstapopup-tracked-") as tmp:
        folder = Path(tmp)
        recorder = tracked_recorder(folder, args.history, args.seed)
        history_before = recorder.store.count()
        # The workload (every frame of every call, held at once) is the benchmark's, not the
        # app's: kept out of the garbage collector's walks, which it would slow down.
        gc.collect()
        gc.freeze()
        rate, quarters = tracked_throughput(recorder, frames, dev_of)
        rows = recorder.store.count() - history_before
        print(f"tracked events (decode -> tracker -> store), history of {history_before:,} "
              f"calls: {rate:,.0f} events/s on one core ({1e6 / rate:.0f} µs each; target "
              f">= 5,000/s)")
        print("  µs per event in each quarter of the run: "
              + ", ".join(f"{q:.0f}" for q in quarters))
        print(f"  {rows:,} rows written; health: {recorder.health.message or 'ok'}")
        lat, cpu = (sorted(x) for x in tracked_latency(recorder, paced[:n_paced], dev_paced,
                                                       200.0))
        p99 = int(len(lat) * 0.99) - 1
        print(f"latency per tracked event at 200 events/s over {len(lat):,} events: "
              f"p50 {statistics.median(lat):.2f} ms, p99 {lat[p99]:.2f} ms, max {lat[-1]:.2f} ms "
              f"(target p99 < 5 ms); the event's own CPU time: p50 "
              f"{statistics.median(cpu):.2f} ms, p99 {cpu[p99]:.2f} ms, max {cpu[-1]:.2f} ms")
        health = recorder.close()
        from cstapopup.calls.store import HistoryStore

        with HistoryStore(folder / "history.sqlite3", readonly=True) as store:
            stuck = len(store.unfinished())
        print(f"after close: {stuck} rows in progress; lost {health.lost}")


WIRE_PARTS = ("throughput", "memory", "flood", "handshake", "lookup")
PARTS = (*WIRE_PARTS, "tracked")


WIRE_PARTS = ("throughput", "memory", "flood", "handshake", "lookup")
PARTS = (*WIRE_PARTS, "tracked")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--flood", type=int, default=100_000, help="events in the flood")
    ap.add_argument("--handshake-runs", type=int, default=15)
    ap.add_argument("--only", default=None,
                    help="comma-separated parts to run, of " + ",".join(PARTS)
                    + " (default: " + ",".join(WIRE_PARTS) + ")")
    ap.add_argument("--mode", choices=("wire", "tracked"), default=None,
                    help="wire: the wire parts (the default); tracked: the same as "
                    "--only tracked")
    ap.add_argument("--calls", type=int, default=20_000, help="tracked: distinct calls")
    ap.add_argument("--history", type=int, default=100_000,
                    help="tracked: calls already in the history")
    ap.add_argument("--paced-seconds", type=float, default=20.0,
                    help="tracked: seconds of paced events for the latency figure")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.mode is not None and args.only is not None:
        ap.error("--mode and --only pick the same thing: give one of them")
    if args.mode == "tracked":
        parts = {"tracked"}
    elif args.only is None:
        parts = set(WIRE_PARTS)
    else:
        parts = {p.strip() for p in args.only.split(",") if p.strip()}
        unknown = parts - set(PARTS)
        if unknown:
            ap.error(f"--only: unknown parts {', '.join(sorted(unknown))} (of {', '.join(PARTS)})")
    if parts & {"throughput", "memory"}:
        throughput_and_memory(args)
    if "flood" in parts:
        for label, r in flood_benchmark(args.flood):
            print(f"flood, {label}: {r['received']:,} of {r['sent']:,} events received, "
                  f"{r['sent'] - r['received']:,} lost (target 0), {r['rate']:,.0f} events/s; "
                  f"reading paused {r['pauses']} times ({r['paused']:.1f} s), "
                  f"{r['skipped']} callbacks skipped; the PBX's writes took "
                  f"{r['write_seconds']:.1f} s" + r.get("history", ""))
    if "lookup" in parts:
        print(f"monitors of an event among 500 active monitors: {monitor_lookup():.2f} us "
              "per event (cross-ref index)")
    if "handshake" in parts:
        h = asyncio.run(first_handshakes(args.handshake_runs))
        print(f"first handshake of a fresh `cstapopup monitor` over {args.handshake_runs} runs, "
              f"at the PBX: accept -> first AARQ byte {_spread(h['first_byte'])} "
              f"(target median < 5 ms); accept -> MonitorStart {_spread(h['monitor_start'])}")
    if "tracked" in parts:
        tracked_main(args)


def throughput_and_memory(args: argparse.Namespace) -> None:
    ctx = mp.get_context("spawn")
    port_q: mp.Queue = ctx.Queue()
    cmd_q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=switch_process, args=(port_q, cmd_q, "100-103"), daemon=True)
    proc.start()
    port = port_q.get(timeout=60)
    try:
        result = asyncio.run(client_side(port, cmd_q, port_q, args.seconds))
    finally:
        cmd_q.put(("stop",))
        proc.join(10)
    rss = asyncio.run(memory_with_500_monitors())

    print(f"events delivered to callbacks: {result['throughput']:10,.0f} events/s "
          f"({result['delivered']:,} of {result['sent']:,} sent; target >= 5,000)")
    print(f"latency switch write -> callback at 200 events/s over {result['lat_n']} events: "
          f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, max {result['max']:.2f} ms (target p99 < 5 ms)")
    print(f"headless client RSS with 500 monitored devices: {rss:.1f} MB (target < 80 MB)")


if __name__ == "__main__":
    main()
