"""The office gateway under an office's load: simulator -> `cstapopup gateway` -> Mosquitto ->
200 headless desktops, with random calls at about 50 events per second.

Processes: this harness (the simulator, `SwitchServer` with demo traffic on devices 100-139),
the gateway (`cstapopup gateway` as a service runs it), one Mosquitto (own config, password
file and ACL as in packaging/gateway/, on a free port of 127.0.0.1), and `--workers`
processes of `--desktops` / `--workers` `GatewayClient`s each (every desktop follows its own
device and 4 colleagues', as a reception console or a busy-lamp field does).

Figures, each measured in this run:
- event rate: events and snapshots the gateway read from the PBX, per second of traffic;
- latency: from the gateway reading an event from the PBX (the message's `received` user
  property; the machine's one clock) to the desktop's GatewayClient having it decoded into
  a typed event, over every event every desktop received: p50, p99, max;
- lost: per desktop and device, the gateway's numbers from the first one the desktop saw to
  the gateway's last that never reached it (target 0); duplicates dropped by the clients;
- gateway CPU % (user + system time of its process over the traffic) and its RSS at the end;
  broker RSS at the end.
Exit status 0 when p99 < 100 ms and nothing was lost, 1 otherwise, 2 for bad options.

    .venv/bin/python benchmarks/gateway.py                 # 60 s, 200 desktops, 4 processes
    .venv/bin/python benchmarks/gateway.py --duration 20 --desktops 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEVICES = [str(d) for d in range(100, 140)]
USERS = {"gateway": "bench-gateway", "desk": "bench-desk"}


# The desktops (worker processes) ------------------------------------------------------------


async def worker(args: argparse.Namespace) -> int:
    from cstapopup.csta.client import MonitorEvent
    from cstapopup.gateway.broker import parse_broker_url
    from cstapopup.gateway.client import GatewayClient, GatewayClientOptions, numbering, received_at

    class MeasuredClient(GatewayClient):
        """Notes, per message, its number and when the gateway read its event."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.seen: dict[str, set[int]] = {}
            self.pending: dict[str, float] = {}
            self.latencies: list[float] = []

        def _dispatch(self, message: Any) -> None:
            parsed = self.topics.parse_device_topic(str(message.topic))
            stamp = None
            if parsed is not None and parsed[1] in ("event", "snapshot"):
                _, seq = numbering(message)
                if seq is not None:
                    self.seen.setdefault(parsed[0], set()).add(seq)
                if parsed[1] == "event":
                    stamp = received_at(message)
            super()._dispatch(message)
            if stamp is not None:
                self.latencies.append(time.time() - stamp)

    settings = parse_broker_url(args.broker, user="desk", password=USERS["desk"])
    rng = random.Random(args.worker_index)
    clients: list[MeasuredClient] = []
    consumers = []
    counts = {"events": 0}

    async def consume(c: MeasuredClient) -> None:
        async for item in c.events():
            if isinstance(item, MonitorEvent):
                counts["events"] += 1

    for i in range(args.count):
        n = args.worker_index * args.count + i
        own = n % len(DEVICES)
        devices = [DEVICES[(own + k * 7) % len(DEVICES)] for k in range(5)]
        c = MeasuredClient(settings, "bench", GatewayClientOptions(keepalive=30),
                           client_id=f"bench-{n}")
        consumers.append(asyncio.create_task(consume(c)))
        await asyncio.sleep(0)
        for d in devices:
            await c.monitor_start(d)
        await c.connect()
        clients.append(c)
        await asyncio.sleep(rng.uniform(0, 0.01))
    Path(args.ready).write_text("ready")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    result = {"latencies": [], "seen": [], "lost_gaps": 0, "read_pauses": 0,
              "events": counts["events"]}
    for c in clients:
        result["latencies"].extend(c.latencies)
        result["seen"].append({d: sorted(s) for d, s in c.seen.items() if s})
        result["lost_gaps"] += c.lost
        result["read_pauses"] += c.read_pauses
    for c in clients:
        await c.close()
    Path(args.out).write_text(json.dumps(result))
    return 0


# The harness ----------------------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds, RSS KiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return cpu, rss


