"""Soak: the recording client against a busy simulated PBX through a faulty network, compared
call by call with what the simulator did.

Two processes.  This one (the harness) runs the simulator (`SwitchServer`, `--demo` traffic
at a high rate, devices 100-149) and a `FaultProxy` in front of it, stops and restarts the
simulator now and then (same port; its calls in progress die with it), and applies a seeded
fault schedule to the proxy: splits and coalescing of the byte stream all the time, and now
and then a stall (some longer than the client's dead-peer limit), a reset (RST) or a cut
half-way through a frame.  The other process is what is measured:

- `--mode client` (default): `CstaClient` + `Recorder` into a real SQLite file, monitoring
  the 50 devices, as `cstapopup monitor --record` does;
- `--mode app`: the desktop app (`cstapopup.ui.controller.AppController`, Qt offscreen) with
  a settings file pointing at the proxy; it also reports every popup it shows.

It reports its link state changes the moment its client publishes them (the client's
LinkStateChanged, through `client.on("link")`), when all its monitors are active again after
each reconnect, its resident memory (RSS) when asked, and when it has recorded the final
"sentinel" call.  Both processes read the same monotonic clock (CLOCK_MONOTONIC on Linux).

At the end the harness stops the traffic, lets every call end, makes one last call (the
sentinel: once it is recorded, everything sent before it has been read), stops the child and
compares its history database with the simulator's ground truth.

Which calls "overlapped a fault" (the rule, stated once):

  A fault window is any of
    - the start: from the simulator's start to the moment the child monitored every device;
    - a client link loss: from the moment the client reported the link down to the moment
      it reported every monitor active again (not just "up": until its MonitorStart results
      are in, events of the devices not yet re-monitored are not sent);
    - a proxy stall: from when it began to when it ended;
    - a proxy reset or mid-frame cut: the moment it was applied (the link loss it causes is
      a window of its own);
    - a simulator outage: from its stop to its restart (the client's link loss follows).
  Each window is widened by --margin seconds on both sides, for events that were already on
  their way (in the proxy's or the kernel's buffers) when a link broke.
  A call's life is from the simulator's first step of it to its last (or to the stop of the
  simulator that had it).  A call overlapped a fault if its life intersects a widened window.

What must hold:
  - calls clear of any fault: exactly one history row each, with the simulator's outcome,
    direction, remote party and answering / transfer / diversion target, and a known end
    (lost, duplicated and wrong outcome must all be 0); consultation calls merged into a
    transfer or conference have no row;
  - calls that overlapped a fault: either exactly one row with an honest "end unknown" (or
    outcome "unknown"), or one complete row that is right, or no row at all if the whole call
    fell inside a widened window (counted apart as "fell into the gap"); never a complete row
    with a wrong outcome, never two rows, never a row left "in progress" after everything
    ended;
  - calls lost in a simulator restart (no ground truth: they never ended) have no row or an
    honest one;
  - no row that belongs to no call; every link loss ends with all monitors restored;
  - resident memory of the child grows less than 10 % from the end of the warm-up (default
    30 % of the run, at most 180 s: the tracker's memory of the last 1000 calls and SQLite's
    page cache fill first) to the end of the traffic; a figure a minute is printed too;
  - (app) a popup for every call that rang at a monitored device and was clear of faults.
Exit status 0 when all hold, 1 when one does not, 2 for bad options, 3 when the app mode is
not available.  Every figure printed is measured in this run.

The soak found three defects of the call tracker around link faults (busy calls lost after a
PBX restart; calls continued after a link loss given an outcome though part of them went
unseen; calls under way before monitoring given a wrong row or none); all are fixed, and any
such failure now fails the run.  --dump keeps every event the child read, the windows and
each call's life, truth and rows in the data folder, for a closer look.

Run:   .venv/bin/python benchmarks/soak.py [--seconds 600] [--mode client|app] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The sentinel call's caller: a number the demo traffic never makes up (it has no area code).
SENTINEL_NUMBER = "0999000999"
#: Generous bounds for waits that normally take milliseconds (a loaded 2-core machine).
STEP_TIMEOUT = 60.0
#: Seconds between RSS samples of the child (three a minute: enough for a slope).
SAMPLE_EVERY = 20.0

log = logging.getLogger("soak")


def rss_kb() -> int | None:
    """This process's resident memory (kB) now; None where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def emit(**record: Any) -> None:
    """One JSON line to the harness (the child's only way of talking)."""
    record.setdefault("t", time.monotonic())
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def device_list(text: str) -> list[str]:
    from cstapopup.csta.switch.model import parse_device_list

    return parse_device_list(text)


# The child: the client and its recorder ----------------------------------------------------------


