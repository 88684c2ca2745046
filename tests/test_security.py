"""Security properties, each checked for real: private files, no password in any log, trace,
export, repr or crash report, the simulator on loopback by default, bounded sizes from the
network through the asyncio client and the simulator.

The password used throughout is recognisable text; every check also looks for its hex form,
since the wire trace is hex.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest

from cstapopup.calls.recorder import Recorder
from cstapopup.csta import codec
from cstapopup.csta.client import (
    AssociationRejectedError,
    ClientOptions,
    ConnectError,
    CstaClient,
    CstaClientError,
    RequestTimeout,
)
from cstapopup.csta.connection import ClientConnection
from cstapopup.csta.framing import FrameReader, frame
from cstapopup.csta.switch.server import SwitchServer, mask_password
from cstapopup.csta.testing.faultproxy import FaultProxy
from cstapopup.settings import (
    PASSWORD_STORAGE_PLAINTEXT,
    ConnectionParameters,
    PasswordStore,
    Settings,
)

from . import vectors as v
from .client_helpers import QUICK_CLIENT, Collector

PASSWORD = "Pw-7f3a-S3cret-q9"
WRONG = "Wrong-9c1d-Guess-x4"
TIMEOUT = 15.0
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def forms(secret: str) -> list[str]:
    """Every way a secret could show up in text: as is, and as hex (spaced, plain, any case)."""
    raw = secret.encode("latin-1")
    return [secret, raw.hex(" "), raw.hex(), raw.hex(" ").upper(), raw.hex().upper(),
            raw.hex(":"), raw.hex(":").upper()]


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets or (PASSWORD,):
        for form in forms(secret):
            assert form not in text, f"the password appears as {form!r}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def wire_loggers_propagate():
    """The wire loggers reach caplog (a `--debug` run in the same process may have detached
    them), and are restored afterwards."""
    names = ("cstapopup.wire", "cstapopup.csta.switch.wire", "cstapopup.csta.switch")
    saved = {n: (logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names}
    for n in names:
        logging.getLogger(n).propagate = True
        logging.getLogger(n).setLevel(logging.NOTSET)
    yield
    for n, (propagate, level) in saved.items():
        logging.getLogger(n).propagate = propagate
        logging.getLogger(n).setLevel(level)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cstapopup", *args]


# Private files ----------------------------------------------------------------------------------


@posix_only
def test_the_config_file_and_its_folder_are_private_whatever_the_umask(tmp_path):
    path = tmp_path / "new" / "cstapopup" / "config.toml"
    settings = Settings(path)
    settings.set("pbx.password_storage", PASSWORD_STORAGE_PLAINTEXT)
    settings.plaintext_password = PASSWORD
    with umask(0o000):
        settings.save()
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600
    assert PASSWORD in path.read_text()  # the user chose plain text: it is there, privately
    # Saved again over a file someone made readable: still 0600 (written anew, atomically).
    os.chmod(path, 0o644)
    with umask(0o000):
        settings.save()
    assert mode(path) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "config.toml"]  # no temp left


@posix_only
def test_a_readable_config_file_holding_the_password_is_made_private_on_load(tmp_path):
    path = tmp_path / "config.toml"
    settings = Settings(path)
    settings.set("pbx.password_storage", PASSWORD_STORAGE_PLAINTEXT)
    settings.plaintext_password = PASSWORD
    settings.save()
    os.chmod(path, 0o644)
    loaded, warnings = Settings.load(path)
    assert loaded.plaintext_password == PASSWORD
    assert mode(path) == 0o600
    assert any("0600" in w for w in warnings)
    assert_no_secret("\n".join(warnings))


@posix_only
def test_the_history_database_and_its_folder_are_private_whatever_the_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("CSTAPOPUP_DATA_DIR", str(tmp_path / "data" / "cstapopup"))
    with umask(0o000):
        recorder = Recorder.open(None, monitored=["100"])   # the default place
        try:
            _record_one_call(recorder)
            db = recorder.store.path
            assert db == tmp_path / "data" / "cstapopup" / "history.sqlite3"
            assert mode(db.parent) == 0o700
            files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
            assert all(f.exists() for f in files)  # WAL mode: the companions exist now
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        finally:
            recorder.close()


def _record_one_call(recorder: Recorder) -> None:
    from cstapopup.csta.switch.model import SwitchModel

    model = SwitchModel(["100", "101"], listener=lambda step: [
        recorder.feed(n.device, n.event) for n in step.notifications])
    step = model.incoming_call("00891234567", "100")
    model.answer(step.call, "100")
    model.hang_up(step.call, "100")
    assert list(recorder.store.iter_calls())


# No password in logs ---------------------------------------------------------------------------


async def test_no_password_in_the_client_or_simulator_logs_with_the_wire_trace_on(
        caplog, wire_loggers_propagate):
    caplog.set_level(logging.DEBUG)
    server = SwitchServer(port=0, devices="100-103", password=PASSWORD, speed=40, trace=True)
    await server.start()
    client = CstaClient("127.0.0.1", server.port, "AMHOST", PASSWORD, options=ClientOptions(**QUICK_CLIENT))
    col = Collector(client, TIMEOUT)
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
        await server.run_scenario("incoming-answered", "100", timeout=20)
        await col.wait(lambda: "connection_cleared" in [e.event.name for e in col.events])
        # and a login with a wrong password, which both sides also log
        wrong = CstaClient("127.0.0.1", server.port, "AMHOST", WRONG, options=ClientOptions(**QUICK_CLIENT))
        with pytest.raises(AssociationRejectedError):
            await asyncio.wait_for(wrong.connect(), TIMEOUT)
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await col.stop()
        await server.stop()
    text = caplog.text
    # The test is only worth something if the traces ran: the client's (">>") and the
    # simulator's (with the masked AARQ) are both in the log.
    assert ">> 26 80" in text and "<< 26" in text
    assert "aarq" in text.lower() or "association" in text.lower()
    assert "** **" in text  # the simulator's masked password octets
    assert_no_secret(text, PASSWORD, WRONG)


def test_the_simulator_trace_masks_long_passwords_too():
    for secret in ("7", "77777", "L" * 127, "M" * 128, "N" * 300):
        data = frame(codec.encode_apdu(codec.AssociationRequest("AMHOST", secret)))
        text = mask_password(data, secret)
        assert secret.encode().hex(" ") not in text
        assert "**" in text or "not shown" in text


async def test_no_password_on_the_stderr_of_monitor_debug(tmp_path):
    server = SwitchServer(port=0, devices="100-101", password=PASSWORD, speed=40)
    await server.start()
    env = {**os.environ, "CSTAPOPUP_PASSWORD": PASSWORD, "CSTAPOPUP_DATA_DIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        *_cli("monitor", "--port", str(server.port), "--device", "100", "--debug", "--record"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=TIMEOUT)
        await server.run_scenario("incoming-missed", "100", timeout=20)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        await server.stop()
    text = err.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert ">> 26 80" in text  # the wire trace was on
    assert_no_secret(text)
    db = tmp_path / "history.sqlite3"
    assert db.exists() and (os.name != "posix" or mode(db) == 0o600)


def test_no_password_on_stderr_when_monitor_is_rejected():
    async def run() -> tuple[int, str]:
        server = SwitchServer(port=0, devices="100-101", password=PASSWORD)
        await server.start()
        try:
            proc = await asyncio.create_subprocess_exec(
                *_cli("monitor", "--port", str(server.port), "-d", "100", "--debug"),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "CSTAPOPUP_PASSWORD": WRONG})
            _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        finally:
            await server.stop()
        return proc.returncode, err.decode("utf-8", "replace")

    code, err = asyncio.run(run())
    assert code == 3, err
    assert "password" in err  # it says what to check ...
    assert_no_secret(err, PASSWORD, WRONG)  # ... without showing either


async def test_a_password_the_pbx_cannot_receive_is_a_clear_rejection_not_a_hang(caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Geh€im-Schlüssel-42"
    server = SwitchServer(port=0, devices="100-101")
    await server.start()
    try:
        client = CstaClient("127.0.0.1", server.port, "AMHOST", secret,
                            options=ClientOptions(**QUICK_CLIENT))
        with pytest.raises(AssociationRejectedError, match="cannot be sent") as info:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    finally:
        await server.stop()
    text = caplog.text + str(info.value) + "".join(traceback.format_exception(info.value))
    for piece in (secret, "€", "\\u20ac", "Schlüssel"):
        assert piece not in text


async def test_liveness_probes_on_a_quiet_link_log_no_warnings(caplog, wire_loggers_propagate):
    """A quiet link is probed every keepalive_interval; the answers are expected, not
    "results for unknown invoke ids" (that was a warning every 20 s on a quiet night)."""
    caplog.set_level(logging.DEBUG)
    server = SwitchServer(port=0, devices="100-101")
    await server.start()
    client = CstaClient("127.0.0.1", server.port, options=ClientOptions(
        **{**QUICK_CLIENT, "keepalive_interval": 0.1, "keepalive_timeout": 2.0}))
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)

        def probes() -> int:  # frames sent after the AARQ and the SystemStatus answer
            return sum(1 for r in caplog.records
                       if r.name == "cstapopup.wire" and r.getMessage().startswith(">>")) - 2

        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while not (probes() >= 4 and client._conn is not None and not client._conn.pending):
            assert asyncio.get_running_loop().time() < deadline, "the probes were not answered"
            await asyncio.sleep(0.05)
        assert client.state == "up"
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await server.stop()
    assert "unknown invoke id" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# No password in history exports ------------------------------------------------------------------


async def test_no_password_in_history_exports(tmp_path):
    db = tmp_path / "h.sqlite3"
    server = SwitchServer(port=0, devices="100-101", password=PASSWORD, speed=40)
    await server.start()
    recorder = Recorder.open(db, monitored=["100", "101"])
    client = CstaClient("127.0.0.1", server.port, "AMHOST", PASSWORD, options=ClientOptions(**QUICK_CLIENT))
    client.on("*", recorder.feed)
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        for d in ("100", "101"):
            await asyncio.wait_for(client.monitor_start(d), TIMEOUT)
        for name in ("incoming-answered", "internal"):
            await server.run_scenario(name, "100", timeout=20)
        await server.wait_for(lambda: True, 1)
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await server.stop()
        recorder.close()
    outputs = []
    for fmt in ("csv", "json", "table"):
        proc = subprocess.run(_cli("history", "--db", str(db), "--limit", "0", "--format", fmt),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    assert json.loads(outputs[1])  # the export has calls in it
    assert_no_secret("\n".join(outputs))
    assert_no_secret(db.read_bytes().decode("latin-1"))


# No password in repr() ------------------------------------------------------------------------


def test_no_password_in_any_repr(tmp_path):
    client = CstaClient("192.0.2.1", 7001, "AMHOST", PASSWORD)
    settings = Settings(tmp_path / "config.toml")
    settings.set("pbx.password_storage", PASSWORD_STORAGE_PLAINTEXT)
    settings.plaintext_password = PASSWORD
    params = ConnectionParameters("192.0.2.1", 7001, "AMHOST", password=PASSWORD, tls=True)
    server = SwitchServer(password=PASSWORD)
    conn = ClientConnection()
    conn.associate("AMHOST", PASSWORD)
    # The way through the office gateway: its settings, parameters, link and client.
    from cstapopup.calls.gateway_link import GatewayLink
    from cstapopup.settings import LINK_GATEWAY, GatewayParameters

    settings.set_plaintext_password(LINK_GATEWAY, PASSWORD)
    gateway = GatewayParameters("mqtts://broker.example:8883", "alice", PASSWORD)
    link = GatewayLink(gateway, ["100"], on_state=lambda c: None, on_event=lambda d, e: None)
    things = [client, client.options, settings, params, server, PasswordStore(settings), conn,
              codec.AssociationRequest("AMHOST", PASSWORD), gateway, link, link.client,
              link.client.broker, PasswordStore(settings, kind=LINK_GATEWAY)]
    text = "\n".join(repr(t) + "\n" + str(t) for t in things)
    assert "192.0.2.1" in text and "AMHOST" in text and "broker.example" in text
    assert_no_secret(text)


# No password in crash reports --------------------------------------------------------------------


async def test_a_crash_while_connecting_is_logged_without_the_password(caplog, monkeypatch):
    """A bug inside the association (the password is a local variable there) is logged with
    its traceback, the connect fails with a ConnectError (no hang), and the password is in
    neither."""
    caplog.set_level(logging.DEBUG)

    def broken_associate(self, user: str, password: str) -> None:
        secret_copy = password  # the password as a local, as a crash reporter would see it
        raise RuntimeError(f"simulated bug after reading {len(secret_copy)} characters")

    monkeypatch.setattr(ClientConnection, "associate", broken_associate)
    server = SwitchServer(port=0, devices="100-101", password=PASSWORD)
    await server.start()
    try:
        client = CstaClient("127.0.0.1", server.port, "AMHOST", PASSWORD,
                            options=ClientOptions(**QUICK_CLIENT))
        with pytest.raises(ConnectError, match="internal error") as info:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    finally:
        await server.stop()
    assert "Traceback" in caplog.text and "simulated bug" in caplog.text  # it was reported
    report = caplog.text + "".join(traceback.format_exception(info.value))
    assert_no_secret(report)


async def test_a_crash_on_an_up_link_is_logged_without_the_password_and_the_link_comes_back(
        caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    server = SwitchServer(port=0, devices="100-101", password=PASSWORD, speed=40)
    await server.start()
    client = CstaClient("127.0.0.1", server.port, "AMHOST", PASSWORD, options=ClientOptions(**QUICK_CLIENT))
    col = Collector(client, TIMEOUT)
    original = CstaClient._handle_events
    crashed = []

    def handle_events(self, events):
        events = list(events)
        if not crashed and any(type(e).__name__ == "EventReceived" for e in events):
            crashed.append(True)
            password = self._password  # noqa: F841 - a local a crash reporter would show
            raise KeyError("simulated bug in event handling")
        return original(self, events)

    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
        monkeypatch.setattr(CstaClient, "_handle_events", handle_events)
        await server.run_scenario("incoming-missed", "100", timeout=20)
        await col.wait(lambda: any(s.state == "down" and "internal error" in s.reason
                                   for s in col.states))
        await col.wait(lambda: sum(s.state == "up" for s in col.states) >= 2)
        await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=TIMEOUT)
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await col.stop()
        await server.stop()
    assert "simulated bug in event handling" in caplog.text
    assert_no_secret(caplog.text)


def test_an_uncaught_exception_in_the_cli_prints_no_password(tmp_path):
    """The CLI leaves tracebacks to Python's default excepthook, which shows no local
    variables: a crash with the password in a local prints the traceback without it."""
    script = textwrap.dedent("""
        import sys
        import cstapopup.commands.monitor as monitor
        from cstapopup import cli

        class Crashing:
            def __init__(self, host, port, user, password, options=None):
                secret = password
                raise RuntimeError("simulated crash")

        monitor.CstaClient = Crashing
        sys.exit(cli.main(["monitor", "--port", "7001", "-d", "100"]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "CSTAPOPUP_PASSWORD": PASSWORD})
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "simulated crash" in proc.stderr
    assert_no_secret(proc.stderr + proc.stdout)


