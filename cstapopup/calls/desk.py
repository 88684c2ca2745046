"""The reception desk: the app's domain side, without Qt.

`Desk` owns the recorder (tracker, phone book, history), the colleagues' board and the PBX
link.  It takes the link's callbacks (events, snapshots, link states, monitors that failed),
decides what the user should see, and hands it up as values (`calls.views`) through a
`DeskListener`: popups to open, change or close, history rows, the missed-call badge, the
colleagues' lamps, the own phone's line, the link's state, notices in words.  It takes the
user's intents (answer, put through, consult, pick up, call back, dismiss, do not disturb, a
phone note about a call) and turns them into link requests (or history writes): which CSTA
service for which state of the own phone, on which connection, is decided here
(`Desk.plan`).  Errors come back as notices in words
(in the user's language: `translate`, context "Desk"), never as exceptions.

Popups are bounded whatever the PBX sends: at most `max_popups` at a time (the oldest goes
when one more would open; counted and said), and a popup that rings for `stale_after` seconds
without any news of its call is given up (the PBX missed telling us its end) and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cstapopup.csta.client import ClientOptions, CstaClientError, LinkDownError
from cstapopup.csta.events import ConnectionId, CstaEvent, DeliveredEvent, DeviceId, SnapshotCall
from cstapopup.gateway.client import GatewayRefusedError
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate
from cstapopup.settings import LinkParameters, colleague_entries

from . import texts
from .colleagues import ColleagueBoard, ColleagueState, Line
from .link import DeskLink, LinkChange, LinkFactory, LinkFault, LinkState, MonitorFailure
from .model import Call, PhoneNote
from .notes import NoteContext, Recipient, caller_text, note_mail, recipients
from .numbers import NumberingPlan
from .phonebook import PhonebookStatus
from .recorder import COMMIT_DELAY, FLUSH_INTERVAL, Recorder, RecorderChanges
from .refusals import refusal_text
from .store import HistoryError
from .views import (
    Action,
    CallAction,
    Caller,
    ColleagueView,
    HistoryHealth,
    Level,
    LineState,
    LinkStatus,
    Notice,
    OwnLineView,
    PopupState,
    PopupView,
    colleague_view,
    party_text,
    popup_view,
)

log = logging.getLogger(__name__)

#: Popups the desk follows at a time; one more closes the oldest (a flood of calls, or a PBX
#: that never tells their ends, cannot fill the memory with them).
MAX_POPUPS = 20
#: A popup that rings this long without any event of its call is given up and closes: no
#: phone rings for five minutes, so the PBX's word of the call's end was lost.
STALE_AFTER_SECONDS = 300.0
#: How often the desk looks for given-up popups (only while it has popups).
SWEEP_SECONDS = 15.0
#: A popup whose call is over is forgotten this long after it should have closed, should
#: the UI not say it closed it.
FORGET_AFTER_SECONDS = 60.0

#: The options of the PBX link (the client's); re-exported so that the UI need not import
#: the protocol package to pass them through.
LinkOptions = ClientOptions

# Causes of a Delivered event that say how the call came to the ringing device.
_FORWARD_CAUSES = frozenset(
    {
        "redirected",
        "call_forward",
        "call_forward_immediate",
        "call_forward_busy",
        "call_forward_no_answer",
        "call_deflection",
        "distributed",
    }
)
_TRANSFER_CAUSES = frozenset({"transfer", "single_step_transfer"})

# The link's states as the tray shows them.
_TRAY_STATE = {
    LinkState.CONNECTING: "connecting",
    LinkState.UP: "up",
    LinkState.DOWN: "down",
    LinkState.REJECTED: "down",
    LinkState.CLOSED: "down",
}
#: Call ids remembered with the history key of their call (for the own phone's line).
_KEYS_KEPT = 2000


class Service(str, enum.Enum):
    """The CSTA service a console action takes (ECMA-269; HiPath's operation codes)."""

    ANSWER = "answerCall"  # 2
    DEFLECT = "deflectCall"  # 218: a ringing call, sent on
    SINGLE_STEP_TRANSFER = "singleStepTransfer"  # 50: an answered call, blind
    CONSULTATION = "consultationCall"  # 7: hold and call the colleague
    TRANSFER = "transferCall"  # 16: held caller + consulted colleague
    RECONNECT = "reconnectCall"  # 13: end the consultation, back to the caller
    ALTERNATE = "alternateCall"  # 1: swap held and active
    HOLD = "holdCall"  # 9
    RETRIEVE = "retrieveCall"  # 14
    CLEAR = "clearConnection"  # 5
    PICK_UP = "directedPickupCall"  # 220


@dataclass(frozen=True, slots=True)
class Plan:
    """What a console action would do now: the service and the connections it acts on
    (`first`, `second`: held and active for transfer and alternate, active and held for
    reconnect), the device it goes to; or, when it cannot be done, `why_not` in words."""

    action: CallAction
    service: Service | None = None
    first: ConnectionId | None = None
    second: ConnectionId | None = None
    target: str | None = None
    #: Who the call is with, as the words of the result name them.
    party: str = ""
    why_not: str | None = None


class DeskListener:
    """What the desk hands up.  Every method does nothing here; the UI overrides the ones it
    shows.  All are called in the loop's thread, from the desk's own calls."""

    def popup_opened(self, view: PopupView) -> None:
        """A new popup (a call rings at a monitored device)."""

    def popup_changed(self, view: PopupView) -> None:
        """An open popup's call changed (state, ringing device, ...)."""

    def popup_closed(self, key: str) -> None:
        """The desk closes a popup now (its call was merged away, or too many are open)."""

    def calls_changed(self, calls: list[Call]) -> None:
        """History rows changed (after the popups and the badge were updated)."""

    def call_deleted(self, key: str) -> None:
        """A history row disappeared (a consultation call absorbed by a transfer)."""

    def badge_changed(self, missed: int) -> None:
        """The number of missed calls not dealt with."""

    def link_changed(self, status: LinkStatus) -> None:
        """The PBX link's state and why."""

    def notice(self, notice: Notice) -> None:
        """Something to tell the user."""

    def status(self, text: str) -> None:
        """A passing status line ("Calling 089 1234567 from 100…")."""

    def colleagues_changed(self, views: list[ColleagueView]) -> None:
        """Colleagues whose lamp, party or words changed (`Desk.colleague_views()` has them
        all, in the configured order)."""

    def own_line_changed(self, view: OwnLineView) -> None:
        """The own phone's calls changed (what the console shows, and its actions)."""

    def history_health_changed(self, health: HistoryHealth) -> None:
        """Whether calls are being saved changed (`health.message` says it in words; None:
        all is well again)."""


@dataclass(frozen=True)
class DeskConfig:
    """The settings the desk works with."""

    monitored: tuple[str, ...] = ()
    own_device: str | None = None
    crm_template: str = ""
    #: Seconds a popup stays after its call is over or taken elsewhere (0: until dismissed).
    close_after: float = 8.0
    plan: NumberingPlan = field(default_factory=NumberingPlan)
    phonebook_files: tuple[str, ...] = ()
    #: The colleagues panel: (device, name given in the settings or None); empty: the
    #: monitored devices.
    colleagues: tuple[tuple[str, str | None], ...] = ()

    @property
    def colleague_entries(self) -> tuple[tuple[str, str | None], ...]:
        return self.colleagues or tuple((d, None) for d in self.monitored)

    @property
    def link_devices(self) -> tuple[str, ...]:
        """What the link monitors, in order: the monitored devices (popups, history) first,
        then the colleagues (when the PBX's limit is reached, only lamps go dark)."""
        return tuple(dict.fromkeys([*self.monitored, *(d for d, _ in self.colleague_entries)]))

    @classmethod
    def from_settings(
        cls, value: Callable[[str], Any], *, close_after: float | None = None
    ) -> tuple[DeskConfig, list[Notice]]:
        """The configuration from setting values (`value(name)`), and what is wrong with it.
        `close_after` overrides popup.close_after_seconds (self-test, benchmarks)."""
        notices = []
        try:
            plan = NumberingPlan.from_settings(value)
        except ValueError as exc:
            notices.append(
                Notice(
                    translate("Desk", "Numbers"),
                    translate(
                        "Desk",
                        "The numbering settings cannot be used ({problem}); using the defaults.",
                    ).format(problem=exc),
                    Level.WARNING,
                )
            )
            plan = NumberingPlan()
        if close_after is None:
            close_after = float(value("popup.close_after_seconds"))
        config = cls(
            monitored=tuple(str(d) for d in value("devices.monitor")),
            own_device=str(value("devices.own") or "") or None,
            crm_template=value("crm.url_template") or "",
            close_after=close_after,
            plan=plan,
            phonebook_files=tuple(str(p) for p in value("phonebook.files")),
            colleagues=tuple(colleague_entries(value("devices.colleagues") or [])),
        )
        return config, notices


@dataclass
class _Popup:
    """What the desk keeps for one open popup."""

    call: Call
    device: str
    caller: Caller
    forwarded_from: str | None
    transferred_by: str | None
    last_news: float
    #: The connection of the call at each monitored device it rang at (for AnswerCall).
    connections: dict[str, ConnectionId] = field(default_factory=dict)
    stale_after: float | None = None
    view: PopupView | None = None
    #: When its view first said it closes (monotonic), None while it stays.
    closing_since: float | None = None


class Desk:
    """See the module docstring.  `open_history()`, then `connect()`; `close()` at the end."""

    def __init__(
        self,
        listener: DeskListener | None = None,
        *,
        link_factory: LinkFactory | None = None,
        config: DeskConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_popups: int = MAX_POPUPS,
        stale_after: float = STALE_AFTER_SECONDS,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.listener = listener or DeskListener()
        self.config = config or DeskConfig()
        self._link_factory = link_factory
        self._clock = clock
        self.max_popups = max(1, max_popups)
        self.stale_after = stale_after
        self.recorder: Recorder | None = None
        self.history_health: HistoryHealth | None = None
        self.link: DeskLink | None = None
        self.link_status = LinkStatus("connecting", translate("Desk", "starting"))
        self.board = ColleagueBoard(clock=wall_clock)
        self._colleague_views: dict[str, ColleagueView] = {}
        self._own_view: OwnLineView | None = None
        #: The own phone's latest call (its history key), for a phone note after it ended.
        self._own_last_key: str | None = None
        #: call id -> the history key of its call (the own phone's line names its call).
        self._keys: OrderedDict[bytes, str] = OrderedDict()
        #: Colleagues the PBX would not monitor, not told yet (one notice for all of them).
        self._colleagues_failed: dict[str, MonitorFailure] = {}
        self.do_not_disturb = False
        #: Popups closed because more than `max_popups` were open (their calls are recorded).
        self.popups_dropped = 0
        self._popups: OrderedDict[str, _Popup] = OrderedDict()  # oldest first
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._raw_state = LinkState.DOWN
        self._demo = False
        #: Said with every link state until the next connect() ("using the factory password").
        self._link_note = ""
        self._lost_notified = False
        self._monitor_notified: set[str] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        #: The recorder's timer: grouped commits, retries, file checks (every FLUSH_INTERVAL).
        self._flusher: asyncio.TimerHandle | None = None
        #: Why the history file could not be used (a throw-away one stands in), else None.
        self._temporary: str | None = None
        self._book_errors: tuple[str, ...] = ()

    # -- the history ----------------------------------------------------------------------

    @property
    def store(self) -> Any:
        return self.recorder.store if self.recorder is not None else None

    def open_history(self, path: Path, *, snapshots: bool = False) -> None:
        """Open the history file `path` (and the phone books) as its one recording writer,
        with grouped commits (a change is on disk within COMMIT_DELAY + FLUSH_INTERVAL: the
        desk's timer runs `flush_due()`).  When the file cannot be used (another program
        records into it, it cannot be created, ...), a throw-away history stands in (popups
        matter more than the history), and it says so, in a notice and in the health."""
        config = self.config
        kwargs: dict[str, Any] = {
            "phonebook_files": list(config.phonebook_files),
            "plan": config.plan,
            "snapshots": snapshots,
            "commit_delay": COMMIT_DELAY,
        }
        self._temporary = None
        try:
            self.recorder = Recorder.open(path, config.monitored, **kwargs)
        except HistoryError as exc:
            self._temp_dir = self._temp_dir or tempfile.TemporaryDirectory(prefix="cstapopup-")
            fallback = Path(self._temp_dir.name) / "history.sqlite3"
            self._notice(
                translate("Desk", "Call history"),
                f"{exc}\n{texts.history_temporary(exc.reason)}",
                Level.ERROR,
            )
            self.recorder = Recorder.open(fallback, config.monitored, **kwargs)
            self._temporary = exc.reason
        store = self.recorder.store
        if store.recovered_from is not None:
            self._notice(
                translate("Desk", "Call history"), store.recovery_message() or "", Level.WARNING
            )
        self.history_health = None
        self.recorder.add_health_listener(self._on_health)
        self._on_health(self.recorder.health)
        self._schedule_flush()
        self._phonebook_notice()

    def flush_due(self) -> None:
        """The recorder's timer (the desk runs it every FLUSH_INTERVAL on the running loop;
        a test without a loop calls it itself): commit what is due, retry a failed history."""
        if self.recorder is not None:
            self.recorder.flush_due()

    def _schedule_flush(self) -> None:
        if self._flusher is not None or self.recorder is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a test feeding events by hand): it calls flush_due() itself
        self._flusher = loop.call_later(FLUSH_INTERVAL, self._flush_tick)

    def _flush_tick(self) -> None:
        self._flusher = None
        try:
            self.flush_due()
        except Exception:
            log.exception("call history: the timer's flush failed")
        self._schedule_flush()

    def _on_health(self, health: HistoryHealth) -> None:
        """The recorder's health changed: tell once what changed (a notice), and hand the
        state up for the tray and the history window."""
        health = replace(health, temporary=self._temporary)
        title = translate("Desk", "Call history")
        before = self.history_health
        self.history_health = health
        if health.notice and (before is None or health.notice != before.notice):
            self._notice(title, health.notice, Level.WARNING)
        if not health.saving:
            if before is None or before.saving or before.reason != health.reason:
                self._notice(title, health.message or "", Level.ERROR)
        elif before is not None and not before.saving:
            self._notice(title, texts.history_saved_again(health.lost), Level.INFO)
        elif health.lost and (before is None or not before.lost):
            self._notice(title, health.message or "", Level.ERROR)
        self.listener.history_health_changed(health)

    def configure(self, config: DeskConfig) -> None:
        """New settings: phone books, numbering plan and the colleagues' names take effect at
        once; the monitored devices (and new colleagues) with the next `connect()`."""
        old, self.config = self.config, config
        if self.recorder is not None and (
            config.plan != old.plan or config.phonebook_files != old.phonebook_files
        ):
            self.recorder.reconfigure(
                phonebook_files=list(config.phonebook_files), plan=config.plan
            )
            self._phonebook_notice()
        watched = [d for d, _ in config.colleague_entries]
        if config.own_device:
            watched.append(config.own_device)
        self.board.set_devices(watched)
        self._colleague_views = {}
        self._refresh_colleagues(self.board.devices, everything=True)

    def _phonebook_notice(self) -> None:
        """Follow the phone book, which loads in the background: its errors are told when a
        load ends (not at start, before anything was read), and popups that show only a
        number, the colleagues' lamps and the own line are looked up again once the names are
        there."""
        book = self.recorder.phonebook if self.recorder is not None else None
        self._book_errors = ()
        if book is None:
            return
        add_listener = getattr(book, "add_listener", None)
        if add_listener is not None:
            add_listener(self._on_phonebook)
        elif book.errors:  # a phone book read at once (tools, tests)
            self._notice(translate("Desk", "Phone book"), "\n".join(book.errors[:5]), Level.WARNING)

    def _on_phonebook(self, status: PhonebookStatus) -> None:
        if self.recorder is None or status is None:
            return
        errors = tuple(status.errors)
        if errors and errors != self._book_errors:
            self._notice(translate("Desk", "Phone book"), "\n".join(errors[:5]), Level.WARNING)
        self._book_errors = errors
        now = self._clock()
        for key, popup in list(self._popups.items()):
            number = popup.call.remote_number
            if popup.caller.name is not None or popup.call.remote_kind != "number" or not number:
                continue
            match = self.recorder.lookup(number)
            if match is None:
                continue
            popup.caller = replace(
                popup.caller, name=match.contact.name or None, company=match.contact.company or None
            )
            self._show(key, popup, now, new=False)
        # Colleagues without a name in the settings, and whoever they (or you) talk to, are
        # named from the book too.
        self._refresh_colleagues(self.board.devices, everything=True)

    def display_number(self, number: str) -> str:
        """A number from the PBX as people read it ("089 1234567")."""
        return self.recorder.display_number(number) if self.recorder is not None else number

    def refresh_badge(self) -> None:
        if self.recorder is None:
            return
        try:
            count = self.recorder.store.badge_count()
        except HistoryError as exc:
            log.warning("badge: %s", exc)
            return
        self.listener.badge_changed(count)

    def apply_retention(self, days: int) -> int:
        """Delete calls older than `days`; how many went."""
        if self.recorder is None:
            return 0
        try:
            removed = self.recorder.store.apply_retention(days)
        except HistoryError as exc:
            log.warning("retention: %s", exc)
            return 0
        if removed:
            log.info("retention: %d calls older than %d days deleted", removed, days)
            self.refresh_badge()
        return removed

    def close(self) -> None:
        """Close the history (the link must be stopped first): the calls still going on are
        settled and everything is committed; forget every popup."""
        self._popups.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            recorder.remove_health_listener(self._on_health)
            final = recorder.close()  # settles the calls going on, commits everything
            if final.lost:
                log.error(
                    "call history: %d calls (or changes to calls) could not be saved", final.lost
                )
        if self._temp_dir is not None:
            with contextlib.suppress(OSError):
                self._temp_dir.cleanup()
            self._temp_dir = None

    # -- the link -------------------------------------------------------------------------

    async def connect(
        self,
        params: LinkParameters,
        *,
        label: str | None = None,
        demo: bool = False,
        note: str = "",
        link_factory: LinkFactory | None = None,
    ) -> bool:
        """Open the link to the PBX with the monitored devices of the configuration; False
        (and a notice) when it cannot even be set up (e.g. an unreadable CA file).  `note`:
        what the user should know about this link whatever its state (LinkStatus.note).
        `link_factory`: the way to the PBX for these `params` (PbxLink for
        ConnectionParameters, GatewayLink for GatewayParameters), else the desk's own."""
        factory = link_factory or self._link_factory
        assert factory is not None, "a Desk without a link factory cannot connect"
        self._demo = demo
        self._link_note = note
        try:
            link = factory(
                params,
                list(self.config.link_devices),
                on_state=self.on_link_state,
                on_event=self.on_event,
                on_monitor_failed=self.on_monitor_failed,
                on_snapshot=self.on_snapshot,
                label=label,
            )
        except (OSError, ValueError) as exc:
            self.not_connected(
                translate("Desk", "cannot set up the link: {problem}").format(problem=exc)
            )
            self._notice(
                translate("Desk", "PBX link"),
                translate("Desk", "Cannot set up the link to the PBX: {problem}").format(
                    problem=exc
                ),
                Level.ERROR,
                opens_settings=True,
            )
            return False
        self.link = link
        if self.recorder is not None:
            self._apply(self.recorder.set_monitored(self.config.monitored))
        self._monitor_notified.clear()
        self._colleagues_failed.clear()
        self._lost_notified = False
        await link.start()
        return True

    async def disconnect(self) -> None:
        """Leave the PBX; calls under way end as "not known"."""
        link, self.link = self.link, None
        if link is not None:
            await link.stop()
            if self.recorder is not None:
                self._apply(self.recorder.link_lost())

    def not_connected(self, reason: str) -> None:
        """No link, and why (not set up yet, waiting for a password, ...)."""
        self._link_note = ""
        self._set_link("down", reason)

    def _set_link(self, state: str, text: str, detail: str = "") -> None:
        self.link_status = LinkStatus(state, text, self._link_note, detail)
        self.listener.link_changed(self.link_status)

    def on_link_state(self, change: LinkChange) -> None:
        """The link's state and why, in words; the system's own words behind them, if any,
        in `change.detail` (shown as the link's details)."""
        state, reason = LinkState(change.state), change.text
        previous, self._raw_state = self._raw_state, state
        shown = _TRAY_STATE[state]
        if self._demo and state is LinkState.UP:
            shown, reason = "demo", translate("Desk", "demo mode: {state}").format(state=reason)
        detail = change.detail if state in (LinkState.DOWN, LinkState.REJECTED) else ""
        self._set_link(shown, reason, detail)
        sentence = _sentence(reason) + "."
        if state is LinkState.UP:
            self._refresh_colleagues(self.board.link_up())
            self._colleagues_notice()
        else:
            self._refresh_colleagues(self.board.link_down())
        if state is LinkState.REJECTED:
            if self._link_note:
                sentence += " " + _sentence(self._link_note) + "."
            self._notice(
                translate("Desk", "Login refused"), sentence, Level.ERROR, opens_settings=True
            )
        elif state is LinkState.DOWN and (
            previous is LinkState.UP or change.fault is LinkFault.LOST
        ):
            if self.recorder is not None:
                self._apply(self.recorder.link_lost())
            self._lost_notified = True
            self._notice(
                texts.link_notice_title(_fault_name(change), lost=True), sentence, Level.WARNING
            )
        elif (
            state is LinkState.DOWN and previous is LinkState.CONNECTING and not self._lost_notified
        ):
            self._lost_notified = True
            # Nothing in the settings helps a PBX whose links are in use, or a gateway that
            # is stopped or has lost its PBX.
            self._notice(
                texts.link_notice_title(_fault_name(change), lost=False),
                sentence,
                Level.WARNING,
                opens_settings=change.fault not in _NOT_IN_SETTINGS,
            )
        elif state is LinkState.UP and self._lost_notified:
            self._lost_notified = False
            self._notice(translate("Desk", "PBX link"), sentence)

    def on_monitor_failed(self, failure: MonitorFailure) -> None:
        device = failure.device
        self._refresh_colleagues(self.board.monitor_failed(device, failure.words))
        if device not in self.config.monitored:
            # A colleague's lamp only: one notice for all of them once the link is up.
            if device not in self._monitor_notified:
                self._colleagues_failed[device] = failure
            return
        if device in self._monitor_notified:
            return
        self._monitor_notified.add(device)
        self._notice(
            translate("Desk", "Device not monitored"),
            translate("Desk", "{problem}. Check the monitored devices in the settings.").format(
                problem=_sentence(failure.text)
            ),
            Level.WARNING,
            opens_settings=True,
        )

    def _colleagues_notice(self) -> None:
        failed, self._colleagues_failed = self._colleagues_failed, {}
        if not failed:
            return
        self._monitor_notified.update(failed)
        by_words: dict[str, list[str]] = {}
        for failure in failed.values():
            by_words.setdefault(failure.words, []).append(failure.device)
        lines = [f"{', '.join(devices)}: {words}" for words, devices in by_words.items()]
        self._notice(
            translate("Desk", "Colleagues not monitored"),
            translate("Desk", "Their lamps stay dark. {reasons}.").format(reasons="; ".join(lines)),
            Level.WARNING,
        )

    # -- events ---------------------------------------------------------------------------

    def on_event(self, device: str, event: CstaEvent, received_at: datetime | None = None) -> None:
        """One monitor event (received now, or at `received_at`): into the history, and a
        popup when a call rings at one of the monitored devices."""
        if self.recorder is None:
            return
        if device in self.config.monitored:
            changes = self.recorder.feed(device, event, received_at)
            self._remember_key(event)
            opened = self._ringing(event, changes) if isinstance(event, DeliveredEvent) else None
            self._apply(changes, opened)
        if device in self.board:
            self._refresh_colleagues(self.board.on_event(device, event))

    def on_snapshot(self, device: str, calls: Iterable[SnapshotCall] | None) -> None:
        """The calls at a device whose monitor was just (re)started: calls under way before
        it could see them get a row (of unknown outcome) instead of none or a wrong one."""
        if calls is not None:
            calls = list(calls)
        if self.recorder is not None and device in self.config.monitored:
            self._apply(self.recorder.snapshot(device, calls))
        if device in self.board:
            self._refresh_colleagues(self.board.on_snapshot(device, calls))

    def _remember_key(self, event: CstaEvent) -> None:
        connection = getattr(event, "connection", None)
        cid = connection.call_id if connection is not None else None
        if cid is None or self.recorder is None:
            return
        key = self.recorder.key_of(event)
        if key is None:
            return
        self._keys[cid] = key
        self._keys.move_to_end(cid)
        secondary = getattr(event, "secondary_old_call", None)
        if secondary is not None and secondary.call_id is not None:
            self._keys[secondary.call_id] = key
        while len(self._keys) > _KEYS_KEPT:
            self._keys.popitem(last=False)

    # -- colleagues and the own phone -----------------------------------------------------

    def colleague_views(self) -> list[ColleagueView]:
        """Every colleague of the panel, in the configured order."""
        return [
            self._colleague_views[d]
            for d, _ in self.config.colleague_entries
            if d in self._colleague_views
        ]

    def own_line(self) -> OwnLineView:
        if self._own_view is None:
            self._own_view = self._make_own_view()
        return self._own_view

    def colleague_name(self, device: str) -> str | None:
        """The colleague's name: the one given in the settings, else the phone book's."""
        for number, name in self.config.colleague_entries:
            if number == device and name:
                return name
        match = self.recorder.lookup(device) if self.recorder is not None else None
        return (match.contact.name or None) if match is not None else None

    def device_label(self, device: str) -> str:
        """ "Tom Keller (102)", or "102" without a name."""
        name = self.colleague_name(device)
        return f"{name} ({device})" if name else device

    def party_label(self, number: str | None, kind: str = "number") -> str:
        """Who a call is with, for the console and the notices: "Anna Schmidt" (phone book
        or a colleague's name), "you (100)", "089 1234567", "Withheld number", "" when not
        known."""
        if not number:
            return party_text(None, "", kind)
        if number == self.config.own_device:
            return translate("Desk", "you ({device})").format(device=number)
        if number in self.board:
            return self.device_label(number)
        match = self.recorder.lookup(number) if self.recorder is not None else None
        name = (match.contact.name or None) if match is not None else None
        return party_text(name, self.display_number(number), kind)

    def _refresh_colleagues(self, devices: Iterable[str], *, everything: bool = False) -> None:
        listed = {d for d, _ in self.config.colleague_entries}
        changed = []
        own = self.config.own_device
        own_changed = everything
        for device in devices:
            if device == own:
                own_changed = True
            if device not in listed:
                continue
            status = self.board.status(device)
            if status is None:
                continue
            view = colleague_view(
                status,
                name=self.colleague_name(device),
                party=self.party_label(status.party, status.party_kind),
                own_device=own,
                display=self.display_number,
            )
            if self._colleague_views.get(device) != view:
                self._colleague_views[device] = view
                changed.append(view)
        if changed:
            self.listener.colleagues_changed(changed)
        if own_changed:
            own_view = self._make_own_view()
            if own_view.key:
                self._own_last_key = own_view.key
            if own_view != self._own_view:
                self._own_view = own_view
                self.listener.own_line_changed(own_view)

    def _make_own_view(self) -> OwnLineView:
        own = self.config.own_device
        if not own:
            return OwnLineView(
                None,
                LineState.NO_PHONE,
                translate(
                    "Desk", "Set your own phone in the settings to take and put through calls."
                ),
                "",
                None,
                None,
                frozenset(),
            )
        status = self.board.status(own)
        if status is None or status.state in (ColleagueState.UNKNOWN, ColleagueState.NOT_MONITORED):
            why = (
                status.why if status is not None and status.why else translate("Desk", "not known")
            )
            return OwnLineView(
                own,
                LineState.UNKNOWN,
                translate("Desk", "Your phone ({device}): {why}.").format(device=own, why=why),
                "",
                None,
                None,
                frozenset(),
            )
        talking, held, ringing = self._own_lines()
        label = self._line_label
        actions: set[CallAction] = set()
        detail = ""
        if talking and held:
            state, line = LineState.CONSULTING, talking
            text = translate("Desk", "Consulting {party}").format(party=label(talking))
            detail = _sentence(translate("Desk", "{party} waits on hold").format(party=label(held)))
            key_line = held
            actions |= {
                CallAction.COMPLETE,
                CallAction.BACK,
                CallAction.ALTERNATE,
                CallAction.HANG_UP,
                CallAction.PUT_THROUGH,
            }
        elif talking:
            state, line, key_line = LineState.TALKING, talking, talking
            text = translate("Desk", "On a call with {party}").format(party=label(talking))
            actions |= {
                CallAction.PUT_THROUGH,
                CallAction.CONSULT,
                CallAction.HOLD,
                CallAction.HANG_UP,
            }
        elif held:
            state, line, key_line = LineState.HELD, held, held
            text = _sentence(translate("Desk", "{party} waits on hold").format(party=label(held)))
            actions |= {CallAction.PUT_THROUGH, CallAction.HOLD, CallAction.HANG_UP}
        elif ringing:
            state, line, key_line = LineState.RINGING, ringing, ringing
            text = _sentence(translate("Desk", "{party} is calling").format(party=label(ringing)))
            actions |= {CallAction.ANSWER, CallAction.PUT_THROUGH}
        else:
            return OwnLineView(
                own,
                LineState.IDLE,
                translate("Desk", "No call at your phone ({device})").format(device=own),
                "",
                status.since,
                None,
                frozenset({CallAction.PICK_UP}),
            )
        if ringing and line is not ringing:
            calling = _sentence(
                translate("Desk", "{party} is calling").format(party=label(ringing))
            )
            detail = f"{detail} · {calling}" if detail else calling
        return OwnLineView(
            own,
            state,
            text,
            detail,
            line.since,
            self._keys.get(key_line.call_id),
            frozenset(actions),
        )

    def _own_lines(self) -> tuple[Line | None, Line | None, Line | None]:
        """The own phone's talking line, its newest held line and its newest ringing line."""
        own = self.config.own_device
        lines = self.board.lines(own) if own else []
        talking = [line for line in lines if line.talking]
        held = [line for line in lines if line.state == "hold"]
        ringing = [line for line in lines if line.state in ("alerting", "queued")]
        return (
            talking[-1] if talking else None,
            held[-1] if held else None,
            ringing[-1] if ringing else None,
        )

    def _line_label(self, line: Line) -> str:
        return self.party_label(line.party, line.party_kind) or translate("Desk", "the caller")

    def _ringing(self, event: DeliveredEvent, changes: RecorderChanges) -> str | None:
        """A call rings at a monitored device: its popup (once per call; a second device it
        rings at later moves the popup there).  The key of a popup that opened, else None."""
        assert self.recorder is not None
        at = _number(event.connection.device)
        alerting = _number(event.alerting_device) or at
        if alerting is None or alerting != at or alerting not in self.config.monitored:
            return None
        key = self.recorder.key_of(event)
        if key is None:
            return None
        popup = self._popups.get(key)
        call = next((c for c in changes.calls if c.key == key), None) or (
            popup.call if popup is not None else self._stored(key)
        )
        if call is None or not call.is_live:
            return None
        redirecting = _number(event.last_redirection_device)
        forwarded_from = redirecting if event.cause in _FORWARD_CAUSES else None
        transferred_by = redirecting if event.cause in _TRANSFER_CAUSES else None
        now = self._clock()
        if popup is not None:
            popup.connections[alerting] = event.connection
            popup.last_news = now
            if popup.device != alerting:
                popup.device = alerting
                popup.forwarded_from, popup.transferred_by = forwarded_from, transferred_by
            return None
        if self.do_not_disturb:
            return None
        self._make_room()
        self._popups[key] = _Popup(
            call,
            alerting,
            self._caller(event, call),
            forwarded_from,
            transferred_by,
            now,
            {alerting: event.connection},
        )
        self._schedule_sweep()
        return key

    def _stored(self, key: str) -> Call | None:
        try:
            return self.recorder.store.get(key) if self.recorder is not None else None
        except HistoryError:
            return None

    def _caller(self, event: DeliveredEvent, call: Call) -> Caller:
        assert self.recorder is not None
        number = _number(event.calling_device)
        if number is not None and number == call.remote_number:
            name, company = call.remote_name, call.remote_company
        elif number is not None:
            match = self.recorder.lookup(number)
            name = match.contact.name or None if match else None
            company = match.contact.company or None if match else None
        else:
            name = company = None
        if number is None and call.remote_kind == "number" and call.remote_number:
            number = call.remote_number  # the event did not say; the record does
        return Caller(name, company, self.recorder.display_number(number) if number else "")

    def _make_room(self) -> None:
        while len(self._popups) >= self.max_popups:
            # The oldest popup whose call is over goes first, else the oldest of all.
            key = next(
                (k for k, p in self._popups.items() if p.closing_since is not None),
                next(iter(self._popups)),
            )
            del self._popups[key]
            self.popups_dropped += 1
            if self.popups_dropped == 1 or self.popups_dropped % 1000 == 0:
                log.warning(
                    "more than %d popups at once: %d closed early so far (their calls "
                    "are in the history)",
                    self.max_popups,
                    self.popups_dropped,
                )
            if self.popups_dropped == 1:
                self._notice(
                    translate("Desk", "Too many calls at once"),
                    translate(
                        "Desk",
                        "{count}: the oldest popups were closed. Every call is in the history.",
                    ).format(count=texts.count("too many popups", self.max_popups)),
                    Level.WARNING,
                )
            self.listener.popup_closed(key)

    def _apply(self, changes: RecorderChanges | None, opened: str | None = None) -> None:
        if changes is None:
            return
        now = self._clock()
        changed: dict[str, _Popup] = {}
        if opened is not None:
            changed[opened] = self._popups[opened]
        badge = bool(changes.resolved or changes.deleted)
        for call in changes.calls:
            popup = self._popups.get(call.key)
            if popup is not None:
                popup.call, popup.last_news = call, now
                changed[call.key] = popup
            badge = badge or call.is_missed
        for key in changes.deleted:
            # A consultation call absorbed by a transfer: its popup has nothing more to say.
            changed.pop(key, None)
            if self._popups.pop(key, None) is not None:
                self.listener.popup_closed(key)
        for key, popup in changed.items():
            self._show(key, popup, now, new=key == opened)
        if badge:
            self.refresh_badge()
        for key in changes.deleted:
            self.listener.call_deleted(key)
        if changes.calls:
            self.listener.calls_changed(list(changes.calls))

    def _show(self, key: str, popup: _Popup, now: float, *, new: bool) -> None:
        config = self.config
        view = popup_view(
            popup.call,
            caller=popup.caller,
            ringing_device=popup.device,
            own_device=config.own_device,
            crm_template=config.crm_template,
            close_after=config.close_after,
            forwarded_from=popup.forwarded_from,
            transferred_by=popup.transferred_by,
            stale_after=popup.stale_after,
            display=self.display_number,
        )
        if view == popup.view:
            return
        popup.view = view
        if view.closes_in is None:
            popup.closing_since = None
        elif popup.closing_since is None:
            popup.closing_since = now
        if new:
            self.listener.popup_opened(view)
        else:
            self.listener.popup_changed(view)

    # -- popups: given up, forgotten ------------------------------------------------------

    def popup_views(self) -> list[PopupView]:
        """The open popups, oldest first."""
        return [p.view for p in self._popups.values() if p.view is not None]

    def view_of(self, key: str) -> PopupView | None:
        popup = self._popups.get(key)
        return popup.view if popup is not None else None

    def sweep(self) -> None:
        """Give up popups that rang for `stale_after` seconds without news (they show it and
        close), and forget those whose call is over and whose closing the UI never reported."""
        now = self._clock()
        for key, popup in list(self._popups.items()):
            view = popup.view
            if view is None:
                continue
            if view.state is PopupState.RINGING and now - popup.last_news >= self.stale_after:
                log.info(
                    "popup %s: no news of its call for %.0f s; given up", key, now - popup.last_news
                )
                popup.stale_after = self.stale_after
                self._show(key, popup, now, new=False)
                del self._popups[key]  # the UI closes it; nothing more will change it
            elif (
                popup.closing_since is not None
                and view.closes_in is not None
                and now - popup.closing_since >= view.closes_in + FORGET_AFTER_SECONDS
            ):
                del self._popups[key]

    def _schedule_sweep(self) -> None:
        if self._sweeper is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a test feeding events by hand): it calls sweep() itself
        self._sweeper = loop.call_later(SWEEP_SECONDS, self._sweep_tick)

    def _sweep_tick(self) -> None:
        self._sweeper = None
        self.sweep()
        if self._popups:
            self._schedule_sweep()

    # -- intents --------------------------------------------------------------------------

    def dismiss(self, key: str) -> None:
        """The user closed the popup (or it closed by itself): forget it."""
        self._popups.pop(key, None)

    def set_do_not_disturb(self, on: bool) -> None:
        """No new popups while on; calls are still recorded."""
        self.do_not_disturb = bool(on)

    async def answer(self, key: str, device: str) -> Notice | None:
        """Answer the popup's call at `device` (only the user's own, only while it rings)."""
        title = translate("Desk", _ACTION_TITLES[CallAction.ANSWER])
        popup = self._popups.get(key)
        connection = popup.connections.get(device) if popup is not None else None
        view = popup.view if popup is not None else None
        if (
            device != self.config.own_device
            or connection is None
            or view is None
            or view.ringing_device != device
            or not view.allows(Action.ANSWER)
        ):
            return self._notice(
                title,
                translate("Desk", "This call no longer rings at {device}.").format(device=device),
            )
        link = self.link
        if link is None:
            return self._notice(title, translate("Desk", "Not connected to the PBX."))
        try:
            await link.answer(connection)
        except LinkDownError:
            return self._notice(
                title,
                translate("Desk", "Not connected to the PBX: the call was not answered."),
                Level.WARNING,
            )
        except GatewayRefusedError as exc:
            return self._notice(
                title,
                translate("Desk", "The call at {device} was not answered: {why}.").format(
                    device=device, why=refusal_text(exc)
                ),
                Level.WARNING,
            )
        except CstaClientError as exc:
            return self._notice(
                title,
                translate("Desk", "The PBX did not answer the call at {device}: {problem}").format(
                    device=device, problem=exc
                ),
                Level.WARNING,
            )
        return None

    async def call_back(self, number: str) -> Notice | None:
        """Call `number` (as the PBX gave it) from the user's own phone."""
        own = self.config.own_device
        title = translate("Desk", "Call back")
        if not own:
            return self._notice(
                title, translate("Desk", "Set your own phone in the settings to call back.")
            )
        shown = self.display_number(number)
        link = self.link
        not_connected = translate("Desk", "Not connected to the PBX: cannot call {number}.")
        if link is None or _name(link.state) != "up":
            return self._notice(title, not_connected.format(number=shown), Level.WARNING)
        try:
            await link.make_call(own, number)
        except LinkDownError:
            return self._notice(title, not_connected.format(number=shown), Level.WARNING)
        except GatewayRefusedError as exc:
            return self._notice(
                title,
                translate("Desk", "{number} was not called: {why}.").format(
                    number=shown, why=refusal_text(exc)
                ),
                Level.WARNING,
            )
        except CstaClientError as exc:
            return self._notice(
                title,
                translate("Desk", "The PBX did not call {number} from {device}: {problem}").format(
                    number=shown, device=own, problem=exc
                ),
                Level.WARNING,
            )
        self.listener.status(
            translate("Desk", "Calling {number} from {device}…").format(number=shown, device=own)
        )
        return None

    # -- phone notes ----------------------------------------------------------------------

    def own_last_call(self) -> str | None:
        """The history key of the own phone's current call, else of its latest one (this
        run, else the history's); None when it had none."""
        own = self.config.own_device
        if not own:
            return None
        view = self.own_line()
        if view.key:
            return view.key
        if self._own_last_key:
            return self._own_last_key
        if self.recorder is None:
            return None
        try:
            latest = self.recorder.store.by_device(own, limit=1)
        except HistoryError as exc:
            log.warning("phone note: %s", exc)
            return None
        return latest[0].key if latest else None

    def note_colleagues(self) -> tuple[Recipient, ...]:
        """The colleagues of the panel as whom a note can be for, with the address the phone
        book has for their extension."""
        out = []
        for device, given in self.config.colleague_entries:
            match = self.recorder.lookup(device) if self.recorder is not None else None
            name = given or (match.contact.name if match is not None else "") or ""
            out.append(
                Recipient(
                    name, device, match.contact.email if match is not None else "", "colleague"
                )
            )
        return tuple(out)

    def note_recipients(self, text: str) -> list[Recipient]:
        """Whom a note can be for, given what was typed: colleagues, then the phone book."""
        book = self.recorder.phonebook if self.recorder is not None else None
        return recipients(text, self.note_colleagues(), book)

    def _call_of(self, key: str) -> Call | None:
        popup = self._popups.get(key)
        stored = self._stored(key)
        if stored is not None:
            return stored
        return popup.call if popup is not None else None

    def note_context(self, key: str) -> NoteContext | None:
        """What the note dialog needs about the call `key`; None when the history does not
        have it (any more)."""
        call = self._call_of(key)
        if call is None:
            return None
        number = (
            self.display_number(call.remote_number)
            if call.remote_kind == "number" and call.remote_number
            else ""
        )
        name = (
            self.colleague_name(call.remote_number)
            if call.remote_number and (call.remote_number in self.board)
            else None
        )
        own = self.config.own_device
        note = call.note
        if note is None and self.recorder is not None:
            note = self.recorder.note_of(key)
        return NoteContext(
            key,
            caller_text(call, number, name),
            number,
            call.started_at,
            note,
            self.note_colleagues(),
            self.device_label(own) if own else None,
        )

    def save_note(self, key: str, note: PhoneNote | None) -> str | None:
        """Keep the note with its call in the history (None or an empty note removes it);
        the call goes up changed (`calls_changed`).  None when it was saved, else why not, in
        words (the note is not kept anywhere else: the dialog keeps it open)."""
        if self.recorder is None:
            return translate("Desk", "The call history is not open.")
        try:
            call = self.recorder.set_note(key, note)
        except HistoryError as exc:
            return translate("Desk", "The note was not saved: {problem}.").format(
                problem=translate("HistoryReason", exc.reason)
            )
        if call is None:
            return translate(
                "Desk", "The note was not saved: the call is no longer in the history."
            )
        popup = self._popups.get(key)
        if popup is not None:
            popup.call = call
        self.listener.calls_changed([call])
        return None

    def note_mail_url(self, key: str, note: PhoneNote, to: str) -> str | None:
        """The `mailto:` link that sends the note to `to` with a ready text (None when the
        call is not known)."""
        context = self.note_context(key)
        if context is None:
            return None
        return note_mail(context, note, to)

    # -- the console: put calls through ---------------------------------------------------

    def plan(self, action: CallAction, target: str | None = None, key: str | None = None) -> Plan:
        """What `action` would do now (see `Service`): with the own phone's calls as the
        board knows them; `target` the colleague (put through, consult, pick up); `key` a
        popup's call (put through) when it is not the own phone's current call."""
        own = self.config.own_device
        if not own:
            return Plan(
                action, why_not=translate("Desk", "Set your own phone in the settings first")
            )
        needs_target = action in (CallAction.PUT_THROUGH, CallAction.CONSULT, CallAction.PICK_UP)
        if needs_target and not target:
            return Plan(action, why_not=translate("Desk", "Choose a colleague first"))
        if needs_target and target == own:
            return Plan(
                action,
                why_not=translate("Desk", "{device} is your own phone").format(device=target),
            )
        talking, held, ringing = self._own_lines()
        label = self._line_label
        if action is CallAction.PICK_UP:
            assert target is not None
            there = [line for line in self.board.lines(target) if line.state == "alerting"]
            if not there:
                return Plan(
                    action,
                    target=target,
                    why_not=translate("Desk", "No call rings at {device}").format(
                        device=self.device_label(target)
                    ),
                )
            if talking or held or ringing:
                return Plan(
                    action,
                    target=target,
                    why_not=translate(
                        "Desk", "Your phone ({device}) has a call: finish it first"
                    ).format(device=own),
                )
            newest = there[-1]
            return Plan(
                action, Service.PICK_UP, newest.connection, target=target, party=label(newest)
            )
        if action is CallAction.PUT_THROUGH and key is not None:
            by_key = self._line_of_key(key)
            if by_key is None:
                return self._plan_popup(key, target)
            if by_key.state in ("alerting", "queued"):
                return Plan(
                    action, Service.DEFLECT, by_key.connection, target=target, party=label(by_key)
                )
            if by_key.state == "hold" and talking is not None:
                if talking.party == target:
                    return Plan(
                        action,
                        Service.TRANSFER,
                        by_key.connection,
                        talking.connection,
                        target,
                        label(by_key),
                    )
                return Plan(action, target=target, why_not=self._consulting(talking))
            return Plan(
                action,
                Service.SINGLE_STEP_TRANSFER,
                by_key.connection,
                target=target,
                party=label(by_key),
            )
        if action is CallAction.PUT_THROUGH:
            if talking is not None and held is not None:
                if talking.party == target:  # to the consulted colleague: complete it
                    return Plan(
                        action,
                        Service.TRANSFER,
                        held.connection,
                        talking.connection,
                        target,
                        label(held),
                    )
                return Plan(action, target=target, why_not=self._consulting(talking))
            line = talking or held
            if line is not None:
                return Plan(
                    action,
                    Service.SINGLE_STEP_TRANSFER,
                    line.connection,
                    target=target,
                    party=label(line),
                )
            if ringing is not None:
                return Plan(
                    action, Service.DEFLECT, ringing.connection, target=target, party=label(ringing)
                )
            return Plan(
                action,
                target=target,
                why_not=translate("Desk", "No call at your phone ({device}) to put through").format(
                    device=own
                ),
            )
        if action is CallAction.ANSWER:
            if ringing is None:
                return Plan(
                    action,
                    why_not=translate("Desk", "No call rings at your phone ({device})").format(
                        device=own
                    ),
                )
            if talking is not None:
                return Plan(
                    action, why_not=translate("Desk", "You are on a call: hold it or hang up first")
                )
            return Plan(action, Service.ANSWER, ringing.connection, party=label(ringing))
        if action is CallAction.CONSULT:
            if talking is None:
                return Plan(
                    action,
                    target=target,
                    why_not=(
                        translate("Desk", "Answer the call first")
                        if ringing is not None
                        else translate(
                            "Desk", "No call at your phone ({device}) to consult about"
                        ).format(device=own)
                    ),
                )
            if held is not None:
                return Plan(action, target=target, why_not=self._consulting(talking))
            return Plan(
                action,
                Service.CONSULTATION,
                talking.connection,
                target=target,
                party=label(talking),
            )
        if action in (CallAction.COMPLETE, CallAction.BACK, CallAction.ALTERNATE):
            if talking is None or held is None:
                if action is CallAction.BACK and held is not None:
                    return Plan(action, Service.RETRIEVE, held.connection, party=label(held))
                return Plan(action, why_not=translate("Desk", "You are not consulting anyone"))
            if action is CallAction.COMPLETE:
                return Plan(
                    action,
                    Service.TRANSFER,
                    held.connection,
                    talking.connection,
                    talking.party,
                    label(held),
                )
            if action is CallAction.BACK:
                return Plan(
                    action,
                    Service.RECONNECT,
                    talking.connection,
                    held.connection,
                    party=label(held),
                )
            return Plan(
                action, Service.ALTERNATE, held.connection, talking.connection, party=label(held)
            )
        if action is CallAction.HOLD:
            if talking is not None and held is None:
                return Plan(action, Service.HOLD, talking.connection, party=label(talking))
            if held is not None and talking is None:
                return Plan(action, Service.RETRIEVE, held.connection, party=label(held))
            if talking is not None:
                return Plan(
                    action,
                    why_not=translate(
                        "Desk", "One call is on hold already: switch between them instead"
                    ),
                )
            return Plan(
                action,
                why_not=translate("Desk", "No call at your phone ({device}) to hold").format(
                    device=own
                ),
            )
        if action is CallAction.HANG_UP:
            line = talking or held
            if line is None:
                return Plan(
                    action,
                    why_not=translate("Desk", "No call at your phone ({device}) to end").format(
                        device=own
                    ),
                )
            return Plan(action, Service.CLEAR, line.connection, party=label(line))
        return Plan(action, why_not=translate("Desk", "Not possible"))

    def _consulting(self, talking: Line) -> str:
        return translate(
            "Desk",
            "You are consulting {party}: complete the transfer or go back to the caller first",
        ).format(party=self._line_label(talking))

    def _line_of_key(self, key: str) -> Line | None:
        own = self.config.own_device
        for line in self.board.lines(own) if own else []:
            if self._keys.get(line.call_id) == key:
                return line
        return None

    def _plan_popup(self, key: str, target: str | None) -> Plan:
        """Put through the call of a popup that is not at the own phone: while it rings at a
        monitored device, it is sent on from there (DeflectCall)."""
        popup = self._popups.get(key)
        view = popup.view if popup is not None else None
        if popup is None or view is None or view.state is not PopupState.RINGING:
            return Plan(
                CallAction.PUT_THROUGH,
                target=target,
                why_not=translate(
                    "Desk", "This call is neither ringing nor at your phone any more"
                ),
            )
        connection = popup.connections.get(popup.device)
        if connection is None:
            return Plan(
                CallAction.PUT_THROUGH,
                target=target,
                why_not=translate("Desk", "The PBX did not say which connection rings"),
            )
        return Plan(
            CallAction.PUT_THROUGH, Service.DEFLECT, connection, target=target, party=view.title
        )

    async def act(
        self, action: CallAction, target: str | None = None, key: str | None = None
    ) -> Notice | None:
        """Do `action` (see `plan`); a notice in words when it cannot be done or the PBX
        refuses, None when the PBX took the request (a status line says what happens)."""
        plan = self.plan(action, target, key)
        title = translate("Desk", _ACTION_TITLES[action])
        if plan.why_not is not None or plan.service is None:
            return self._notice(title, (plan.why_not or translate("Desk", "Not possible")) + ".")
        link = self.link
        if link is None or _name(link.state) != "up":
            return self._notice(
                title, translate("Desk", "Not connected to the PBX."), Level.WARNING
            )
        try:
            await self._carry_out(link, plan)
        except CstaClientError as exc:
            whom = self.device_label(plan.target) if plan.target else None
            why = refusal_text(exc, target=whom, own=self.config.own_device)
            return self._notice(
                title,
                translate("Desk", "{failed}: {why}.").format(
                    failed=_sentence(_failed_words(plan, whom)), why=why
                ),
                Level.WARNING,
            )
        self.listener.status(
            _sentence(_done_words(plan, self.device_label(plan.target) if plan.target else ""))
        )
        return None

    async def _carry_out(self, link: DeskLink, plan: Plan) -> None:
        first, second, target = plan.first, plan.second, plan.target
        assert first is not None
        service = plan.service
        if service is Service.ANSWER:
            await link.answer(first)
        elif service is Service.DEFLECT:
            assert target is not None
            await link.deflect(first, target)
        elif service is Service.SINGLE_STEP_TRANSFER:
            assert target is not None
            await link.single_step_transfer(first, target)
        elif service is Service.CONSULTATION:
            assert target is not None
            await link.consult(first, target)
        elif service is Service.TRANSFER:
            assert second is not None
            await link.transfer(first, second)
        elif service is Service.RECONNECT:
            assert second is not None
            await link.reconnect(first, second)
        elif service is Service.ALTERNATE:
            assert second is not None
            await link.alternate(first, second)
        elif service is Service.HOLD:
            await link.hold(first)
        elif service is Service.RETRIEVE:
            await link.retrieve(first)
        elif service is Service.CLEAR:
            await link.clear(first)
        elif service is Service.PICK_UP:
            own = self.config.own_device
            assert own is not None
            await link.pick_up(first, own)

    # -- internals ------------------------------------------------------------------------

    def _notice(
        self, title: str, text: str, level: Level = Level.INFO, *, opens_settings: bool = False
    ) -> Notice:
        notice = Notice(title, text, level, opens_settings)
        self.listener.notice(notice)
        return notice