def client_options(args: argparse.Namespace) -> Any:
    from cstapopup.csta.client import ClientOptions

    # A dead-peer limit of keepalive_interval + keepalive_timeout = 2 s: the longer stalls
    # of the schedule are noticed as dead links, the shorter ones only delay.
    return ClientOptions(keepalive_interval=1.0, keepalive_timeout=1.0, backoff_initial=0.2,
                         backoff_max=2.0, connect_timeout=5.0, request_timeout=10.0)


class ChildReporter:
    """What both child modes share: link states, monitors restored, commands from stdin."""

    def __init__(self) -> None:
        self._watch: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()

    def link_changed(self, state: str, reason: str, monitors: Callable[[], list[Any]]) -> None:
        emit(kind="link", state=state, reason=reason)
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if state == "up":
            self._watch = asyncio.ensure_future(self._restored(monitors))

    async def _restored(self, monitors: Callable[[], list[Any]]) -> None:
        # The client has no "all monitors re-established" notification; its handles flip to
        # active as each MonitorStart result is read.  Checked every 5 ms, for at most 60 s
        # (a link loss cancels the watch).
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            handles = monitors()
            if handles and all(h.active for h in handles):
                emit(kind="restored", monitors=len(handles))
                return
            await asyncio.sleep(0.005)
        emit(kind="not_restored", active=sum(h.active for h in monitors()))

    async def commands(self, on_stop: Callable[[], Any]) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            word = line.decode().strip()
            if word == "rss":
                emit(kind="rss", kb=rss_kb())
            elif word == "stop":
                break
        await on_stop()
        self.stop.set()


async def child_client(args: argparse.Namespace) -> int:
    from cstapopup.commands.recording import Recording
    from cstapopup.csta.client import CstaClient, LinkStateChanged, MonitorEvent, MonitorSnapshot

    devices = device_list(args.devices)
    # As `monitor --record` records: grouped commits driven by its timer, health on stderr.
    recording = Recording.open(args.db, devices, snapshots=True, err=sys.stderr)
    recorder = recording.recorder
    client = CstaClient("127.0.0.1", args.port, options=client_options(args))
    reporter = ChildReporter()
    client.on("link", lambda ch: reporter.link_changed(ch.state, ch.reason,
                                                       lambda: client.monitors))
    sentinel_seen = False

    trace = open(Path(args.db).parent / "events.jsonl", "w") if args.dump else None  # noqa: SIM115

    async def consume() -> None:
        nonlocal sentinel_seen
        async for item in client.events():
            if trace is not None:
                what = (item.event.to_dict() if isinstance(item, MonitorEvent)
                        else {"snapshot": None if item.calls is None else [
                            {"call_id": c.call_id.hex() if c.call_id else None,
                             "state": c.state} for c in item.calls]}
                        if isinstance(item, MonitorSnapshot)
                        else {"link": item.state, "reason": item.reason})
                trace.write(json.dumps({"t": time.monotonic(),
                                        "device": getattr(item, "device", None), **what},
                                       default=str) + "\n")
            if isinstance(item, MonitorEvent):
                changes = recorder.feed(item.device, item.event)
                if not sentinel_seen:
                    for call in changes.calls:
                        if call.remote_number == SENTINEL_NUMBER and call.ended_at is not None:
                            sentinel_seen = True
                            emit(kind="sentinel", key=call.key)
            elif isinstance(item, MonitorSnapshot):
                recorder.snapshot(item.device, item.calls)
            elif isinstance(item, LinkStateChanged) and item.state == "down":
                recorder.link_lost()

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)  # subscribed before the first state change
    recording.start()
    emit(kind="rss", kb=rss_kb(), note="before connecting")
    await client.connect()
    for d in devices:
        await client.monitor_start(d)
    emit(kind="ready", monitors=len(client.monitors), rss=rss_kb())

    async def stop() -> None:
        emit(kind="closing", reconnects=client.reconnects)
        await asyncio.wait_for(client.close(), 10)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await recording.close()
        if trace is not None:
            trace.close()

    await reporter.commands(stop)
    emit(kind="closed")
    return 0


# The child: the desktop app ---------------------------------------------------------------------