# Listening -------------------------------------------------------------------------------------


async def test_the_simulator_listens_on_loopback_unless_told_otherwise():
    assert SwitchServer().host == "127.0.0.1"
    server = SwitchServer(port=0)
    await server.start()
    try:
        addresses = {s.getsockname()[0] for s in server._server.sockets}
    finally:
        await server.stop()
    assert addresses == {"127.0.0.1"}
    from cstapopup import cli

    args = cli.build_parser(["sim"]).parse_args(["sim"])
    assert args.host == "127.0.0.1"
    assert FaultProxy("127.0.0.1", 1).listen_host == "127.0.0.1"


# Sizes from the network ----------------------------------------------------------------------


async def _mute_pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    events: list[bytes] = ()) -> None:
    """A PBX that accepts the association and MonitorStart and answers nothing else; after
    MonitorStart it sends `events`."""
    frames = FrameReader()
    try:
        while data := await reader.read(65536):
            for apdu in frames.feed(data):
                msg = codec.decode_apdu(apdu)
                if isinstance(msg, codec.AssociationRequest):
                    writer.write(frame(codec.encode_apdu(codec.AssociationResponse(0, 0)))
                                 + frame(v.SYSTEM_STATUS))
                elif isinstance(msg, codec.Invoke) and msg.operation == 71:
                    writer.write(frame(codec.encode_apdu(codec.ReturnResult(
                        msg.invoke_id, 71, {"crossRefIdentifier": b"\x00\x01"}))))
                    writer.write(b"".join(events))
                elif isinstance(msg, codec.ReleaseRequest):
                    writer.write(frame(codec.encode_apdu(codec.ReleaseResponse())))
            await writer.drain()
    except (ConnectionError, OSError):
        pass