#: The notices' titles, by the console action they are about.
_ACTION_TITLES = {
    CallAction.ANSWER: QT_TRANSLATE_NOOP("Desk", "Answer"),
    CallAction.PUT_THROUGH: QT_TRANSLATE_NOOP("Desk", "Put through"),
    CallAction.CONSULT: QT_TRANSLATE_NOOP("Desk", "Consult"),
    CallAction.COMPLETE: QT_TRANSLATE_NOOP("Desk", "Transfer"),
    CallAction.BACK: QT_TRANSLATE_NOOP("Desk", "Back to the caller"),
    CallAction.ALTERNATE: QT_TRANSLATE_NOOP("Desk", "Switch calls"),
    CallAction.HOLD: QT_TRANSLATE_NOOP("Desk", "Hold"),
    CallAction.HANG_UP: QT_TRANSLATE_NOOP("Desk", "Hang up"),
    CallAction.PICK_UP: QT_TRANSLATE_NOOP("Desk", "Pick up"),
}


def action_title(action: CallAction) -> str:
    """A console action's name, as the title of its notices ("Put through")."""
    return translate("Desk", _ACTION_TITLES[action])


def _failed_words(plan: Plan, whom: str | None) -> str:
    party = plan.party or translate("Desk", "the call")
    service = plan.service
    if service in (Service.SINGLE_STEP_TRANSFER, Service.DEFLECT, Service.TRANSFER):
        if whom:
            return translate("Desk", "{party} was not put through to {target}").format(
                party=party, target=whom
            )
        return translate("Desk", "{party} was not put through").format(party=party)
    if service is Service.CONSULTATION:
        return translate("Desk", "{target} was not called").format(target=whom)
    if service is Service.PICK_UP:
        return translate("Desk", "The call ringing at {target} was not picked up").format(
            target=whom
        )
    if service is Service.ANSWER:
        return translate("Desk", "{party} was not answered").format(party=party)
    if service is Service.RECONNECT:
        return translate("Desk", "Not back to {party}").format(party=party)
    if service is Service.ALTERNATE:
        return translate("Desk", "The calls were not switched")
    if service is Service.HOLD:
        return translate("Desk", "{party} was not put on hold").format(party=party)
    if service is Service.RETRIEVE:
        return translate("Desk", "{party} was not taken back from hold").format(party=party)
    return translate("Desk", "The call with {party} was not ended").format(party=party)


