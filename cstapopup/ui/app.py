"""`cstapopup` without a subcommand: the desktop app (tray, popups, history), its options, the
single-instance rule, and the self-test.

    cstapopup                   the app with the PBX from the settings
    cstapopup --demo            a simulated PBX with made-up calls (nothing to set up)
    cstapopup --self-test       start, take a simulated call, answer it, put it through to a
                                colleague; check popup, answer, transfer and history; exit
                                (it prints the popup's texts as shown, in the app's language)

Qt and asyncio share one thread through qasync.  A second start of the app signals the
running one (which brings its history window forward) and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

#: The self-test's bound on everything it waits for (seconds).
SELF_TEST_TIMEOUT = 30.0
#: Virtual seconds per real second of the self-test's simulated call.
SELF_TEST_SPEED = 20.0
#: The self-test's caller, where its call rings, and the colleague it is put through to.
SELF_TEST_CALLER = "00891234567"
SELF_TEST_DEVICE = "100"
SELF_TEST_COLLEAGUE = "101"
#: How long a second start waits for the running instance to answer (ms).
INSTANCE_TIMEOUT_MS = 1000

#: Exit codes of the desktop app (also in `cstapopup --help`).
EXIT_OK, EXIT_SELF_TEST_FAILED, EXIT_USAGE, EXIT_NO_DISPLAY = 0, 1, 2, 3
EXIT_CODES = (
    f"exit codes of the app: {EXIT_OK} ended normally (or brought the running one "
    f"forward), {EXIT_SELF_TEST_FAILED} the self-test failed, {EXIT_USAGE} usage "
    f"error, {EXIT_NO_DISPLAY} no display to show windows on, 130 interrupted."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cstapopup",
        description="Call popup and call history for Siemens HiPath / OpenScape PBXs (CSTA). "
        "Without options: the desktop app with the PBX from its settings. "
        "Subcommands (decode, monitor, sim, history, gateway): see cstapopup "
        "--help.",
        epilog=EXIT_CODES,
    )
    add_app_options(parser)
    return parser


def add_app_options(parser: argparse.ArgumentParser | Any) -> None:
    """The desktop app's options, on `parser` (or an argument group of it): the app's own
    parser, and `cstapopup --help`, which lists them beside the subcommands (without Qt)."""
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run with a simulated PBX and made-up calls (devices 100-120, "
        "monitoring 100-105, your phone 100); your settings and "
        "history stay untouched",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="start against a simulated PBX, take a call, answer it and put it "
        "through to a colleague, printing each step; exit 0 if the popup, "
        "the answer, the transfer and the history row all happened",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="log in detail to stderr, with a hex trace of every CSTA frame",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="demo: the random seed (the same seed gives the same calls)",
    )
    parser.add_argument(
        "--rate", type=_positive_float, default=4.0, help="demo: calls per minute (default: 4)"
    )
    parser.add_argument("--speed", type=_positive_float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if debug:
        logging.getLogger("cstapopup.wire").setLevel(logging.DEBUG)
        # Qt's own event loop debugging drowns the wire trace.
        logging.getLogger("qasync").setLevel(logging.INFO)


def process_age() -> float | None:
    """Seconds since this process started (Linux: from /proc), else None."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# --- single instance ---------------------------------------------------------------------------


def instance_name(demo: bool = False) -> str:
    """The local socket's name: per user and per configuration folder (several profiles, and
    tests with their own folders, do not meet), the demo apart from the real app."""
    from cstapopup.settings import config_dir

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha1(f"{user}\0{config_dir()}".encode()).hexdigest()[:12]
    return f"cstapopup-{digest}" + ("-demo" if demo else "")