async def test_pending_requests_through_the_client_are_bounded():
    """1100 requests at once to a PBX that answers none: 1024 wait (the connection's bound),
    the rest fail at once; the slots come back when the waiting ones time out."""
    server = await asyncio.start_server(_mute_pbx, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = CstaClient("127.0.0.1", port, options=ClientOptions(
        reconnect=False, connect_timeout=TIMEOUT, request_timeout=2.0, keepalive_interval=60))
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        tasks = [asyncio.ensure_future(client.snapshot_device("100")) for _ in range(1100)]
        await asyncio.sleep(0)  # every task has sent or failed
        assert len(client._futures) == 1024 and len(client._conn.pending) == 1024
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIMEOUT)
        refused = [r for r in results if type(r) is CstaClientError]
        timed_out = [r for r in results if isinstance(r, RequestTimeout)]
        assert len(refused) == 76 and all("already pending" in str(r) for r in refused)
        assert len(timed_out) == 1024
        assert client._futures == {} and client._conn.pending == {}
        assert client.state == "up"
        # a slot is free again
        late = asyncio.ensure_future(client.snapshot_device("100"))
        await asyncio.sleep(0)
        assert len(client._conn.pending) == 1
        late.cancel()
    finally:
        await asyncio.wait_for(client.close(timeout=1.0), TIMEOUT)
        server.close()
        await server.wait_closed()