def _done_words(plan: Plan, whom: str) -> str:
    party = plan.party or translate("Desk", "the caller")
    service = plan.service
    if service is Service.SINGLE_STEP_TRANSFER:
        return translate("Desk", "Putting {party} through to {target}…").format(
            party=party, target=whom
        )
    if service is Service.DEFLECT:
        return translate("Desk", "Sending {party} on to {target}…").format(party=party, target=whom)
    if service is Service.TRANSFER:
        return translate("Desk", "{party} is put through to {target}.").format(
            party=party, target=whom
        )
    if service is Service.CONSULTATION:
        return translate("Desk", "Calling {target}; {party} waits on hold…").format(
            party=party, target=whom
        )
    if service is Service.PICK_UP:
        return translate("Desk", "Picking up the call ringing at {target}…").format(target=whom)
    if service is Service.ANSWER:
        return translate("Desk", "Answering {party}…").format(party=party)
    if service in (Service.RECONNECT, Service.RETRIEVE):
        return translate("Desk", "Back to {party}.").format(party=party)
    if service is Service.ALTERNATE:
        return translate("Desk", "Switched calls.")
    if service is Service.HOLD:
        return translate("Desk", "{party} is on hold.").format(party=party)
    return translate("Desk", "The call with {party} is ended.").format(party=party)


def _sentence(text: str) -> str:
    """`text` as the start of a sentence: its first letter in upper case ("the caller waits"
    -> "The caller waits")."""
    return text[:1].upper() + text[1:]


def _number(device: DeviceId | None) -> str | None:
    if device is None or not device.is_known:
        return None
    return device.number or None


#: Faults that no setting on this computer can cure (the notice does not open the settings).
_NOT_IN_SETTINGS = frozenset({LinkFault.BUSY, LinkFault.GATEWAY_GONE, LinkFault.PBX_DOWN})


def _fault_name(change: LinkChange) -> str | None:
    return None if change.fault is None else LinkFault(change.fault).value


def _name(state: Any) -> str:
    """A link state as its name ("up"), whether the link gives a string or an enum."""
    return str(getattr(state, "value", state))


__all__ = [
    "MAX_POPUPS",
    "STALE_AFTER_SECONDS",
    "Desk",
    "DeskConfig",
    "DeskListener",
    "LinkOptions",
    "Plan",
    "Service",
    "action_title",
]