async def harness(args: argparse.Namespace) -> int:
    from cstapopup.csta.switch.server import SwitchServer
    from tests.mosquitto_helpers import Mosquitto, available

    if not available():
        print("mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="cstapopup-gateway-bench-"))
    broker = Mosquitto(tmp / "broker", users=dict(USERS))
    broker.start()
    server = SwitchServer(port=0, devices=DEVICES, demo=True, rate=args.rate, speed=args.speed,
                          seed=args.seed, phonebook=None)
    await server.start()
    env = {**os.environ, "CSTAPOPUP_BROKER_PASSWORD": USERS["gateway"]}
    gw_log = open(tmp / "gateway.log", "w")  # noqa: SIM115, ASYNC230 (before the traffic)
    gateway = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "gateway", "--port", str(server.port),
        "--device", f"{DEVICES[0]}-{DEVICES[-1]}", "--broker", broker.url, "--broker-user",
        "gateway", "--site", "bench", "--quiet", env=env, stdout=gw_log, stderr=gw_log)
    workers = []
    try:
        await server.wait_for(lambda: all(server.monitors_of(d) == 1 for d in DEVICES), 60)
        per = args.desktops // args.workers
        for w in range(args.workers):
            ready, out = tmp / f"ready{w}", tmp / f"out{w}.json"
            p = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--worker-index", str(w), "--count", str(per),
                "--broker", broker.url, "--ready", str(ready), "--out", str(out))
            workers.append((p, ready, out))
        deadline = time.monotonic() + 120
        while not all(r.exists() for _, r, _ in workers):
            if time.monotonic() > deadline:
                raise TimeoutError("the desktops did not connect in time")
            await asyncio.sleep(0.1)
        print(f"{per * args.workers} desktops connected in {args.workers} processes; "
              f"traffic for {args.duration:g} s", flush=True)
        events_at_start = server.events_sent
        cpu0, _ = proc_stat(gateway.pid)
        desk0 = sum(proc_stat(p.pid)[0] for p, _, _ in workers)
        broker0, _ = proc_stat(broker.proc.pid)
        t0 = time.monotonic()
        await asyncio.sleep(args.duration)
        wall = time.monotonic() - t0
        cpu1, gw_rss = proc_stat(gateway.pid)
        desk_cpu = (sum(proc_stat(p.pid)[0] for p, _, _ in workers) - desk0) / wall
        broker_cpu = (proc_stat(broker.proc.pid)[0] - broker0) / wall
        load = os.getloadavg()[0]
        events = server.events_sent - events_at_start
        broker_rss = broker.rss_kib()
        # The gateway's numbers so far (its retained records); then time for what is on its
        # way to arrive: every number up to these must have reached every desktop.
        final = await final_numbers(broker)
        await asyncio.sleep(3)
        for p, _, _ in workers:
            p.send_signal(signal.SIGTERM)
        for p, _, _ in workers:
            await asyncio.wait_for(p.wait(), 60)
        results = [json.loads(out.read_text()) for _, _, out in workers]
    finally:
        for p, _, _ in workers:
            if p.returncode is None:
                p.kill()
        if gateway.returncode is None:
            gateway.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(gateway.wait(), 20)
            except TimeoutError:
                gateway.kill()
        gw_log.close()
        await server.stop()
        broker.stop()

    latencies = sorted(x for r in results for x in r["latencies"])
    lost = 0
    for r in results:
        for seen in r["seen"]:
            for device, numbers in seen.items():
                want = set(range(numbers[0], final.get(device, 0) + 1))
                lost += len(want - set(numbers))
    received = sum(r["events"] for r in results)
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    print(f"event rate at the gateway:  {events / wall:.1f} events/s ({events} in {wall:.1f} s)")
    print(f"events received by desktops: {received} (latency samples {len(latencies)})")
    print(f"latency PBX read -> desktop: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms")
    print(f"messages lost:              {lost} (gaps seen by clients: "
          f"{sum(r['lost_gaps'] for r in results)}; clients' reading paused for a slow "
          f"consumer: {sum(r['read_pauses'] for r in results)} times)")
    print(f"gateway CPU:                {100 * (cpu1 - cpu0) / wall:.1f} % of one core; "
          f"RSS {gw_rss / 1024:.1f} MiB")
    print(f"broker RSS:                 {broker_rss / 1024 if broker_rss else float('nan'):.1f} MiB; "
          f"CPU {100 * broker_cpu:.1f} %")
    print(f"desktop processes' CPU:     {100 * desk_cpu:.1f} % of one core in all; machine load "
          f"average {load:.2f} on {os.cpu_count()} cores")
    ok = latencies and p99 < 100 and lost == 0
    print("targets (p99 < 100 ms, 0 lost):", "met" if ok else "NOT met")
    return 0 if ok else 1


async def final_numbers(broker: Any) -> dict[str, int]:
    """The gateway's last number for each device, from its retained calls records."""
    import aiomqtt

    out: dict[str, int] = {}
    async with aiomqtt.Client("127.0.0.1", broker.port, username="desk", password=USERS["desk"],
                              protocol=aiomqtt.ProtocolVersion.V5, identifier="bench-final") as c:
        await c.subscribe("cstapopup/bench/device/+/calls", qos=1)

        async def read() -> None:
            async for m in c.messages:
                rec = json.loads(m.payload)
                out[rec["device"]] = rec["seq"]
                if len(out) == len(DEVICES):
                    return

        await asyncio.wait_for(read(), 20)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of measured traffic")
    ap.add_argument("--desktops", type=int, default=200)
    ap.add_argument("--workers", type=int, default=4, help="desktop processes")
    ap.add_argument("--rate", type=float, default=250.0,
                    help="simulated calls per minute of PBX time (default: about 50 events/s)")
    ap.add_argument("--speed", type=float, default=8.0, help="PBX seconds per real second")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--broker", default="", help=argparse.SUPPRESS)
    ap.add_argument("--ready", default="", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker_index is not None:
        return asyncio.run(worker(args))
    if args.desktops < 1 or args.workers < 1 or args.duration <= 0:
        ap.error("--desktops, --workers and --duration must be positive")
    return asyncio.run(harness(args))


if __name__ == "__main__":
    sys.exit(main())