async def test_coroutine_callbacks_running_at_once_are_bounded(caplog):
    count = 50
    report = codec.decode_apdu(v.CONNECTION_CLEARED)
    events = [frame(codec.encode_apdu(codec.EventReport(200 + i, report.event)))
              for i in range(count)]
    server = await asyncio.start_server(
        lambda r, w: _mute_pbx(r, w, events=events), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = CstaClient("127.0.0.1", port, options=ClientOptions(
        reconnect=False, connect_timeout=TIMEOUT, max_callback_tasks=5))
    release = asyncio.Event()
    started: list[str] = []
    seen: list[str] = []
    all_seen = asyncio.Event()

    async def slow(device, event) -> None:
        started.append(device)
        await release.wait()

    def fast(device, event) -> None:
        seen.append(device)
        if len(seen) == count:
            all_seen.set()

    client.on("*", slow)
    client.on("*", fast)
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
        await asyncio.wait_for(all_seen.wait(), TIMEOUT)
        await asyncio.sleep(0)
        assert len(client._callback_tasks) == 5 and len(started) == 5
        assert caplog.text.count("too many callbacks still running") == count - 5
        release.set()
        done = [t for t in list(client._callback_tasks)]
        await asyncio.wait_for(asyncio.gather(*done), TIMEOUT)
        assert not client._callback_tasks
    finally:
        release.set()
        await asyncio.wait_for(client.close(timeout=1.0), TIMEOUT)
        server.close()
        await server.wait_closed()


async def test_the_simulator_drops_a_link_announcing_a_huge_frame_and_serves_on():
    server = SwitchServer(port=0, devices="100-101")
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x26\xff\xff" + b"\x00" * 1000)  # announces 32767 bytes
        await writer.drain()

        async def until_closed() -> None:
            while await reader.read(65536):
                pass

        await asyncio.wait_for(until_closed(), TIMEOUT)
        writer.close()
        # another client is served normally
        client = CstaClient("127.0.0.1", server.port, options=ClientOptions(**QUICK_CLIENT))
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert client.state == "up"
        await asyncio.wait_for(client.close(), TIMEOUT)
    finally:
        await server.stop()