def make_single_instance(name: str) -> Any:
    """A `SingleInstance` (Qt is imported only here)."""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

    class SingleInstance(QObject):
        """One app per user: the first start listens on a local socket; a later one connects,
        says "show", and exits.  `activated` fires in the first when a later one started."""

        activated = Signal()

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name
            self.server: QLocalServer | None = None

        def signal_running(self, timeout_ms: int = INSTANCE_TIMEOUT_MS) -> bool:
            """True if an instance runs (and was told to come forward)."""
            sock = QLocalSocket()
            sock.connectToServer(self.name)
            if not sock.waitForConnected(timeout_ms):
                return False
            sock.write(b"show\n")
            sock.flush()
            sock.waitForBytesWritten(timeout_ms)
            # Wait for its answer so that it has read the request before we go.
            sock.waitForReadyRead(timeout_ms)
            sock.disconnectFromServer()
            return True

        def listen(self) -> bool:
            server = QLocalServer(self)
            server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
            if not server.listen(self.name):
                if server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
                    log.warning(
                        "single instance: cannot listen on %s: %s", self.name, server.errorString()
                    )
                    return False
                # Nobody answered on it (signal_running said so): a socket file left by an
                # instance that crashed.  Remove it and take over.
                log.info("removing the stale instance socket %s", self.name)
                QLocalServer.removeServer(self.name)
                if not server.listen(self.name):
                    log.warning("single instance: %s", server.errorString())
                    return False
            server.newConnection.connect(self._on_connection)
            self.server = server
            return True

        def close(self) -> None:
            if self.server is not None:
                self.server.close()
                self.server = None

        def _on_connection(self) -> None:
            server = self.server
            while server is not None and server.hasPendingConnections():
                sock = server.nextPendingConnection()
                sock.readyRead.connect(lambda s=sock: self._read(s))
                sock.disconnected.connect(sock.deleteLater)
                if sock.bytesAvailable():
                    self._read(sock)

        def _read(self, sock: QLocalSocket) -> None:
            while sock.canReadLine():
                line = bytes(sock.readLine().data()).strip()
                if line == b"show":
                    log.info("cstapopup was started again: showing the history window")
                    sock.write(b"ok\n")
                    sock.flush()
                    self.activated.emit()

    return SingleInstance(name)


# --- running -----------------------------------------------------------------------------------


def settle_memory() -> None:
    """After start-up: move everything allocated so far (Qt wrappers, the codec's tables, the
    phone number metadata: hundreds of thousands of objects that live as long as the app) out
    of the garbage collector's sight.  A full collection otherwise walks them all and stalls
    the loop for ~30 ms, which shows as a late popup now and then (benchmarks/popup.py)."""
    gc.collect()
    gc.freeze()


def install_signal_handlers(loop: asyncio.AbstractEventLoop, quit_: Callable[[], None]) -> Any:
    """SIGINT / SIGTERM end the app cleanly.  Returns an object to keep alive (a timer on
    platforms where Python's handlers need the interpreter woken up regularly)."""
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, quit_)
        return None
    except (NotImplementedError, RuntimeError, AttributeError, ValueError):
        pass
    from PySide6.QtCore import QTimer

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(quit_))
    # Python runs signal handlers only when it gets control: let it, four times a second.
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer


