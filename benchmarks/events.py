"""End-to-end event figures: the simulator sends events to one client over loopback.

Prints
- events per second delivered to the client's callbacks (the switch, in another process,
  writes pre-encoded Delivered / Established / ConnectionCleared reports as fast as the
  socket takes them),
- latency from the switch writing a frame to the client's callback (p50, p99) at 200
  events/s (the send time travels in the event's private data; both processes read the same
  monotonic clock) — an upper bound of "frame arrival to callback", as it includes loopback,
- the resident memory of a headless client process monitoring 500 devices.

Run: .venv/bin/python benchmarks/events.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing as mp
import statistics
import struct
import sys
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()

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
