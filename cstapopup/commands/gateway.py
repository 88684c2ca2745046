"""`cstapopup gateway`: the office gateway as a headless service, and `cstapopup monitor
--broker`: the monitor reading the office gateway's events through the broker.

The gateway holds one CSTA association, monitors every given device and publishes through an
MQTT broker (see docs/mqtt.md); it logs to stderr (journald takes it as it is) and exits
with a code saying why (EXIT_* below; packaging/gateway/cstapopup-gateway.service does not
restart it for the codes that a restart cannot cure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from cstapopup.commands.pbxoptions import add_pbx_options, pbx_password
from cstapopup.exitcodes import (
    EXIT_BROKER_AUTH,
    EXIT_CONNECT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TAKEN_OVER,
    EXIT_USAGE,
)

log = logging.getLogger("cstapopup.gateway")


def add_broker_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    """The options naming the broker, shared by `gateway` and `monitor --broker`."""
    env = os.environ
    p.add_argument(
        "--broker",
        metavar="URL",
        required=required,
        default=None if required else env.get("CSTAPOPUP_BROKER") or None,
        help="the MQTT broker: mqtt://HOST[:1883] or mqtts://HOST[:8883]"
        + (
            ""
            if required
            else " (read the office gateway's events from it instead "
            "of the PBX; default $CSTAPOPUP_BROKER)"
        ),
    )
    p.add_argument(
        "--site",
        default=env.get("CSTAPOPUP_SITE", "default"),
        help="the site name in the topics (default: default)",
    )
    p.add_argument(
        "--broker-user",
        default=env.get("CSTAPOPUP_BROKER_USER") or None,
        help="broker user name (default $CSTAPOPUP_BROKER_USER)",
    )
    p.add_argument(
        "--broker-password",
        default=None,
        help="broker password (default $CSTAPOPUP_BROKER_PASSWORD; prefer that: an "
        "option shows in the process list)",
    )
    p.add_argument(
        "--broker-ca",
        metavar="PEM",
        default=env.get("CSTAPOPUP_BROKER_CA") or None,
        help="PEM file of the authority that signed the broker's certificate (implies TLS)",
    )


def add_parser(sub: Any) -> None:
    env = os.environ
    p = sub.add_parser(
        "gateway",
        help="the office gateway: one PBX link shared through an MQTT broker",
        description="Hold one CSTA link to the PBX, monitor every given device and publish "
        "the events, the calls under way and the link state through an MQTT broker "
        "(Mosquitto), so that every desktop of the office shares one link.  Desktops control "
        "calls through it within the rights file.  See docs/mqtt.md.",
    )
    add_pbx_options(p)
    p.add_argument(
        "--device",
        "-d",
        action="append",
        default=[],
        metavar="N",
        required=True,
        help="device(s) to monitor: 100, or a range 100-120, or 100,101,200-205 (repeatable)",
    )
    add_broker_options(p, required=True)
    p.add_argument(
        "--rights",
        metavar="TOML",
        default=env.get("CSTAPOPUP_RIGHTS") or None,
        help="the rights file: which broker user may control which devices "
        '([users] alice = ["100", "101"]); without it nobody may control calls',
    )
    p.add_argument(
        "--buffer",
        type=int,
        default=100_000,
        metavar="N",
        help="messages kept while the broker is away (oldest dropped beyond, logged)",
    )
    p.add_argument(
        "--keepalive",
        type=float,
        default=20.0,
        help="seconds of PBX silence before the link is probed",
    )
    p.add_argument("--debug", action="store_true", help="debug log and hex wire trace")
    p.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    p.set_defaults(func=run)


def broker_settings(args: argparse.Namespace) -> Any:
    from cstapopup.gateway.broker import parse_broker_url

    password = args.broker_password
    if password is None:
        password = os.environ.get("CSTAPOPUP_BROKER_PASSWORD") or None
    return parse_broker_url(
        args.broker, user=args.broker_user, password=password, ca_file=args.broker_ca
    )


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    # journald stamps each line itself; a terminal gets the time.
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if os.environ.get("JOURNAL_STREAM")
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    if not args.debug:
        logging.getLogger("cstapopup.wire").setLevel(logging.INFO)


def run(args: argparse.Namespace) -> int:
    _setup_logging(args)
    from cstapopup.csta.tlsconfig import TlsConfigError, client_context
    from cstapopup.gateway.broker import BrokerError
    from cstapopup.gateway.rights import RightsError, RightsFile, parse_devices

    try:
        devices = parse_devices(args.device)
        broker = broker_settings(args)
        broker.ssl_context()  # a CA file that cannot be used is a usage error, said now
        pbx_ssl = client_context(bool(args.tls or args.ca_file), args.ca_file)
        rights = RightsFile(args.rights)
        from cstapopup.gateway import broker as broker_mod
        from cstapopup.gateway import wire

        wire.Topics(args.site)
        broker_mod.aiomqtt_module()
    except (RightsError, TlsConfigError, BrokerError, ValueError) as exc:
        print(f"cstapopup gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 < args.port < 65536 or args.buffer < 1:
        print("cstapopup gateway: --port must be 1..65535 and --buffer positive", file=sys.stderr)
        return EXIT_USAGE
    if not args.rights:
        log.warning("no --rights file: no desktop may control calls through this gateway")
    return asyncio.run(serve(args, devices, broker, pbx_ssl, rights))


async def serve(
    args: argparse.Namespace, devices: list[str], broker: Any, pbx_ssl: Any, rights: Any
) -> int:
    from cstapopup.csta.client import AssociationRejectedError, ClientOptions
    from cstapopup.gateway.broker import BrokerAuthError, SessionTakenOver
    from cstapopup.gateway.service import Gateway, GatewayOptions, NoDeviceMonitored, PbxSettings

    options = GatewayOptions(
        buffer_size=args.buffer, client=ClientOptions(keepalive_interval=args.keepalive)
    )
    gateway = Gateway(
        PbxSettings(args.host, args.port, args.user, pbx_password(args), pbx_ssl),
        broker,
        devices,
        site=args.site,
        rights=rights,
        options=options,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with _suppress_no_signals():
            loop.add_signal_handler(sig, gateway.stop)
    try:
        await gateway.run()
        return EXIT_OK
    except AssociationRejectedError as exc:
        log.error("the PBX refused the association: %s", exc)
        return EXIT_REJECTED
    except BrokerAuthError as exc:
        log.error("%s", exc)
        return EXIT_BROKER_AUTH
    except SessionTakenOver as exc:
        log.error("%s", exc)
        return EXIT_TAKEN_OVER
    except NoDeviceMonitored as exc:
        log.error("%s", exc)
        return EXIT_ERROR
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with _suppress_no_signals():
                loop.remove_signal_handler(sig)


def _suppress_no_signals() -> contextlib.AbstractContextManager[None]:
    """Signal handlers cannot be set on Windows (NotImplementedError) or off the main
    thread (RuntimeError): then Ctrl+C ends the command as usual."""
    return contextlib.suppress(NotImplementedError, RuntimeError)


# `cstapopup monitor --broker` -------------------------------------------------------------

#: monitor.show_item (passed in: monitor imports this module when it is asked for --broker).
ShowItem = Callable[[Any, bool, TextIO, Any], None]


def run_monitor(args: argparse.Namespace, show_item: ShowItem) -> int:
    """`cstapopup monitor --broker ...`: the same output as a monitor of the PBX, with the
    events the office gateway publishes."""
    from cstapopup.gateway.broker import BrokerError

    try:
        broker = broker_settings(args)
        broker.ssl_context()
        from cstapopup.gateway import broker as broker_mod
        from cstapopup.gateway import wire

        wire.Topics(args.site)
        for d in args.device:
            wire.check_device(d)
        broker_mod.aiomqtt_module()
    except (BrokerError, ValueError) as exc:
        print(f"cstapopup monitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(monitor_broker(args, broker, show_item))


async def monitor_broker(
    args: argparse.Namespace,
    broker: Any,
    show_item: ShowItem,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    from cstapopup.csta.client import LinkStateChanged, MonitorEvent, MonitorSnapshot
    from cstapopup.gateway.broker import BrokerAuthError, BrokerError
    from cstapopup.gateway.client import GatewayClient, GatewayClientOptions

    client = GatewayClient(broker, args.site, GatewayClientOptions(reconnect=not args.once))
    recorder = recording = None
    if args.record or args.db:
        # As `monitor --record` over a PBX link: the one writer, its timer, its messages.
        from cstapopup.calls.store import HistoryError
        from cstapopup.commands.recording import Recording

        try:
            recording = Recording.open(args.db, args.device, snapshots=True, err=err)
        except HistoryError as exc:
            print(f"cstapopup monitor: {exc}", file=err)
            return EXIT_ERROR
        recorder = recording.recorder
        recording.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with _suppress_no_signals():
            loop.add_signal_handler(sig, stop.set)
    exit_code = EXIT_OK

    async def consume() -> None:
        nonlocal exit_code
        async for item in client.events():
            if isinstance(item, LinkStateChanged):
                extra = f" (retry in {item.retry_in:.1f} s)" if item.retry_in else ""
                print(
                    f"cstapopup monitor: link {item.state}: {item.reason}{extra}",
                    file=err,
                    flush=True,
                )
                if item.state in ("down", "rejected"):
                    if recorder is not None:
                        recorder.link_lost()
                    if item.state == "rejected":  # the broker refused us: it stopped trying
                        exit_code = EXIT_BROKER_AUTH
                        stop.set()
                    elif args.once:
                        exit_code = EXIT_CONNECT
                        stop.set()
            elif isinstance(item, (MonitorSnapshot, MonitorEvent)):
                show_item(item, args.json, out, recorder)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    try:
        for device in args.device:
            await client.monitor_start(device)
        try:
            await client.connect()
        except BrokerAuthError as exc:
            print(f"cstapopup monitor: {exc}", file=err)
            return EXIT_BROKER_AUTH
        except BrokerError as exc:
            print(f"cstapopup monitor: {exc}", file=err)
            return EXIT_CONNECT
        print(
            f"cstapopup monitor: following {', '.join(args.device)} through {broker.url} "
            f"(site {args.site})",
            file=err,
            flush=True,
        )
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
            with _suppress_no_signals():
                loop.remove_signal_handler(sig)
    if (
        recording is not None
        and recording.final is not None
        and recording.final.lost
        and exit_code == EXIT_OK
    ):
        exit_code = EXIT_ERROR  # calls were lost: said on stderr, and in the exit status
    return exit_code
