"""`cstapopup sim`: a simulated HiPath on TCP, for trying cstapopup without a PBX.

It accepts CSTA links like a HiPath 3000 (the factory login by default), and makes calls: a named
scenario when a client monitors its device, and/or random demo traffic.  It says what it does
in plain words on stderr; `--record` writes the ground truth of every finished call.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
from datetime import datetime
from typing import Any

from cstapopup.csta.defaults import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER, MAX_LINKS
from cstapopup.exitcodes import EXIT_ERROR, EXIT_OK, EXIT_PORT_IN_USE, EXIT_USAGE


def add_parser(sub: Any) -> None:
    from cstapopup.csta.switch.model import DEFAULT_DEVICES, DEFAULT_TRUNKS, LINKAGE_AFTER_TRANSFER
    from cstapopup.csta.switch.scenarios import SCENARIOS
    from cstapopup.csta.switch.server import DEFAULT_ASSOCIATION_TIMEOUT, DEFAULT_MAX_PENDING_LINKS

    names = ", ".join(SCENARIOS)
    p = sub.add_parser(
        "sim",
        help="run a simulated HiPath PBX (CSTA over TCP) with scenarios or demo traffic",
        description="Run a simulated HiPath PBX that speaks CSTA Phase III over TCP. Clients "
        "connect and monitor devices as with a real PBX. --scenario plays one call story when a "
        "client monitors its device; --demo makes random realistic calls. Stop with Ctrl+C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"TCP port (default {DEFAULT_PORT}; 0: any free port)",
    )
    p.add_argument(
        "--user", default=DEFAULT_USER, help=f"user name clients must give (default {DEFAULT_USER})"
    )
    p.add_argument(
        "--password",
        default=DEFAULT_PASSWORD,
        help=f"password clients must give (default {DEFAULT_PASSWORD})",
    )
    p.add_argument(
        "--devices",
        default=DEFAULT_DEVICES,
        help=f"internal devices, e.g. 100-120 or 100,101,200-205 (default {DEFAULT_DEVICES})",
    )
    trunks = f"{DEFAULT_TRUNKS[0]}-{DEFAULT_TRUNKS[-1]}"
    p.add_argument(
        "--trunks", default=trunks, help=f"trunk devices for outside calls (default {trunks})"
    )
    p.add_argument(
        "--max-links",
        type=int,
        default=MAX_LINKS,
        help=f"CSTA links allowed at the same time (default {MAX_LINKS})",
    )
    p.add_argument(
        "--scenario",
        metavar="NAME",
        help=f"play this scenario when a client monitors its device: {names}",
    )
    p.add_argument(
        "--scenario-device",
        metavar="DEVICE",
        help="the device a scenario is about (default: the first device)",
    )
    p.add_argument("--demo", action="store_true", help="make random realistic calls")
    p.add_argument(
        "--rate", type=float, default=2.0, help="demo calls per minute (at speed 1; default 2)"
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="pace factor: 10 runs everything ten times faster (default 1)",
    )
    p.add_argument("--seed", type=int, help="seed for reproducible demo traffic")
    p.add_argument(
        "--start-time",
        metavar="ISO",
        help="the PBX clock at start, e.g. 2024-05-06T09:00:00 (default: now)",
    )
    p.add_argument(
        "--forward",
        action="append",
        default=[],
        metavar="DEV:TARGET[:SECONDS]",
        help="forward calls unanswered at DEV to TARGET after SECONDS (default 15); "
        "may be repeated",
    )
    p.add_argument(
        "--record",
        metavar="FILE",
        help="write the ground truth of every finished call to FILE (JSON lines)",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="also log a hex trace of every frame both ways (passwords masked)",
    )
    p.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="speak TLS with this certificate (chain) file; its key in the same file or --tls-key",
    )
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    p.add_argument(
        "--tag-form",
        choices=("hipath", "alternate"),
        default="hipath",
        help="hipath (default): every tagged field in the form a HiPath sends it; "
        "alternate: each in its other tag form (implicit for explicit and the "
        "reverse), to check that a client takes both",
    )
    p.add_argument(
        "--linkage-after-transfer",
        choices=LINKAGE_AFTER_TRANSFER,
        default="new",
        help="the global call id a call's events carry after a transfer or "
        "conference: new (default; the one the Transferred event announces) or old "
        "(the one they carried before)",
    )
    p.add_argument(
        "--association-timeout",
        type=float,
        default=DEFAULT_ASSOCIATION_TIMEOUT,
        metavar="SECONDS",
        help="close a connection that has not logged in within SECONDS "
        f"(default {DEFAULT_ASSOCIATION_TIMEOUT:g})",
    )
    p.add_argument(
        "--max-pending",
        type=int,
        default=DEFAULT_MAX_PENDING_LINKS,
        metavar="N",
        help="connections that may wait to log in at the same time; more are "
        f"closed at once (default {DEFAULT_MAX_PENDING_LINKS})",
    )
    p.set_defaults(func=run)


class UsageError(Exception):
    pass


def parse_forwarding(items: list[str], devices: list[str]) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    for item in items:
        parts = item.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"--forward wants DEV:TARGET[:SECONDS], not {item!r}")
        try:
            seconds = float(parts[2]) if len(parts) == 3 else 15.0
        except ValueError:
            raise UsageError(f"--forward: not a number of seconds: {parts[2]!r}") from None
        for d in parts[:2]:
            if d not in devices:
                raise UsageError(f"--forward: {d} is not one of the devices")
        if parts[0] == parts[1] or seconds <= 0:
            raise UsageError(f"--forward: {item!r} makes no sense")
        out[parts[0]] = (parts[1], seconds)
    return out


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    switch_log = logging.getLogger("cstapopup.csta.switch")
    switch_log.handlers[:] = [handler]
    switch_log.setLevel(logging.DEBUG if debug else logging.INFO)
    switch_log.propagate = False


def build_server(args: argparse.Namespace, record: Any = None) -> Any:
    """The SwitchServer the options describe (UsageError for bad options); `record` is the
    open ground-truth file."""
    from cstapopup.csta.switch.demo import load_phonebook
    from cstapopup.csta.switch.model import parse_device_list
    from cstapopup.csta.switch.scenarios import SCENARIOS
    from cstapopup.csta.switch.server import SwitchServer
    from cstapopup.resources import demo_phonebooks

    try:
        devices = parse_device_list(args.devices)
        trunks = parse_device_list(args.trunks)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.scenario and args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; known: {', '.join(SCENARIOS)}")
    if args.speed <= 0 or args.rate <= 0:
        raise UsageError("--speed and --rate must be positive")
    if args.max_links < 1:
        raise UsageError("--max-links must be at least 1")
    if not args.association_timeout > 0:
        raise UsageError("--association-timeout must be positive")
    if args.max_pending < 1:
        raise UsageError("--max-pending must be at least 1")
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be 0..65535")
    start = None
    if args.start_time:
        try:
            start = datetime.fromisoformat(args.start_time).replace(tzinfo=None)
        except ValueError:
            raise UsageError(
                f"--start-time: not an ISO date and time: {args.start_time!r}"
            ) from None
    forwarding = parse_forwarding(args.forward, devices)
    tls = None
    if getattr(args, "tls_key", None) and not getattr(args, "tls_cert", None):
        raise UsageError("--tls-key needs --tls-cert")
    if getattr(args, "tls_cert", None):
        from cstapopup.csta.tlsconfig import TlsConfigError, server_context

        try:
            tls = server_context(args.tls_cert, args.tls_key)
        except TlsConfigError as exc:
            raise UsageError(str(exc)) from None
    try:
        return SwitchServer(
            args.host,
            args.port,
            args.user,
            args.password,
            devices,
            trunks=trunks,
            max_links=args.max_links,
            scenario=args.scenario,
            scenario_device=args.scenario_device,
            demo=args.demo,
            rate=args.rate,
            speed=args.speed,
            seed=args.seed,
            clock_start=start,
            forward_no_answer=forwarding,
            record=record,
            trace=args.debug,
            ssl=tls,
            phonebook=load_phonebook(demo_phonebooks()) if args.demo else None,
            tag_form=getattr(args, "tag_form", "hipath"),
            linkage_after_transfer=getattr(args, "linkage_after_transfer", "new"),
            association_timeout=args.association_timeout,
            max_pending_links=args.max_pending,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


async def serve(server: Any) -> None:
    """Run until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # Windows: Ctrl+C arrives as KeyboardInterrupt
    await server.start()
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await server.stop()


def run(args: argparse.Namespace) -> int:
    _setup_logging(args.debug)
    record = None
    try:
        if args.record:
            record = open(args.record, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        server = build_server(args, record)
    except UsageError as exc:
        print(f"cstapopup sim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"cstapopup sim: cannot write the record file: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        return _serve_until_stopped(server, args)
    finally:
        if record is not None:
            record.close()


def _serve_until_stopped(server: Any, args: argparse.Namespace) -> int:
    try:
        asyncio.run(serve(server))
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"cstapopup sim: port {args.port} on {args.host} is already in use "
                "(another simulator or PBX client?); choose another with --port",
                file=sys.stderr,
            )
            return EXIT_PORT_IN_USE
        print(f"cstapopup sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
