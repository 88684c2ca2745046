"""`cstapopup monitor`: the headless monitor (the Perl library's example, as a command).

Connects to the PBX, monitors the given devices, prints one line per event (or one JSON
object per event with --json), reports link state changes on stderr, and keeps trying until
the link is up and then keeps it up (unless --once), so that it can run as a service.  With
--record it also keeps the calls it sees in the call history.  Exit codes: see EXIT_CODES.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import textwrap
from collections.abc import Awaitable
from typing import Any, TextIO, TypeVar

from cstapopup.calls import texts
from cstapopup.commands.pbxoptions import add_pbx_options, pbx_password
from cstapopup.csta.client import (
    ClientOptions,
    CstaClient,
    CstaClientError,
    CstaServiceError,
    LinkStateChanged,
    MonitorEvent,
    MonitorSnapshot,
)
from cstapopup.csta.defaults import DEFAULT_PASSWORD, DEFAULT_USER
from cstapopup.csta.events import CstaEvent, monitor_dict
from cstapopup.csta.tlsconfig import TlsConfigError, client_context
from cstapopup.exitcodes import EXIT_CONNECT, EXIT_ERROR, EXIT_OK, EXIT_REJECTED, EXIT_USAGE

log = logging.getLogger(__name__)

T = TypeVar("T")


EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}  stopped by SIGINT / SIGTERM (Ctrl+C)
  {EXIT_ERROR}  none of the devices could be monitored; with --record: the call history could
     not be opened (or another program records into it), or calls could not be saved
  {EXIT_USAGE}  usage error (bad option, unusable CA file)
  {EXIT_REJECTED}  the PBX refused the login for good (rejected-permanent: wrong user name or
     password); no more attempts are made
  {EXIT_CONNECT}  with --once only: the connection failed (refused, timed out, all CSTA links of
     the PBX in use) or the link was lost; without --once these are retried"""

