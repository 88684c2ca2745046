"""The desktop app's figures: popup latency under load, start-up time, idle memory.

Prints
- popup latency: from the moment the client reads a Delivered frame from its socket (a
  timestamp taken on entry to the client's `ClientConnection.receive_data`, i.e. right after
  `reader.read()` returned those bytes) to the popup's showEvent, p50 / p99 / max, while the
  switch (in another process, as a PBX would be) sends background traffic of about 100
  events/s to the same client; every Delivered that opens a popup is a sample.  Everything
  between the two timestamps is the app's own path: decode, tracker, SQLite write, phone
  book lookup, widget construction, placement, show;
- start-up: process start to the tray icon shown (to the main window where there is no
  tray), measured by the parent from just before spawning `cstapopup --demo
  --startup-probe` to the wall-clock time the child prints at that moment (median of 5);
- idle RSS of `cstapopup --demo` (its simulated PBX included) after it ran for a while;
- a flood: the switch (another process) writes 50,000 Delivered events for distinct calls
  that never end (`--flood-ends`: each missed 50 calls later) at up to `--flood-rate` calls/s;
  the app's RSS, the calls it read and the events it handled, its top-level windows, the
  popups its desk follows and the calls its tracker holds live, every 2,500 calls and after.

Targets: popup p99 < 30 ms, start < 1.5 s, idle RSS < 150 MB, flood: RSS levels off.

Run: .venv/bin/python benchmarks/popup.py [--seconds 20] [--only flood]  (QT_QPA_PLATFORM=
offscreen unless a display is set; under Xvfb with a tray (trayer) the start-up figure is to
the tray icon)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEVICES = "100-120"
MONITORED = [str(d) for d in range(100, 121)]
#: Demo traffic that gives about 100 events/s at the client monitoring all 21 devices
#: (calibrated on this machine; the measured rate is printed).
TRAFFIC_RATE = 7.5      # calls per virtual minute ...
TRAFFIC_SPEED = 150.0   # ... at 150 virtual seconds per real second: ~19 calls/s


def _switch_process(port_queue, stop_event, rate: float, speed: float, seed: int) -> None:
    from cstapopup.csta.switch.server import SwitchServer

    async def run() -> None:
        server = SwitchServer(port=0, devices=DEVICES, demo=True, rate=rate, speed=speed,
                              seed=seed, max_links=2)
        await server.start()
        port_queue.put(server.port)
        while not stop_event.is_set():
            await asyncio.sleep(0.1)
        port_queue.put(server.events_sent)
        await server.stop()

    asyncio.run(run())


def popup_latency(seconds: float, rate: float, speed: float) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    work = Path(tempfile.mkdtemp(prefix="cstapopup-bench-"))
    os.environ["CSTAPOPUP_CONFIG_DIR"] = str(work)
    os.environ["CSTAPOPUP_DATA_DIR"] = str(work)
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

    import qasync
    from PySide6.QtWidgets import QApplication

    import cstapopup.csta.client as client_module
    import cstapopup.ui.popup as popup_module
    from cstapopup.csta.connection import ClientConnection, EventReceived
    from cstapopup.csta.events import DeliveredEvent
    from cstapopup.settings import Settings
    from cstapopup.ui.app import settle_memory
    from cstapopup.ui.controller import AppController, AppOptions

    read_at: dict[int, float] = {}
    received = {"events": 0}

    class TimedConnection(ClientConnection):
        def receive_data(self, data):   # the bytes were just read from the socket
            t = time.perf_counter()
            events = super().receive_data(data)
            for ev in events:
                if isinstance(ev, EventReceived):
                    received["events"] += 1
                    if isinstance(ev.event, DeliveredEvent):
                        read_at[id(ev.event)] = t
            return events

    class TimedPopup(popup_module.CallPopup):
        shown_at: float | None = None

        def showEvent(self, event):
            if self.shown_at is None:
                self.shown_at = time.perf_counter()
            super().showEvent(event)

    client_module.ClientConnection = TimedConnection
    popup_module.CallPopup = TimedPopup

    ctx = mp.get_context("spawn")
    port_queue, stop_event = ctx.Queue(), ctx.Event()
    switch = ctx.Process(target=_switch_process, args=(port_queue, stop_event, rate, speed, 5))
    switch.start()
    port = port_queue.get(timeout=30)

    settings = Settings(work / "config.toml")
    settings.update({"pbx.host": "127.0.0.1", "pbx.port": port, "devices.monitor": MONITORED,
                     "devices.own": "100"})
    settings.save()

    app = QApplication.instance() or QApplication(["cstapopup-bench"])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    samples: list[float] = []
    controller = AppController(AppOptions(settings_path=work / "config.toml", data_dir=work,
                                          show_window=False, popup_close_after=1.0),
                               tray_available=False)

    # The desk calls the popup hook from inside its event handler: `current` is the Delivered
    # event being handled (its read time, and when the handler got it).
    current: dict[str, float | None] = {"read": None, "enter": None}
    parts: list[tuple[float, float, float]] = []
    handle = controller.desk.on_event

    def timed_on_event(device, event) -> None:
        if isinstance(event, DeliveredEvent):
            current["read"] = read_at.pop(id(event), None)
            current["enter"] = time.perf_counter()
        try:
            handle(device, event)
        finally:
            current["read"] = current["enter"] = None

    controller.desk.on_event = timed_on_event   # the desk hands it to the link it opens

    def on_popup(view, popup) -> None:
        t_read, t_enter = current["read"], current["enter"]
        if t_read is not None and popup is not None and popup.shown_at is not None:
            samples.append((popup.shown_at - t_read) * 1000)
            if t_enter is not None:
                parts.append(((t_enter - t_read) * 1000, (popup.shown_at - t_enter) * 1000, 0.0))

    controller.popup_shown_hooks.append(on_popup)

    async def run() -> tuple[float, int]:
        await controller.start()
        settle_memory()                            # as cstapopup.ui.app.main does
        deadline = loop.time() + 15
        while controller.link_state[0] != "up":
            if loop.time() > deadline:
                raise RuntimeError(f"no link: {controller.link_state}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(2)                     # warm-up: first widgets, caches
        samples.clear()
        start_events, t0 = received["events"], time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - t0
        events = received["events"] - start_events
        await controller.shutdown()
        return elapsed, events

    try:
        with loop:
            elapsed, events = loop.run_until_complete(run())
    finally:
        stop_event.set()
        switch.join(10)
        if switch.is_alive():
            switch.terminate()
        asyncio.set_event_loop(None)
    samples.sort()
    waits = sorted(p[0] for p in parts)
    handling = sorted(p[1] for p in parts)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")

    return {"wait_p50": pct(waits, 0.5), "wait_p99": pct(waits, 0.99),
            "handle_p50": pct(handling, 0.5), "handle_p99": pct(handling, 0.99),
            "n": len(samples), "events_per_s": events / elapsed,
            "p50": statistics.median(samples) if samples else float("nan"),
            "p99": pct(samples, 0.99),
            "max": samples[-1] if samples else float("nan"),
            "platform": os.environ["QT_QPA_PLATFORM"]}


# --- a flood of calls that never end ---------------------------------------------------------

FLOOD_DEVICES = [str(d) for d in range(100, 121)]


def _flood_switch(port_queue, command_queue, done_queue) -> None:
    """The PBX side of the flood: a switch without traffic that, on command, writes `n`
    Delivered events for `n` distinct calls (each at one monitored device) to the app's link,
    paced and without overrunning its socket buffer.  With `ends`, each call is also given
    up by its caller (two ConnectionCleared, as for a missed call) 50 calls later; without,
    none ever ends."""
    import random

    from cstapopup.csta import codec, framing
    from cstapopup.csta.events import (
        ConnectionClearedEvent,
        ConnectionId,
        DeliveredEvent,
        DeviceId,
    )
    from cstapopup.csta.switch.server import SwitchServer

    async def run() -> None:
        server = SwitchServer(port=0, devices=DEVICES, max_links=2)
        await server.start()
        port_queue.put(server.port)
        loop = asyncio.get_running_loop()
        n, per_second, ends = await loop.run_in_executor(None, command_queue.get)
        link = next(lk for lk in server.links if lk.associated)
        xref = {m.device: m.cross_ref for m in link.session.monitors.values()}
        devices = sorted(xref)
        rng = random.Random(11)
        chunk: list[bytes] = []
        invoke = 0
        callers: dict[int, DeviceId] = {}

        def frame(event) -> bytes:
            nonlocal invoke
            invoke = invoke % 30000 + 1
            return framing.frame(codec.encode_apdu(codec.EventReport(invoke, event)))

        def ids(i: int) -> tuple[str, bytes, bytes]:
            return (devices[i % len(devices)], (i + 1).to_bytes(4, "big"),
                    bytes.fromhex("0b1c") + (i + 1).to_bytes(14, "big"))

        def ring(i: int) -> None:
            device, cid, gid = ids(i)
            caller = callers[i] = DeviceId.of("00" + rng.choice("2345678") + "".join(
                rng.choice("0123456789") for _ in range(rng.randint(6, 10))))
            chunk.append(frame(DeliveredEvent(
                cross_ref_id=xref[device], timestamp=datetime.now().replace(microsecond=0),
                connection=ConnectionId(cid, DeviceId.of(device)),
                local_connection_state="alerting", cause="new_call", global_call_id=gid,
                alerting_device=DeviceId.of(device), calling_device=caller,
                called_device=DeviceId.of(device), last_redirection_device=None)))

        def give_up(i: int) -> None:
            device, cid, gid = ids(i)
            caller = callers.pop(i)
            stamp = datetime.now().replace(microsecond=0)
            for who, state in ((caller, "alerting"), (DeviceId.of(device), "null")):
                chunk.append(frame(ConnectionClearedEvent(
                    cross_ref_id=xref[device], timestamp=stamp, connection=ConnectionId(cid, who),
                    local_connection_state=state, cause="normal_clearing", global_call_id=gid,
                    releasing_device=who)))

        t0 = loop.time()
        for i in range(n + (50 if ends else 0)):
            if i < n:
                ring(i)
            if ends and i >= 50:
                give_up(i - 50)
            if len(chunk) >= 100 or i == n - 1:
                server.inject(b"".join(chunk), link.id)
                chunk.clear()
                # Pace to `per_second`, and never let the socket buffer grow past 1 MB.
                while (loop.time() - t0) * per_second < i + 1 or \
                        link.transport.get_write_buffer_size() > 1 << 20:
                    await asyncio.sleep(0.01)
        if chunk:
            server.inject(b"".join(chunk), link.id)
        done_queue.put(n)
        await loop.run_in_executor(None, command_queue.get)   # "stop"
        await server.stop()

    asyncio.run(run())


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def popup_flood(calls: int, per_second: float, settle_seconds: float,
                trace: bool = False, ends: bool = False) -> dict:
    """The app (PBX mode, 21 monitored devices, the demo phone books) gets `calls` Delivered
    events for distinct calls that never end (`ends`: that end 50 calls later); RSS is
    sampled every 2,500 calls.  `trace`: also the Python allocations that grew most between
    the first sample and the end."""
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    work = Path(tempfile.mkdtemp(prefix="cstapopup-flood-"))
    os.environ["CSTAPOPUP_CONFIG_DIR"] = str(work)
    os.environ["CSTAPOPUP_DATA_DIR"] = str(work)
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

    import qasync
    from PySide6.QtWidgets import QApplication

    import cstapopup.csta.client as client_module
    from cstapopup import resources
    from cstapopup.csta.connection import ClientConnection, EventReceived
    from cstapopup.csta.events import DeliveredEvent
    from cstapopup.settings import Settings
    from cstapopup.ui.app import settle_memory
    from cstapopup.ui.controller import AppController, AppOptions

    seen = {"delivered": 0}

    class CountingConnection(ClientConnection):
        def receive_data(self, data):
            events = super().receive_data(data)
            seen["delivered"] += sum(1 for ev in events if isinstance(ev, EventReceived)
                                     and isinstance(ev.event, DeliveredEvent))
            return events

    client_module.ClientConnection = CountingConnection
    from PySide6.QtCore import qInstallMessageHandler
    qInstallMessageHandler(lambda *_: None)   # offscreen's notes, thousands of them
    ctx = mp.get_context("spawn")
    port_queue, command_queue, done_queue = ctx.Queue(), ctx.Queue(), ctx.Queue()
    switch = ctx.Process(target=_flood_switch, args=(port_queue, command_queue, done_queue))
    switch.start()
    port = port_queue.get(timeout=30)
    settings = Settings(work / "config.toml")
    settings.update({"pbx.host": "127.0.0.1", "pbx.port": port, "devices.monitor": FLOOD_DEVICES,
                     "devices.own": "100", "popup.sound": False,
                     "phonebook.files": [str(resources.path("demo/phonebook.csv")),
                                         str(resources.path("demo/phonebook.vcf"))]})
    settings.save()
    app = QApplication.instance() or QApplication(["cstapopup-bench"])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(AppOptions(settings_path=work / "config.toml", data_dir=work,
                                          show_window=False), tray_available=False)
    samples: list[tuple[int, int, float, float, int, int, int]] = []
    traced: dict[str, Any] = {}
    handle = controller.desk.on_event

    def counting_on_event(device, event) -> None:
        seen["handled"] += 1
        handle(device, event)

    seen["handled"] = 0
    controller.desk.on_event = counting_on_event   # the desk hands it to the link it opens

    def sample() -> None:
        desk = controller.desk
        live = len(desk.recorder.tracker.live_calls()) if desk.recorder is not None else 0
        samples.append((seen["delivered"], seen["handled"], time.perf_counter() - t0,
                        _rss_mb(), len(QApplication.topLevelWidgets()), len(desk.popup_views()),
                        live))

    t0 = 0.0

    async def run() -> None:
        nonlocal t0
        await controller.start()
        settle_memory()
        deadline = loop.time() + 15
        while controller.link_state[0] != "up":
            if loop.time() > deadline:
                raise RuntimeError(f"no link: {controller.link_state}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        t0 = time.perf_counter()
        sample()
        if trace:
            tracemalloc.start(8)
            traced["before"] = tracemalloc.take_snapshot()
        command_queue.put((calls, per_second, ends))
        next_sample = 2500
        end = loop.time() + calls / per_second * 3 + 60
        while seen["delivered"] < calls and loop.time() < end:
            await asyncio.sleep(0.05)
            if seen["delivered"] >= next_sample:
                sample()
                next_sample += 2500
        await asyncio.sleep(0.5)
        sample()
        await asyncio.sleep(settle_seconds)
        sample()
        if trace:
            traced["after"] = tracemalloc.take_snapshot()
            tracemalloc.stop()
        command_queue.put("stop")
        await controller.shutdown()

    try:
        with loop:
            loop.run_until_complete(run())
    finally:
        command_queue.put("stop")
        switch.join(10)
        if switch.is_alive():
            switch.terminate()
        asyncio.set_event_loop(None)
    growth = []
    if trace:
        stats = traced["after"].compare_to(traced["before"], "traceback")
        growth = [(stat.size_diff, stat.count_diff, stat.traceback.format()[-6:])
                  for stat in stats[:12]]
    return {"samples": samples, "calls": calls, "growth": growth}


def _child_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen" if not env.get("DISPLAY") else "xcb")
    env.update({"CSTAPOPUP_CONFIG_DIR": str(work), "CSTAPOPUP_DATA_DIR": str(work),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "PYTHONPATH": str(ROOT)})
    return env


def startup(runs: int = 5) -> dict:
    times, ages, what = [], [], ""
    for i in range(runs):
        work = Path(tempfile.mkdtemp(prefix=f"cstapopup-start-{i}-"))
        t0 = time.time()
        done = subprocess.run([sys.executable, "-m", "cstapopup", "--demo", "--startup-probe"],
                              capture_output=True, text=True, env=_child_env(work), timeout=60,
                              check=False)
        line = next((s for s in done.stdout.splitlines() if s.startswith("startup-probe:")), "")
        if not line:
            raise RuntimeError(f"no probe output: {done.stdout}{done.stderr}")
        parts = line.split()
        what = parts[1]
        times.append(float(parts[4]) - t0)
        if "(" in line:
            ages.append(float(line.split("(")[1].split()[0]))
    return {"median": statistics.median(times), "best": min(times), "what": what,
            "age_median": statistics.median(ages) if ages else None}


def idle_rss(seconds: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="cstapopup-rss-"))
    proc = subprocess.Popen([sys.executable, "-m", "cstapopup", "--demo"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_child_env(work))
    peak = 0.0
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(1)
            with open(f"/proc/{proc.pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) / 1024
                        peak = max(peak, rss)
                        last = rss
    finally:
        proc.terminate()
        proc.wait(20)
    return {"last": last, "peak": peak, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="latency measurement time")
    parser.add_argument("--rss-seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=TRAFFIC_RATE)
    parser.add_argument("--speed", type=float, default=TRAFFIC_SPEED)
    parser.add_argument("--only", choices=("startup", "rss", "latency", "flood"), default=None)
    parser.add_argument("--flood-calls", type=int, default=50_000)
    parser.add_argument("--flood-rate", type=float, default=1000.0, help="calls per second")
    parser.add_argument("--flood-ends", action="store_true",
                        help="each flooded call ends (missed) 50 calls later")
    parser.add_argument("--flood-trace", action="store_true",
                        help="also print where Python memory grew most (slow)")
    args = parser.parse_args()

    if args.only in (None, "flood"):
        flood = popup_flood(args.flood_calls, args.flood_rate, settle_seconds=10.0,
                            trace=args.flood_trace, ends=args.flood_ends)
        how = "that end 50 calls later" if args.flood_ends else "that never end"
        print(f"flood of {flood['calls']} Delivered events for distinct calls {how} "
              f"(sent at up to {args.flood_rate:g} calls/s): RSS as they arrive")
        print("  calls read  events handled    time       RSS  windows  popups  live calls")
        for count, handled, seconds, rss, windows, popups, live in flood["samples"]:
            print(f"  {count:10d}  {handled:14d}  {seconds:6.1f} s  {rss:6.1f} MB  "
                  f"{windows:7d}  {popups:6d}  {live:10d}")
        for size, count, where in flood["growth"]:
            print(f"  grew {size / 1e6:+.1f} MB in {count:+d} blocks at")
            print("\n".join("      " + line for line in where))
        if args.only == "flood":
            return

    if args.only in (None, "startup"):
        start = startup()
        print(f"start-up to the {start['what']} shown: median {start['median']:.3f} s, "
              f"best {start['best']:.3f} s (spawn to shown, 5 runs; target < 1.5 s)"
              + (f"; process age at that moment {start['age_median']:.2f} s"
                 if start["age_median"] is not None else ""))
    if args.only in (None, "rss"):
        rss = idle_rss(args.rss_seconds)
        print(f"idle RSS of cstapopup --demo after {rss['seconds']:.0f} s: {rss['last']:.1f} MB "
              f"(peak {rss['peak']:.1f} MB; target < 150 MB)")
    if args.only not in (None, "latency"):
        return
    lat = popup_latency(args.seconds, args.rate, args.speed)
    print(f"popup latency, Delivered frame read by the client -> popup showEvent, with "
          f"{lat['events_per_s']:.0f} events/s of background traffic ({lat['platform']}): "
          f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms over "
          f"{lat['n']} popups (target p99 < 30 ms)")
    print(f"  of which: read -> the app's event handler (decode, queue, events before it) "
          f"p50 {lat['wait_p50']:.1f} ms, p99 {lat['wait_p99']:.1f} ms; handler -> shown "
          f"(tracker, SQLite, lookup, widget) p50 {lat['handle_p50']:.1f} ms, "
          f"p99 {lat['handle_p99']:.1f} ms")


if __name__ == "__main__":
    main()
