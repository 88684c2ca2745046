"""`cstapopup monitor`: the headless monitor (the Perl library's example, as a command).

Connects to the PBX, monitors the given devices, prints one line per event (or one JSON
object per event with --json), reports link state changes on stderr, and reconnects by itself
unless --once.  With --record it also keeps the calls it sees in the call history.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import sys
from typing import Any, TextIO

from cstapopup.csta.client import (
    AssociationRejectedError,
    ClientOptions,
    ConnectError,
    CstaClient,
    CstaServiceError,
    LinkStateChanged,
    MonitorEvent,
    MonitorSnapshot,
)
from cstapopup.csta.events import CstaEvent
from cstapopup.csta.tlsconfig import TlsConfigError, client_context

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_CONNECT = 4


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "monitor",
        help="monitor devices and print their events",
        description="Monitor devices on a HiPath / OpenScape PBX and print their events. "
        "Credentials default to the HiPath factory defaults AMHOST / 77777, or come from the "
        "environment (CSTAPOPUP_HOST, CSTAPOPUP_PORT, CSTAPOPUP_USER, CSTAPOPUP_PASSWORD).",
    )
    env = os.environ
    p.add_argument("--host", default=env.get("CSTAPOPUP_HOST", "127.0.0.1"),
                   help="PBX address (default 127.0.0.1: a local `cstapopup sim`)")
    p.add_argument("--port", type=int, default=int(env.get("CSTAPOPUP_PORT", "7001")),
                   help="CSTA port (HiPath 3000: 7001; OpenScape Business: 8800)")
    p.add_argument("--user", default=env.get("CSTAPOPUP_USER", "AMHOST"))
    p.add_argument("--password", default=None,
                   help="password (default: $CSTAPOPUP_PASSWORD, else 77777); prefer --ask-password")
    p.add_argument("--ask-password", action="store_true", help="prompt for the password (not echoed)")
    p.add_argument("--device", "-d", action="append", default=[], metavar="N", required=True,
                   help="device to monitor (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per event (normalised form)")
    p.add_argument("--once", action="store_true", help="do not reconnect; exit when the link is lost")
    p.add_argument("--debug", action="store_true", help="hex wire trace of every frame on stderr")
    p.add_argument("--record", action="store_true", help="record the calls into the call history")
    p.add_argument("--db", default=None, help="history database file (implies --record)")
    p.add_argument("--tls", action="store_true",
                   help="encrypt the link with TLS; the PBX's certificate is verified against the "
                   "system's certificates or --ca-file")
    p.add_argument("--ca-file", metavar="PEM", default=env.get("CSTAPOPUP_CA_FILE") or None,
                   help="PEM file of the authority that signed the PBX's certificate "
                   "(implies --tls; default $CSTAPOPUP_CA_FILE)")
    p.add_argument("--insecure", action="store_true",
                   help="TLS without verifying the PBX's certificate (implies --tls; "
                   "for tests only: anyone on the way can pose as the PBX)")
    p.add_argument("--keepalive", type=float, default=20.0,
                   help="seconds of silence before the link is probed (dead after this + 10 s)")
    p.set_defaults(func=run)


def format_event(device: str, event: CstaEvent) -> str:
    """A human-readable line for one event."""
    d = event.to_dict()
    when = d.get("timestamp") or ""
    when = when[11:19] if len(when) >= 19 else when
    parts = [when, f"[{device}]", event.name.replace("_", " ")]
    if d.get("call_id"):
        parts.append(f"call {d['call_id']}")
    calling, called = d.get("calling_device"), d.get("called_device")
    if calling or called:
        parts.append(f"{calling or '?'} -> {called or '?'}")
    for key in ("alerting_device", "answering_device", "releasing_device", "diverting_device",
                "new_destination", "transferring_device", "transferred_to_device", "holding_device"):
        if d.get(key):
            parts.append(f"{key.replace('_device', '').replace('_', ' ')} {d[key]}")
    if event.name == "transferred" and d.get("endpoint"):
        parts.append(f"endpoint {d['endpoint']}")
    if d.get("local_connection_state"):
        parts.append(f"({d['local_connection_state']}, {d.get('cause') or '-'})")
    if event.name == "unknown":
        parts.append(f"{d.get('category')} tag {d.get('tag')}")
    return " ".join(p for p in parts if p)


def event_json(device: str, event: CstaEvent) -> str:
    d = event.to_dict()
    d["connection_device"] = d.get("device")
    d["device"] = device
    return json.dumps(d, ensure_ascii=False)


async def monitor(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    password = args.password
    if args.ask_password:
        password = getpass.getpass(f"Password for {args.user}@{args.host}: ")
    if password is None:
        password = os.environ.get("CSTAPOPUP_PASSWORD", "77777")
    try:
        tls = _tls_context(args, err)
    except TlsConfigError as exc:
        print(f"cstapopup monitor: {exc}", file=err)
        return EXIT_USAGE
    options = ClientOptions(reconnect=not args.once, keepalive_interval=args.keepalive, ssl=tls)
    client = CstaClient(args.host, args.port, args.user, password, options)

    recorder = recording = None
    if args.record or args.db:
        # Only when asked: keeps plain monitor light.  (commands/recording.py: the history's
        # side, its timer and its messages.)
        from cstapopup.calls.store import HistoryError
        from cstapopup.commands.recording import Recording

        try:
            recording = Recording.open(args.db, args.device,
                                       snapshots=options.snapshot_monitors, err=err)
        except HistoryError as exc:
            print(f"cstapopup monitor: {exc}", file=err)
            return EXIT_ERROR
        recorder = recording.recorder
        recording.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            pass

    exit_code = EXIT_OK

    async def consume() -> None:
        nonlocal exit_code
        async for item in client.events():
            if isinstance(item, LinkStateChanged):
                extra = f" (retry in {item.retry_in:.1f} s)" if item.retry_in else ""
                print(f"cstapopup monitor: link {item.state}: {item.reason}{extra}", file=err, flush=True)
                if item.state == "down" and args.once:
                    exit_code = EXIT_CONNECT
                    stop.set()
                if recorder is not None and item.state == "down":
                    recorder.link_lost()
            elif isinstance(item, MonitorSnapshot):
                if recorder is not None:
                    recorder.snapshot(item.device, item.calls)
            elif isinstance(item, MonitorEvent):
                line = event_json(item.device, item.event) if args.json else format_event(item.device, item.event)
                print(line, file=out, flush=True)
                if recorder is not None:
                    recorder.feed(item.device, item.event)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)  # let the consumer subscribe before the first link state change
    try:
        try:
            await client.connect()
        except AssociationRejectedError as exc:
            print(f"cstapopup monitor: {exc}", file=err)
            return EXIT_REJECTED
        except ConnectError as exc:
            print(f"cstapopup monitor: {exc}", file=err)
            return EXIT_CONNECT
        monitored = 0
        for device in args.device:
            try:
                handle = await client.monitor_start(device)
                monitored += 1
                print(f"cstapopup monitor: monitoring {device} (cross-ref {handle.cross_ref_id.hex()})",
                      file=err, flush=True)
            except CstaServiceError as exc:
                print(f"cstapopup monitor: cannot monitor {device}: {exc.reason}", file=err, flush=True)
        if monitored == 0:
            print("cstapopup monitor: no device could be monitored", file=err)
            exit_code = EXIT_ERROR
            return exit_code
        await stop.wait()
    finally:
        await client.close()
        consumer.cancel()
        try:
            await consumer
        except asyncio.CancelledError:
            pass
        if recording is not None:
            await recording.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
    if recording is not None and recording.final is not None and recording.final.lost \
            and exit_code == EXIT_OK:
        exit_code = EXIT_ERROR   # calls were lost: said on stderr, and in the exit status
    return exit_code


def _tls_context(args: argparse.Namespace, err: TextIO) -> Any:
    """The client's SSLContext from --tls / --ca-file / --insecure (None: plain TCP)."""
    tls = bool(getattr(args, "tls", False) or getattr(args, "ca_file", None)
               or getattr(args, "insecure", False))
    insecure = bool(getattr(args, "insecure", False))
    if insecure:
        print("cstapopup monitor: WARNING: --insecure: the PBX's TLS certificate is NOT "
              "verified. Anyone on the network path can pose as the PBX and read the password "
              "and every call. Use --ca-file instead.", file=err, flush=True)
    return client_context(tls, getattr(args, "ca_file", None), verify=not insecure)


def run(args: argparse.Namespace) -> int:
    if args.debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        wire = logging.getLogger("cstapopup.wire")
        wire.setLevel(logging.DEBUG)
        wire.addHandler(handler)
        wire.propagate = False
    if not 0 < args.port < 65536:
        print("cstapopup monitor: --port must be 1..65535", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(monitor(args))