def _route_qt_messages() -> None:
    """Qt's own messages into logging: most are notes for developers ("This plugin does not
    support raise()" on the offscreen platform); --debug shows them."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    qt_log = logging.getLogger("cstapopup.qt")
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.DEBUG,
        QtMsgType.QtWarningMsg: logging.INFO,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(kind: Any, _context: Any, message: str) -> None:
        qt_log.log(levels.get(kind, logging.INFO), "%s", message)

    qInstallMessageHandler(handler)


def _qt_app(argv0: str) -> Any:
    from PySide6.QtWidgets import QApplication

    from cstapopup.ui import icons

    _route_qt_messages()
    app = QApplication.instance() or QApplication([argv0])
    # The windows are widgets: an instance made before (the tests' one) is a QApplication too.
    assert isinstance(app, QApplication)
    app.setApplicationName("cstapopup")
    app.setApplicationDisplayName("cstapopup")
    app.setDesktopFileName("cstapopup")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(icons.app_icon())
    return app


# --- the display -------------------------------------------------------------------------------


def display_problem(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why Qt will not be able to open a display here (it would abort the process with
    "Reinstalling the application may fix this problem"), or None when it should.

    Only Linux is checked, and only for Qt's X11 platform: without QT_QPA_PLATFORM and
    without WAYLAND_DISPLAY, DISPLAY must be set and its X server must take a connection
    (tried with libxcb, which Qt's X11 platform loads anyway).  Other platforms (offscreen,
    wayland, vnc) are Qt's own business."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and qpa.split(":", 1)[0] != "xcb":
        return None
    display = env.get("DISPLAY", "")
    if not qpa and env.get("WAYLAND_DISPLAY"):
        return None
    if not display:
        return (
            "DISPLAY is not set" if qpa else "neither DISPLAY nor WAYLAND_DISPLAY is set"
        ) + " (no desktop session here)"
    problem = _xcb_problem(display)
    return f"the X display {display} cannot be opened ({problem})" if problem else None


def _xcb_problem(display: str) -> str | None:
    """Connect to the X server of `display` and leave again: None if that worked, else why.
    None too when libxcb is not there to try (Qt then says what it says)."""
    import ctypes

    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        error = xcb.xcb_connection_has_error(connection) if connection else 1
    finally:
        if connection:
            xcb.xcb_disconnect(connection)
    if not error:
        return None
    return {
        1: "no X server answers there, or it does not let this user in",
        5: "that is not a display name",
        6: "it has no such screen",
    }.get(error, f"libxcb error {error}")


def no_display_message(problem: str) -> str:
    return (
        f"cstapopup: cannot open the display: {problem}.\n"
        "Start cstapopup in a desktop session (or set DISPLAY). To run it without a "
        "screen, for tests, set QT_QPA_PLATFORM=offscreen; `cstapopup --self-test` checks "
        "an installation without one."
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    setup_logging(args.debug)
    if args.self_test:
        return self_test()
    problem = display_problem()
    if problem is not None:
        # Qt would abort (SIGABRT, exit code 134) with advice to reinstall: say what is wrong.
        print(no_display_message(problem), file=sys.stderr)
        return EXIT_NO_DISPLAY

    import qasync

    from cstapopup.ui.controller import AppController, AppOptions

    app = _qt_app(sys.argv[0] if sys.argv else "cstapopup")
    instance = make_single_instance(instance_name(args.demo))
    if instance.signal_running():
        print("cstapopup is already running: its window was brought forward.")
        return 0
    instance.listen()

    options = AppOptions(demo=args.demo, seed=args.seed, rate=args.rate, speed=args.speed)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(options)
    instance.activated.connect(controller.show_history)
    if args.startup_probe:

        def probe(what: str) -> None:
            age = process_age()
            print(
                f"startup-probe: {what} shown at {time.time():.6f}"
                + (f" ({age:.3f} s after process start)" if age is not None else ""),
                flush=True,
            )
            loop.call_soon(controller.request_quit)

        controller.ui_shown_hooks.append(probe)

    async def run() -> int:
        keep = install_signal_handlers(loop, controller.request_quit)
        try:
            await controller.start()
            settle_memory()
            await controller.wait_quit()
        finally:
            try:
                await asyncio.wait_for(controller.shutdown(), 10)
            except TimeoutError:
                log.warning("shutting down took too long; leaving anyway")
            del keep
        return 0

    try:
        with loop:
            return loop.run_until_complete(run())
    except KeyboardInterrupt:
        return 130
    finally:
        instance.close()
        asyncio.set_event_loop(None)


# --- the self-test -----------------------------------------------------------------------------


def self_test(timeout: float = SELF_TEST_TIMEOUT) -> int:
    """Start the app against an embedded simulator and take a call through the app as a
    receptionist would: it rings at 100 (the popup), is answered with the popup's Answer,
    and put through to colleague 101 from the console; the history must show it transferred
    to 101.  Prints each step; 0 if every step happened, 1 if not."""
    if (
        not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        and sys.platform.startswith("linux")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # CI, a server: no screen needed
    import qasync

    from cstapopup.i18n import translate
    from cstapopup.ui.controller import AppController, AppOptions

    app = _qt_app("cstapopup")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(
        AppOptions(self_test=True, speed=SELF_TEST_SPEED), tray_available=False
    )
    try:
        with loop:
            ok, lines = loop.run_until_complete(_self_test(controller, timeout))
    except Exception as exc:  # noqa: BLE001 - the report says what went wrong
        ok, lines = (
            False,
            [
                translate("SelfTest", "self-test: FAILED: {problem}").format(
                    problem=f"{type(exc).__name__}: {exc}"
                )
            ],
        )
    finally:
        asyncio.set_event_loop(None)
    for line in lines:
        print(line, flush=True)
    return 0 if ok else 1


async def _until(predicate: Callable[[], bool], signals: Sequence[Any], timeout: float) -> None:
    """Wait until `predicate()` holds, checking whenever one of the Qt `signals` fires."""
    if predicate():
        return
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(*_: Any) -> None:
        if not future.done() and predicate():
            future.set_result(None)

    connections = [s.connect(check) for s in signals]
    try:
        await asyncio.wait_for(future, timeout)
    finally:
        from PySide6.QtCore import QObject

        for c in connections:
            QObject.disconnect(c)


def popup_texts(popup: Any) -> list[str]:
    """The texts a popup shows, as shown (top to bottom; the buttons' words without their
    mnemonic marks): what `--self-test` prints."""
    from PySide6.QtWidgets import QLabel, QPushButton

    lines = []
    for name in ("title", "company", "number", "where", "redirect", "state"):
        label = popup.findChild(QLabel, name)
        if label is None or label.isHidden():
            continue
        text = label.full_text() if hasattr(label, "full_text") else label.text()
        if text:
            lines.append(text)
    shown = [popup.findChild(QPushButton, name) for name in ("answer", "putThrough", "copy", "crm")]
    buttons = [
        b.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        for b in shown
        if b is not None and not b.isHidden()
    ]
    return [*lines, " | ".join(f"[{b}]" for b in buttons)] if buttons else lines


async def _self_test(controller: Any, timeout: float) -> tuple[bool, list[str]]:
    from PySide6.QtWidgets import QPushButton, QWidget

    from cstapopup.calls import texts
    from cstapopup.calls.colleagues import ColleagueState
    from cstapopup.calls.model import Outcome
    from cstapopup.calls.views import CallAction, LineState
    from cstapopup.i18n import decimal, translate

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    step = translate("SelfTest", "starting the app")
    device, colleague = SELF_TEST_DEVICE, SELF_TEST_COLLEAGUE

    def left() -> float:
        return max(0.1, deadline - loop.time())

    def say(text: str) -> None:
        # each step as it happens
        print(translate("SelfTest", "self-test: {step}").format(step=text), flush=True)

    try:
        await asyncio.wait_for(controller.start(), left())
        say(
            translate("SelfTest", "language: {language}").format(
                language=controller.language.describe()
            )
        )
        step = translate("SelfTest", "connecting to the simulated PBX")
        await _until(
            lambda: controller.link_state[0] == "up", [controller.link_state_changed], left()
        )
        say(translate("SelfTest", "link: {state}").format(state=controller.link_state[1]))
        pbx, popups, desk = controller.session.demo_pbx, controller.popups, controller.desk
        console = controller.console

        def lamp(number: str) -> ColleagueState | None:
            view = next((v for v in desk.colleague_views() if v.device == number), None)
            return view.state if view is not None else None

        step = translate("SelfTest", "waiting for colleague {device}'s lamp").format(
            device=colleague
        )
        await _wait(lambda: lamp(colleague) is ColleagueState.FREE, left())
        say(
            translate("SelfTest", "colleague {colleague} is free").format(
                colleague=desk.device_label(colleague)
            )
        )

        step = translate("SelfTest", "waiting for the popup of a call ringing at {device}").format(
            device=device
        )
        shown: asyncio.Future[str] = loop.create_future()

        def popup_shown(key: str) -> None:
            if not shown.done():
                shown.set_result(key)

        popups.shown.connect(popup_shown)
        t0 = time.perf_counter()
        if not pbx.ring(SELF_TEST_CALLER, device):
            raise RuntimeError(
                translate("SelfTest", "the simulated PBX would not ring {device}").format(
                    device=device
                )
            )
        key = await asyncio.wait_for(shown, left())
        popup_ms = (time.perf_counter() - t0) * 1000
        popup = popups.popup(key)
        if popup is None:
            raise RuntimeError(translate("SelfTest", "the call has no popup on screen"))
        title = popup.findChild(QWidget, "title").full_text()
        say(
            translate("SelfTest", "popup for {caller} ringing at {device} after {ms} ms").format(
                caller=title, device=device, ms=decimal(popup_ms, 0)
            )
        )
        for line in popup_texts(popup):
            say(translate("SelfTest", "  popup: {text}").format(text=line))

        step = translate("SelfTest", "answering with the popup's Answer button")
        popup.findChild(QPushButton, "answer").click()
        await _wait(
            lambda: desk.own_line().state is LineState.TALKING and desk.own_line().key == key,
            left(),
        )
        say(
            translate("SelfTest", "answered at {device}: {line}").format(
                device=device, line=desk.own_line().text
            )
        )
        answered = popups.popup(key)
        if answered is not None:
            say(
                translate("SelfTest", "  popup: {text}").format(
                    text=answered.findChild(QWidget, "state").full_text()
                )
            )

        step = translate(
            "SelfTest", "putting the call through to {device} from the console"
        ).format(device=colleague)
        console.select(colleague)
        console.request(CallAction.PUT_THROUGH)
        await _wait(
            lambda: (
                desk.own_line().state is LineState.IDLE
                and lamp(colleague) in (ColleagueState.RINGING, ColleagueState.BUSY)
            ),
            left(),
        )
        say(
            translate("SelfTest", "put through to {colleague}; its lamp: {state}").format(
                colleague=desk.device_label(colleague),
                state=next(v.state_text for v in desk.colleague_views() if v.device == colleague),
            )
        )

        step = translate("SelfTest", "waiting for the history row to show the transfer")

        def recorded() -> bool:
            call = desk.store.get(key)
            return (
                call is not None
                and call.outcome is Outcome.TRANSFERRED
                and call.transferred_to == colleague
                and call.answered_by == device
            )

        await _until(recorded, [controller.call_updated], left())
        call = desk.store.get(key)
        model = controller.history.model
        row = next(
            (
                r
                for r in range(model.rowCount())
                if (c := model.call_at(r)) is not None and c.key == key
            ),
            None,
        )
        shown_text = model.data(model.index(row, 6)) if row is not None else None
        if shown_text != texts.outcome_text(call, desk.display_number):
            raise RuntimeError(
                translate("SelfTest", "the history window shows {text} for the call").format(
                    text=repr(shown_text)
                )
            )
        say(
            translate("SelfTest", "history: {outcome} ({way})").format(
                outcome=shown_text, way=texts.hops_text(call, desk.display_number)
            )
        )
        took = timeout - (deadline - loop.time())
        return True, [
            translate(
                "SelfTest", "self-test: ok: popup, answer, transfer and history in {seconds} s"
            ).format(seconds=decimal(took, 1))
        ]
    except TimeoutError:
        link = controller.link_state[1] if controller.link_state else ""
        return False, [
            (
                translate(
                    "SelfTest",
                    "self-test: FAILED: timed out ({seconds} s) while {step} (link: {link})",
                )
                if link
                else translate(
                    "SelfTest", "self-test: FAILED: timed out ({seconds} s) while {step}"
                )
            ).format(seconds=f"{timeout:g}", step=step, link=link)
        ]
    except Exception as exc:
        log.exception("self-test")
        return False, [
            translate("SelfTest", "self-test: FAILED while {step}: {problem}").format(
                step=step, problem=f"{type(exc).__name__}: {exc}"
            )
        ]
    finally:
        try:
            await asyncio.wait_for(controller.shutdown(), 10)
        except Exception as exc:  # noqa: BLE001 - the self-test reports it and ends
            print(
                translate("SelfTest", "self-test: shutting down failed: {problem}").format(
                    problem=exc
                ),
                flush=True,
            )


async def _wait(predicate: Callable[[], bool], timeout: float) -> None:
    """Wait until `predicate()` holds, looking every 20 ms (for states that change without a
    Qt signal of their own: the desk's own line and lamps)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() >= end:
            raise TimeoutError
        await asyncio.sleep(0.02)