def child_app(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        import qasync

        from cstapopup.ui.controller import AppController, AppOptions
    except ImportError as exc:
        emit(kind="unavailable", reason=f"{type(exc).__name__}: {exc}")
        return 3
    from PySide6.QtWidgets import QApplication

    from cstapopup.settings import PASSWORD_STORAGE_PLAINTEXT, Settings

    devices = device_list(args.devices)
    folder = Path(args.db).parent
    settings = Settings(folder / "config.toml")
    settings.update({"pbx.host": "127.0.0.1", "pbx.port": args.port, "pbx.user": "AMHOST",
                     "pbx.password_storage": PASSWORD_STORAGE_PLAINTEXT,
                     "devices.monitor": devices, "popup.sound": False,
                     "app.do_not_disturb": False, "phonebook.files": []})
    settings.plaintext_password = "77777"
    settings.save()
    from PySide6.QtCore import qInstallMessageHandler

    # Qt's notes ("This plugin does not support raise()" on offscreen) go to the log at DEBUG.
    qt_log = logging.getLogger("cstapopup.qt")
    qInstallMessageHandler(lambda kind, context, message: qt_log.debug("%s", message))
    app = QApplication.instance() or QApplication(["cstapopup-soak"])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(
        AppOptions(settings_path=folder / "config.toml", data_dir=folder,
                   client_options=client_options(args), popup_close_after=0.2,
                   show_window=False),
        tray_available=False, first_run_prompt=lambda c: None,
        password_prompt=lambda c, done: done(None))
    reporter = ChildReporter()
    sentinel_seen = False

    def popup_shown(view: Any, popup: Any) -> None:
        emit(kind="popup", key=view.key, device=view.ringing_device)

    def call_updated(call: Any) -> None:
        nonlocal sentinel_seen
        if not sentinel_seen and call.remote_number == SENTINEL_NUMBER and call.ended_at:
            sentinel_seen = True
            emit(kind="sentinel", key=call.key)

    controller.popup_shown_hooks.append(popup_shown)
    controller.call_updated.connect(call_updated)

    async def run() -> int:
        await controller.start()
        link = controller.desk.link
        if link is None:
            emit(kind="unavailable", reason="the app started no PBX link")
            return 3
        monitors = lambda: link.client.monitors  # noqa: E731
        link.client.on("link", lambda ch: reporter.link_changed(ch.state, ch.reason, monitors))
        deadline = time.monotonic() + STEP_TIMEOUT
        while not (len(link.client.monitors) == len(devices)
                   and all(h.active for h in link.client.monitors)):
            if time.monotonic() > deadline:
                emit(kind="unavailable", reason="the app did not monitor every device")
                return 3
            await asyncio.sleep(0.01)
        emit(kind="ready", monitors=len(link.client.monitors), rss=rss_kb())

        async def stop() -> None:
            emit(kind="closing", reconnects=link.client.reconnects)
            await asyncio.wait_for(controller.shutdown(), 15)

        await reporter.commands(stop)
        emit(kind="closed")
        return 0

    with loop:
        return loop.run_until_complete(run())


# The harness ------------------------------------------------------------------------------------


@dataclass
class CallLife:
    """What the harness knows about one call of the simulator."""

    gcid: str
    instance: int
    start: float
    end: float | None = None
    record: Any = None  # the ground truth (CallRecord) once it ended
    killed: bool = False  # died with its simulator
    rang_at: set[str] = field(default_factory=set)


class Truth:
    """Every call of every simulator instance, with its life on the monotonic clock."""

    def __init__(self) -> None:
        self.calls: dict[str, CallLife] = {}
        self.instance = 0
        self.events_sent = 0

    def attach(self, server: Any, instance: int) -> None:
        self.instance = instance
        model = server.model

        def on_step(step: Any) -> None:
            now = time.monotonic()
            for call in [step.call, *model.calls.values()]:
                if call is not None:
                    self._life(call.global_call_id, now)
            for call, device in step.ringing:
                self._life(call.global_call_id, now).rang_at.add(device)

        model.listeners.append(on_step)
        server._record_listeners.append(self._ended)

    def _life(self, gcid_bytes: bytes, now: float) -> CallLife:
        gcid = gcid_bytes.hex()
        life = self.calls.get(gcid)
        if life is None:
            life = self.calls[gcid] = CallLife(gcid, self.instance, now)
        return life

    def _ended(self, record: Any) -> None:
        now = time.monotonic()
        life = self._life(record.global_call_id, now)
        life.end, life.record = now, record

    def killed(self, server: Any, at: float) -> int:
        n = 0
        for call in server.model.calls.values():
            life = self._life(call.global_call_id, at)
            if life.record is None:
                life.killed, life.end = True, at
                n += 1
        return n


class Child:
    """The measured process and its reports."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.reports: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            try:
                self.reports.append(json.loads(line))
            except ValueError:
                self.reports.append({"kind": "output", "text": line.decode(errors="replace")})
            self._changed.set()
        self.reports.append({"kind": "exit", "t": time.monotonic()})
        self._changed.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.reports if r.get("kind") == kind]

    async def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        async def loop() -> None:
            while not predicate():
                if self.of("exit") or self.of("unavailable"):
                    raise RuntimeError(f"the child ended while waiting for {what}: "
                                       f"{(self.of('unavailable') or [{}])[-1].get('reason', '')}")
                self._changed.clear()
                await self._changed.wait()
        try:
            await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}") from None

    def send(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word.encode() + b"\n")

    async def rss(self) -> int | None:
        n = len(self.of("rss"))
        self.send("rss")
        await self.wait(lambda: len(self.of("rss")) > n, 30, "the child's memory figure")
        return self.of("rss")[-1].get("kb")

    def linked(self) -> bool:
        """Up, with every monitor restored since."""
        last = [r for r in self.reports if r.get("kind") in ("link", "restored", "ready")]
        return bool(last) and last[-1]["kind"] in ("restored", "ready")


@dataclass
class Window:
    start: float
    end: float
    what: str


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.devices = device_list(args.devices)
        self.truth = Truth()
        self.server: Any = None
        self.proxy: Any = None
        self.port = 0
        self.instances = 0
        self.faults: list[tuple[float, Any]] = []  # (time applied, FaultAction)
        self.outages: list[tuple[float, float]] = []
        self.killed = 0
        self.rng = random.Random(args.seed)
        self.events_sent = 0

    # -- the simulator, the proxy, the child

    async def start_server(self) -> None:
        from datetime import datetime, timedelta

        from cstapopup.csta.switch.server import SwitchServer

        instance = self.instances
        self.instances += 1
        # The global call id's instance part is the clock's start second: a restart within
        # the same second would reuse ids, so each instance starts its clock apart.
        clock = datetime.now() + timedelta(seconds=instance * 3600)
        server = SwitchServer(
            port=self.port, devices=self.devices, demo=True, rate=self.args.rate,
            speed=self.args.speed, seed=self.args.seed * 1000 + instance, clock_start=clock,
            max_links=8)
        self.truth.attach(server, instance)
        for attempt in range(50):
            try:
                await server.start()
                break
            except OSError:  # the port is not free yet (bounded: 50 tries)
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        self.port = server.port
        self.server = server

    async def stop_server(self) -> None:
        server, self.server = self.server, None
        at = time.monotonic()
        self.events_sent += server.events_sent
        self.killed += self.truth.killed(server, at)
        await server.stop()

    async def restarts(self, times: list[tuple[float, float]], t0: float,
                       ending: asyncio.Event) -> None:
        """Stop the simulator at each (time, outage) and start it again after the outage;
        none is begun once `ending` is set."""
        for at, outage in times:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ending.wait(), max(0.0, t0 + at - time.monotonic()))
            if ending.is_set():
                return
            stopped = time.monotonic()
            await self.stop_server()
            await asyncio.sleep(outage)
            await self.start_server()
            self.outages.append((stopped, time.monotonic()))

    # -- the run

    async def run(self) -> int:
        from cstapopup.csta.testing.faultproxy import (
            BOTH,
            DirectionFaults,
            FaultProxy,
            FaultSchedule,
        )

        args = self.args
        harness = self

        class LoggedProxy(FaultProxy):
            def apply(self, action: Any) -> None:
                harness.faults.append((time.monotonic(), action))
                super().apply(action)

        work = Path(tempfile.mkdtemp(prefix="cstapopup-soak-"))
        db = work / "history.sqlite3"
        self.started_at = time.monotonic()
        await self.start_server()
        self.proxy = LoggedProxy(
            "127.0.0.1", self.port, seed=args.seed,
            up=DirectionFaults(split=True, max_chunk=16, coalesce=0.3),
            down=DirectionFaults(split=True, max_chunk=96, coalesce=0.3))
        await self.proxy.start()
        child_log = work / "child-stderr.log"
        with open(child_log, "wb") as err:
            env = {**os.environ, "CSTAPOPUP_DATA_DIR": str(work), "CSTAPOPUP_CONFIG_DIR": str(work)}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--role", args.mode,
                "--port", str(self.proxy.port), "--db", str(db), "--devices", args.devices,
                *(["--dump"] if args.dump else []),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                env=env)
        child = Child(proc)
        try:
            return await self._run(child, work, db, child_log, BOTH, FaultSchedule)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await self.proxy.stop()
            if self.server is not None:
                await self.stop_server()

    async def _run(self, child: Child, work: Path, db: Path, child_log: Path, BOTH: str,
                   FaultSchedule: Any) -> int:
        args = self.args
        try:
            await child.wait(lambda: bool(child.of("ready")), STEP_TIMEOUT, "the child to start")
        except RuntimeError as exc:
            if child.of("unavailable"):
                print(f"soak: mode {args.mode} not available: "
                      f"{child.of('unavailable')[-1].get('reason')}")
                return 3
            print(f"soak: {exc}; child log: {child_log}")
            print(child_log.read_text(errors="replace")[-3000:])
            return 1
        rss_first = child.of("ready")[0].get("rss")
        t0 = time.monotonic()
        print(f"soak: {args.seconds:g} s, mode {args.mode}, seed {args.seed}; demo traffic "
              f"{args.rate:g} calls per PBX minute at speed {args.speed:g} "
              f"(about {args.rate * args.speed / 60:.1f} calls/s), {len(self.devices)} devices "
              f"{args.devices}; data in {work}", flush=True)

        # Faults: a seeded schedule for the proxy, seeded restarts for the simulator.
        schedule = FaultSchedule.generate(
            args.seed, args.seconds,
            {"stall": 1 / args.stall_every, "reset": 1 / args.reset_every,
             "cut": 1 / args.cut_every},
            stall_duration=(0.05, args.max_stall))
        n_restarts = (args.restarts if args.restarts is not None
                      else max(1, int(args.seconds // 150)))
        restart_times = sorted(
            (args.seconds * (i + 1) / (n_restarts + 1) + self.rng.uniform(-3, 3),
             self.rng.uniform(0.3, 2.0)) for i in range(n_restarts))
        scheduled = self.proxy.run_schedule(schedule)
        ending = asyncio.Event()
        restarting = asyncio.ensure_future(self.restarts(restart_times, t0, ending))

        # The warm-up lets the bounded stores fill first: the tracker remembers the last
        # 1000 finished calls (about 100 s at 10 calls/s), SQLite's page cache grows to 2 MB.
        warmup = (args.warmup if args.warmup is not None
                  else min(180.0, max(10.0, args.seconds * 0.3)))
        series: list[tuple[float, int | None]] = []

        async def sample() -> None:
            with contextlib.suppress(RuntimeError):  # the child ended: reported below
                while True:
                    await asyncio.sleep(SAMPLE_EVERY)  # for the per-minute line and the slope
                    series.append((time.monotonic() - t0, await child.rss()))

        sampler = asyncio.ensure_future(sample())
        await asyncio.sleep(warmup)  # the run's own clock: nothing to wait for but time
        rss_start = await child.rss()
        await asyncio.sleep(max(0.0, t0 + args.seconds - time.monotonic()))
        rss_end = await child.rss()
        sampler.cancel()
        traffic_end = time.monotonic()

        # The end: no more faults, every call ends, the sentinel goes through.
        scheduled.cancel()
        ending.set()
        await asyncio.wait_for(restarting, STEP_TIMEOUT)  # an outage in progress ends first
        with contextlib.suppress(asyncio.CancelledError):
            await scheduled
        self.proxy.resume(BOTH)
        for link in list(self.proxy._links):  # a cut armed but not yet done
            for pipe in link.pipes.values():
                pipe.cut_armed = False
        quiet_from = time.monotonic()
        server = self.server
        assert server is not None and server.demo is not None
        server.demo.stop()
        await server.wait_for(lambda: not server.model.calls, timeout=180)
        sentinel_ok = await self._sentinel(child)
        rss_after = await child.rss()
        child.send("stop")
        with contextlib.suppress(RuntimeError):
            await child.wait(lambda: bool(child.of("exit")), STEP_TIMEOUT, "the child to end")
        code = await asyncio.wait_for(child.proc.wait(), STEP_TIMEOUT)
        await self.stop_server()

        return self.report(child, db, child_log, dict(
            rss_first=rss_first, rss_start=rss_start, rss_end=rss_end, rss_after=rss_after,
            warmup=warmup, traffic_end=traffic_end, quiet_from=quiet_from, t0=t0, series=series,
            sentinel_ok=sentinel_ok, child_code=code, schedule=schedule))

    async def _sentinel(self, child: Child) -> bool:
        """One last call; once the child has recorded it as ended, it has read everything
        the simulator sent before it (TCP keeps the order).  Retried if a link loss ate it."""
        for _ in range(3):
            try:
                await child.wait(child.linked, STEP_TIMEOUT, "the link to be up and monitored")
            except RuntimeError:
                return False
            server = self.server
            n = len(child.of("sentinel"))
            step = server.traffic.attempt(server.model.incoming_call, SENTINEL_NUMBER,
                                          self.devices[0])
            call = step.call
            server.traffic.finish(call)
            try:
                await child.wait(lambda: len(child.of("sentinel")) > n, 20, "the sentinel call")
                return True
            except RuntimeError:
                continue
        return False

    # -- the verdict

    def windows(self, child: Child, end: float) -> tuple[list[Window], list[float], list[str]]:
        """The fault windows (not yet widened), the link-loss-to-restored times, problems."""
        wins: list[Window] = []
        problems: list[str] = []
        # Calls under way before the child monitored every device were only partly seen.
        ready = child.of("ready")
        wins.append(Window(self.started_at, ready[0]["t"] if ready else end, "before monitoring"))
        for at, action in self.faults:
            if action.kind == "stall":
                wins.append(Window(at, at + (action.duration or 0.0), f"stall {action.direction}"))
            elif action.kind in ("reset", "cut"):
                wins.append(Window(at, at, action.kind))
        for stopped, started in self.outages:
            wins.append(Window(stopped, started, "simulator restart"))
        recoveries: list[float] = []
        down_at: float | None = None
        for r in child.reports:
            kind = r.get("kind")
            if kind == "link" and r.get("state") in ("down", "connecting") and down_at is None:
                if r.get("state") == "down":
                    down_at = r["t"]
            elif kind == "restored" and down_at is not None:
                wins.append(Window(down_at, r["t"], "link loss"))
                recoveries.append(r["t"] - down_at)
                down_at = None
            elif kind == "not_restored":
                problems.append("monitors not all restored within "
                                f"{STEP_TIMEOUT:g} s after a reconnect ({r.get('active')} active)")
        if down_at is not None:
            wins.append(Window(down_at, end, "link loss (never restored)"))
            problems.append("a link loss was never followed by all monitors restored")
        return wins, recoveries, problems

    def dump(self, folder: Path, wins: list[Window], child: Child,
             rows: dict[Any, list[Any]]) -> None:
        with open(folder / "windows.json", "w") as fh:
            json.dump([w.__dict__ for w in wins], fh, indent=0)
        with open(folder / "child.jsonl", "w") as fh:
            for r in child.reports:
                fh.write(json.dumps(r) + "\n")
        with open(folder / "calls.jsonl", "w") as fh:
            for gcid, life in self.truth.calls.items():
                fh.write(json.dumps({
                    "gcid": gcid, "instance": life.instance, "start": life.start, "end": life.end,
                    "killed": life.killed, "rang_at": sorted(life.rang_at),
                    "truth": life.record.to_dict() if life.record is not None else None,
                    "rows": [r.to_dict() for r in rows.get(gcid, [])]}, default=str) + "\n")

    def report(self, child: Child, db: Path, child_log: Path, m: dict[str, Any]) -> int:
        from cstapopup.calls.store import HistoryStore

        args = self.args
        margin = args.margin
        end = time.monotonic()
        wins, recoveries, problems = self.windows(child, end)
        widened = sorted((w.start - margin, w.end + margin) for w in wins)

        def overlapped(a: float, b: float) -> bool:
            return any(s <= b and a <= e for s, e in widened)

        def inside_gap(a: float, b: float) -> bool:
            """[a, b] lies within the union of the widened windows."""
            pos, covered = a, False
            for s, e in widened:  # in order of their start
                if s <= pos <= e:
                    pos, covered = max(pos, e), True
                if covered and pos >= b:
                    return True
            return False

        store = HistoryStore(db)
        rows: dict[str | None, list[Any]] = defaultdict(list)
        for call in store.iter_calls():
            parts = call.key.split(":")
            rows[parts[1] if parts[0] == "g" else None].append(call)
        store.close()
        all_rows = {k: list(v) for k, v in rows.items()}

        c = defaultdict(int)  # counters
        examples: dict[str, list[str]] = defaultdict(list)

        def bad(kind: str, text: str) -> None:
            c[kind] += 1
            if len(examples[kind]) < 5:
                examples[kind].append(text)

        consultation_cids = defaultdict(list)  # call id -> ends of merged consultations
        for life in self.truth.calls.values():
            if life.record is not None and life.record.consultation:
                consultation_cids[life.record.call_id].append(life.end)

        popups = child.of("popup")
        popup_gcids = defaultdict(int)
        for p in popups:
            key = p.get("key") or ""
            if key.startswith("g:"):
                popup_gcids[key.split(":")[1]] += 1

        for gcid, life in self.truth.calls.items():
            if life.end is None:
                bad("unfinished", f"{gcid}: neither ended nor killed")  # should not happen
                continue
            got = rows.pop(gcid, [])
            rec = life.record
            consultation = rec is not None and rec.consultation
            if not consultation:
                c["made"] += 1
                if rec is None:
                    c["killed"] += 1
            else:
                c["consultations"] += 1
            ov = overlapped(life.start, life.end)
            if got:
                c["recorded"] += 1
            if args.mode == "app" and life.rang_at and not consultation and rec is not None:
                if not ov:
                    c["should_pop"] += 1
                    if popup_gcids.get(gcid, 0) == 0:
                        bad("popup_missed", f"{gcid} rang at {sorted(life.rang_at)}, no popup")
            if len(got) > 1:
                bad("dup_overlap" if ov else "dup", f"{gcid}: {len(got)} rows")
                continue
            row = got[0] if got else None
            if row is not None and row.ended_at is None and not row.end_unknown:
                bad("stuck", f"{gcid}: row left in progress ({row.outcome.value})")
                continue
            if rec is None:  # killed with its simulator: no truth beyond "it never ended"
                if row is None:
                    c["gap"] += 1
                elif honest(row):
                    c["honest"] += 1
                else:
                    bad("wrong_overlap", f"{gcid} (lost in a restart): row says it ended "
                                         f"({row.outcome.value})")
                continue
            if consultation:
                if row is None:
                    continue
                if honest(row) and ov:
                    c["honest"] += 1
                else:
                    bad("wrong_overlap" if ov else "wrong", f"{gcid}: consultation call kept "
                                                            f"as a row ({row.outcome.value})")
                continue
            if not ov:
                c["clear"] += 1
                if row is None:
                    bad("lost", f"{gcid} ({rec.outcome}, {rec.direction}): no row")
                    continue
                diff = differences(rec, row)
                if diff:
                    bad("wrong", f"{gcid}: {diff}")
                else:
                    c["clear_ok"] += 1
                continue
            c["overlap"] += 1
            if row is None:
                if inside_gap(life.start, life.end):
                    c["gap"] += 1
                else:
                    bad("lost_overlap", f"{gcid} ({rec.outcome}): no row, though only part of "
                                        "it overlapped a fault")
            elif honest(row):
                c["honest"] += 1
            elif differences(rec, row):
                bad("wrong_overlap", f"{gcid}: {differences(rec, row)}")
            else:
                c["overlap_ok"] += 1
        for gcid, extra in rows.items():
            bad("phantom", f"{gcid}: {len(extra)} row(s) of no call ({extra[0].key})")
        if args.dump:
            self.dump(db.parent, wins, child, all_rows)

        # -- figures
        faults = self.proxy.counters
        kinds = defaultdict(int)
        long_stalls = 0
        for _, action in self.faults:
            kinds[action.kind] += 1
            if action.kind == "stall" and (action.duration or 0) > 2.0:
                long_stalls += 1
        downs = [r for r in child.reports if r.get("kind") == "link" and r.get("state") == "down"]
        closing = (child.of("closing") or [{}])[-1]
        log_text = child_log.read_text(errors="replace") if child_log.exists() else ""
        warnings = sum(1 for line in log_text.splitlines()
                       if " WARNING " in line or " ERROR " in line)

        def mb(kb: int | None) -> str:
            return "n/a" if kb is None else f"{kb / 1024:.1f} MB"

        growth = None
        if m["rss_start"] and m["rss_end"]:
            growth = (m["rss_end"] - m["rss_start"]) / m["rss_start"] * 100

        print(f"faults applied: {kinds['stall']} stalls ({long_stalls} longer than the client's "
              f"2 s dead-peer limit), {kinds['reset']} resets, {kinds['cut']} mid-frame cuts "
              f"({faults.cuts} happened), {len(self.outages)} simulator restarts; "
              f"{faults.splits} extra writes from splitting, {faults.coalesced} reads coalesced")
        print(f"events sent by the simulator: {self.events_sent}; link downs reported by the "
              f"child: {len(downs)}")
        print(f"calls made: {c['made']} (lost in simulator restarts: {c['killed']}; consultation "
              f"calls merged into transfers/conferences, not rows: {c['consultations']})")
        print(f"calls recorded: {c['recorded']}")
        print(f"calls clear of faults: {c['clear']}: right {c['clear_ok']}, lost {c['lost']}"
              f", duplicated {c['dup']}, wrong outcome {c['wrong']}")
        print(f"calls overlapping a fault (windows widened by {margin:g} s): {c['overlap']} "
              f"ended normally + {c['killed']} lost in restarts: end or outcome unknown "
              f"{c['honest']}, "
              f"complete and right {c['overlap_ok']}, fell into the gap (no row) {c['gap']}; "
              f"wrong outcome {c['wrong_overlap']}, duplicated "
              f"{c['dup_overlap']}, lost though partly clear {c['lost_overlap']}")
        print(f"rows of no call: {c['phantom']}; rows left in progress: {c['stuck']}")
        print(f"reconnects: {len(recoveries)} link losses restored (client.reconnects "
              f"{closing.get('reconnects', 'n/a')}); link loss -> monitors restored: longest "
              + (f"{max(recoveries):.2f} s, median {statistics.median(recoveries):.2f} s"
                 if recoveries else "n/a"))
        print(f"memory (child RSS): at start {mb(m['rss_first'])}, after the {m['warmup']:g} s "
              f"warm-up {mb(m['rss_start'])}, at the end of the traffic {mb(m['rss_end'])} "
              + (f"(growth {growth:+.1f} %, limit 10 %)" if growth is not None else "")
              + f", after the drain {mb(m['rss_after'])}")
        if m["series"]:
            per_minute = [kb for t, kb in m["series"] if round(t / SAMPLE_EVERY) % 3 == 0]
            print("memory (child RSS) each minute, MB: " + " ".join(
                f"{kb / 1024:.1f}" if kb else "n/a" for kb in per_minute))
            slope = rss_slope(m["series"], args.seconds)
            print("memory (child RSS) slope over the last third of the traffic: "
                  + (f"{slope:+.3f} MB/min" if slope is not None else "n/a (too few samples)"))
        if args.mode == "app":
            print(f"popups: {len(popups)} shown; calls that rang at a monitored device clear of "
                  f"faults: {c['should_pop']}, without a popup: {c['popup_missed']}")
        print(f"child: exit {m['child_code']}, {warnings} warnings/errors in its log"
              f" ({child_log})")

        failures = list(problems)
        for kind, label in [("lost", "calls lost"), ("dup", "calls duplicated"),
                            ("wrong", "wrong outcomes"), ("wrong_overlap", "wrong outcomes "
                            "(overlapping a fault)"), ("dup_overlap", "duplicated (overlapping)"),
                            ("lost_overlap", "lost though partly clear of faults"),
                            ("phantom", "rows of no call"), ("stuck", "rows left in progress"),
                            ("unfinished", "calls never ended"),
                            ("popup_missed", "popups missed")]:
            if c[kind]:
                failures.append(f"{c[kind]} {label}: " + "; ".join(examples[kind]))
        if growth is None:
            failures.append("memory not measured")
        elif growth >= 10:
            failures.append(f"memory grew {growth:.1f} %")
        if not m["sentinel_ok"]:
            failures.append("the final sentinel call was not recorded")
        if m["child_code"] != 0:
            failures.append(f"the child exited with {m['child_code']}")
        if not self.outages or not recoveries:
            failures.append("no simulator restart or no reconnect happened: nothing was proved")
        if c["clear_ok"] < 10:
            failures.append(f"only {c['clear_ok']} calls clear of faults: too few to mean much")
        if failures:
            print("result: FAIL")
            for f in failures:
                print(f"  - {f}")
            return 1
        print("result: PASS")
        return 0


def rss_slope(series: list[tuple[float, int | None]], seconds: float) -> float | None:
    """Least-squares slope (MB per minute) of the RSS samples in the last third of the run."""
    points = [(t / 60, kb / 1024) for t, kb in series if kb and t >= seconds * 2 / 3]
    if len(points) < 3:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else None


def honest(row: Any) -> bool:
    """A row that does not claim to know how its call went: its end is unknown, or its
    outcome is "unknown"."""
    return bool(row.end_unknown) or row.outcome.value == "unknown"


def differences(rec: Any, row: Any) -> str:
    """What the history row says differently from the ground truth ('' if nothing)."""
    got = (row.outcome.value, row.answered_by, row.transferred_to, row.diverted_to,
           row.direction.value)
    want = (rec.outcome, rec.answered_by, rec.transferred_to, rec.diverted_to, rec.direction)
    out = []
    if got != want:
        out.append(f"history {got} != truth {want}")
    if row.remote_kind != rec.remote_kind or (
            rec.remote_kind == "number" and row.remote_number != rec.remote_number):
        out.append(f"remote {row.remote_kind}/{row.remote_number} != "
                   f"{rec.remote_kind}/{rec.remote_number}")
    if row.ended_at is None or row.end_unknown:
        out.append("no end recorded")
    return "; ".join(out)


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="traffic time (default 600)")
    ap.add_argument("--mode", choices=("client", "app"), default="client")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--devices", default="100-149", help="simulator devices, all monitored")
    ap.add_argument("--rate", type=float, default=30.0, help="demo calls per PBX minute")
    ap.add_argument("--speed", type=float, default=20.0, help="PBX seconds per real second")
    ap.add_argument("--margin", type=float, default=0.5,
                    help="seconds each fault window is widened by (events in flight)")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before the first memory figure (default: 30 %% of the run, "
                    "10..180 s)")
    ap.add_argument("--stall-every", type=float, default=15.0, help="mean seconds between stalls")
    ap.add_argument("--max-stall", type=float, default=3.0, help="longest stall (seconds)")
    ap.add_argument("--reset-every", type=float, default=45.0, help="mean seconds between resets")
    ap.add_argument("--cut-every", type=float, default=45.0, help="mean seconds between cuts")
    ap.add_argument("--restarts", type=int, default=None,
                    help="simulator restarts (default: one per 150 s, at least one)")
    ap.add_argument("--dump", action="store_true",
                    help="keep diagnostics in the data folder: every event the child read, the "
                    "fault windows, each call's life, truth and rows")
    ap.add_argument("--role", choices=("harness", "client", "app"), default="harness",
                    help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--db", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.role == "client":
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return asyncio.run(child_client(args))
    if args.role == "app":
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return child_app(args)
    if args.seconds < 20 or args.rate <= 0 or args.speed <= 0 or args.margin < 0:
        print("soak: --seconds must be at least 20; --rate, --speed positive", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cstapopup.csta.switch").setLevel(logging.ERROR)  # it narrates every call
    return asyncio.run(Harness(args).run())


if __name__ == "__main__":
    sys.exit(main())