#: After SIGINT / SIGTERM: seconds to leave the PBX properly, then to print and record what
#: was already received.  Together well under a second.
CLOSE_BUDGET = 0.3
DRAIN_BUDGET = 0.2


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "monitor",
        help="monitor devices and print their events",
        description=textwrap.fill(
            "Monitor devices on a HiPath / OpenScape PBX and print their events. Credentials "
            f"default to the HiPath factory defaults {DEFAULT_USER} / {DEFAULT_PASSWORD}, or "
            "come from the "
            "environment (CSTAPOPUP_HOST, CSTAPOPUP_PORT, CSTAPOPUP_USER, CSTAPOPUP_PASSWORD). "
            "Until stopped it keeps trying to connect (each failure on stderr) and reconnects "
            "after a lost link, with a capped, jittered back-off; only a login the PBX refuses "
            "for good ends it.",
            78,
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_pbx_options(p)
    p.add_argument(
        "--device",
        "-d",
        action="append",
        default=[],
        metavar="N",
        required=True,
        help="device to monitor (repeatable)",
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object per event (normalised form)"
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="one attempt: exit (code 4) if it fails or when the link is lost",
    )
    p.add_argument("--debug", action="store_true", help="hex wire trace of every frame on stderr")
    p.add_argument("--record", action="store_true", help="record the calls into the call history")
    p.add_argument("--db", default=None, help="history database file (implies --record)")
    p.add_argument(
        "--insecure",
        action="store_true",
        help="TLS without verifying the PBX's certificate (implies --tls; "
        "for tests only: anyone on the way can pose as the PBX)",
    )
    p.add_argument(
        "--keepalive",
        type=float,
        default=20.0,
        help="seconds without a complete frame from the PBX before the link is "
        "probed (dead after this + 10 s)",
    )
    # The office gateway: the same events through an MQTT broker (cstapopup/commands/gateway.py).
    from cstapopup.commands.gateway import add_broker_options

    add_broker_options(p, required=False)
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
    for key in (
        "alerting_device",
        "answering_device",
        "releasing_device",
        "diverting_device",
        "new_destination",
        "transferring_device",
        "transferred_to_device",
        "holding_device",
    ):
        if d.get(key):
            parts.append(f"{key.replace('_device', '').replace('_', ' ')} {d[key]}")
    if event.name == "transferred" and d.get("endpoint"):
        parts.append(f"endpoint {d['endpoint']}")
    if d.get("local_connection_state"):
        parts.append(f"({d['local_connection_state']}, {d.get('cause') or '-'})")
    if event.name == "unknown":
        parts.append(f"{d.get('category')} tag {d.get('tag')}")
    if event.name == "undecodable":
        parts.append(
            f"({d.get('event_type') or d.get('category') or 'event'} that could not "
            f"be decoded: {d.get('reason')}; bytes {d.get('raw')})"
        )
    return " ".join(p for p in parts if p)


def event_json(device: str, event: CstaEvent) -> str:
    return json.dumps(monitor_dict(device, event), ensure_ascii=False)


def show_item(
    item: MonitorEvent | MonitorSnapshot, as_json: bool, out: TextIO, recorder: Any
) -> None:
    """What `monitor` does with an event or a snapshot, from a PBX link or through the
    gateway: print the event (its JSON line or a readable line), give both to the recorder
    (a CallRecorder, or None)."""
    if isinstance(item, MonitorEvent):
        line = (
            event_json(item.device, item.event)
            if as_json
            else format_event(item.device, item.event)
        )
        print(line, file=out, flush=True)
        if recorder is not None:
            recorder.feed(item.device, item.event)
    elif recorder is not None:
        recorder.snapshot(item.device, item.calls)


async def monitor(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    password = pbx_password(args)
    try:
        tls = _tls_context(args, err)
    except TlsConfigError as exc:
        print(f"cstapopup monitor: {exc}", file=err)
        return EXIT_USAGE
    if args.keepalive <= 0:
        print("cstapopup monitor: --keepalive must be positive", file=err)
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
            recording = Recording.open(
                args.db, args.device, snapshots=options.snapshot_monitors, err=err
            )
        except HistoryError as exc:
            print(f"cstapopup monitor: {exc}", file=err)
            return EXIT_ERROR
        recorder = recording.recorder
        recording.start()

    stop = asyncio.Event()
    came_up = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            pass

    exit_code = EXIT_OK

    def on_link(change: LinkStateChanged) -> None:
        # Decisions follow the client at once; the lines on stderr come in order with the
        # events (consume() below), however far behind the output is.
        nonlocal exit_code
        if change.state == "up":
            came_up.set()
        elif change.state == "rejected":
            exit_code = EXIT_REJECTED
            stop.set()
        elif change.state == "down" and args.once:
            exit_code = EXIT_CONNECT
            stop.set()

    client.on("link", on_link)

    def on_paused(paused: bool) -> None:
        if paused and client.counters.read_pauses == 1:  # once; the total comes at exit
            print(
                "cstapopup monitor: the output is behind the PBX: reading paused until it "
                "catches up (nothing is dropped)",
                file=err,
                flush=True,
            )

    client.on("paused", on_paused)

    async def consume() -> None:
        async for item in client.events():
            if isinstance(item, LinkStateChanged):
                extra = f" (retry in {item.retry_in:.1f} s)" if item.retry_in else ""
                print(
                    f"cstapopup monitor: link {item.state}: {item.reason}{extra}",
                    file=err,
                    flush=True,
                )
                if recorder is not None and item.state == "down":
                    recorder.link_lost()
            else:
                show_item(item, args.json, out, recorder)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)  # let the consumer subscribe before the first link state change

    async def follow() -> None:
        # Every way out of here goes through the finally below (and the lost calls' check).
        nonlocal exit_code
        await client.start()
        if not await _until(came_up.wait(), stop):
            return
        monitored = 0
        for device in args.device:
            try:
                handle = await _until(client.monitor_start(device), stop)
            except CstaServiceError as exc:
                print(
                    f"cstapopup monitor: cannot monitor {device}: {exc.reason}",
                    file=err,
                    flush=True,
                )
                continue
            except CstaClientError as exc:  # the link went down meanwhile: kept, restored later
                print(
                    f"cstapopup monitor: {device} will be monitored once the link is back ({exc})",
                    file=err,
                    flush=True,
                )
                monitored += 1
                continue
            if handle is None:  # stopped meanwhile
                return
            monitored += 1
            if handle.active and handle.cross_ref_id is not None:
                print(
                    f"cstapopup monitor: monitoring {device} "
                    f"(cross-ref {handle.cross_ref_id.hex()})",
                    file=err,
                    flush=True,
                )
            else:  # the link went down meanwhile; the client restores it with the link
                print(
                    f"cstapopup monitor: {device} will be monitored once the link is back",
                    file=err,
                    flush=True,
                )
        if monitored == 0:
            print("cstapopup monitor: no device could be monitored", file=err)
            exit_code = EXIT_ERROR
            return
        await stop.wait()

    try:
        await follow()
    finally:
        await client.close(timeout=CLOSE_BUDGET)
        # events() ends once the consumer has taken what was received: print and record it,
        # within a bound, and say how much was left if the bound was not enough.
        done, _ = await asyncio.wait({consumer}, timeout=DRAIN_BUDGET)
        if not done:
            left = client.backlog
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            print(
                f"cstapopup monitor: stopped with {left} received items not yet "
                "printed" + (" or recorded" if recorder is not None else ""),
                file=err,
            )
        elif not consumer.cancelled() and consumer.exception() is not None:
            log.error("printing the events failed: %r", consumer.exception())
        _report_counters(client, err)
        if recording is not None:
            await recording.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
    if (
        recording is not None
        and recording.final is not None
        and recording.final.lost
        and exit_code == EXIT_OK
    ):
        exit_code = EXIT_ERROR  # calls were lost: said on stderr, and in the exit status
    return exit_code


async def _until(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None if `stop` is set first (then `work` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, CstaClientError):
        await task
    return None


def _report_counters(client: CstaClient, err: TextIO) -> None:
    """What the client held back or left out during the run (nothing is dropped silently)."""
    c = client.counters
    if c.callbacks_skipped:
        print(
            f"cstapopup monitor: {texts.count('callbacks skipped', c.callbacks_skipped)} "
            "(too many running at once)",
            file=err,
        )
    if c.read_pauses:
        print(
            f"cstapopup monitor: reading from the PBX was paused "
            f"{texts.count('times', c.read_pauses)} ({c.paused_seconds:.1f} s in all) while "
            "the output caught up; nothing was dropped",
            file=err,
        )


def _tls_context(args: argparse.Namespace, err: TextIO) -> Any:
    """The client's SSLContext from --tls / --ca-file / --insecure (None: plain TCP)."""
    tls = bool(
        getattr(args, "tls", False)
        or getattr(args, "ca_file", None)
        or getattr(args, "insecure", False)
    )
    insecure = bool(getattr(args, "insecure", False))
    if insecure:
        print(
            "cstapopup monitor: WARNING: --insecure: the PBX's TLS certificate is NOT "
            "verified. Anyone on the network path can pose as the PBX and read the password "
            "and every call. Use --ca-file instead.",
            file=err,
            flush=True,
        )
    return client_context(tls, getattr(args, "ca_file", None), verify=not insecure)


def run(args: argparse.Namespace) -> int:
    if args.broker:  # through the office gateway instead of a PBX link of our own
        from cstapopup.commands.gateway import run_monitor

        return run_monitor(args, show_item)
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
