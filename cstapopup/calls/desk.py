"""The reception desk: the app's domain side, without Qt.

`Desk` owns the recorder (tracker, phone book, history) and the PBX link.  It takes the link's
callbacks (events, snapshots, link states, monitors that failed), decides what the user should
see, and hands it up as values (`calls.views`) through a `DeskListener`: popups to open, change
or close, history rows, the missed-call badge, the link's state, notices in words.  It takes
the user's intents (answer, call back, dismiss, do not disturb) and turns them into link
requests; their errors come back as notices, never as exceptions.

Popups are bounded whatever the PBX sends: at most `max_popups` at a time (the oldest goes
when one more would open; counted and said), and a popup that rings for `stale_after` seconds
without any news of its call is given up (the PBX missed telling us its end) and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cstapopup.csta.client import ClientOptions, CstaClientError, LinkDownError
from cstapopup.csta.events import ConnectionId, CstaEvent, DeliveredEvent, DeviceId, SnapshotCall
from cstapopup.settings import ConnectionParameters

from . import texts
from .model import Call
from .numbers import NumberingPlan
from .phonebook import PhonebookStatus
from .recorder import Recorder, RecorderChanges
from .store import HistoryError
from .views import (
    Action,
    Caller,
    HistoryHealth,
    Level,
    LinkStatus,
    Notice,
    PopupState,
    PopupView,
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
_FORWARD_CAUSES = frozenset({
    "redirected", "call_forward", "call_forward_immediate", "call_forward_busy",
    "call_forward_no_answer", "call_deflection", "distributed"})
_TRANSFER_CAUSES = frozenset({"transfer", "single_step_transfer"})

# The link's states as the tray shows them.
_TRAY_STATE = {"connecting": "connecting", "up": "up", "down": "down", "rejected": "down",
               "closed": "down"}


class PbxLinkLike(Protocol):
    """What the desk needs of a PBX link (`cstapopup.ui.link.PbxLink` is one)."""

    @property
    def state(self) -> Any: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def answer(self, connection: ConnectionId) -> None: ...

    async def make_call(self, calling: str, called: str) -> Any: ...


#: Makes a link: (params, devices, on_state=, on_event=, on_monitor_failed=, on_snapshot=,
#: label=) -> link.  The app passes PbxLink with its client options.
LinkFactory = Callable[..., PbxLinkLike]


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

    @classmethod
    def from_settings(cls, value: Callable[[str], Any], *, close_after: float | None = None
                      ) -> tuple[DeskConfig, list[Notice]]:
        """The configuration from setting values (`value(name)`), and what is wrong with it.
        `close_after` overrides popup.close_after_seconds (self-test, benchmarks)."""
        notices = []
        try:
            plan = NumberingPlan.from_settings(value)
        except ValueError as exc:
            notices.append(Notice("Numbers", f"The numbering settings cannot be used ({exc}); "
                                             "using the defaults.", Level.WARNING))
            plan = NumberingPlan()
        if close_after is None:
            close_after = float(value("popup.close_after_seconds"))
        config = cls(monitored=tuple(str(d) for d in value("devices.monitor")),
                     own_device=str(value("devices.own") or "") or None,
                     crm_template=value("crm.url_template") or "", close_after=close_after,
                     plan=plan, phonebook_files=tuple(str(p) for p in value("phonebook.files")))
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

    def __init__(self, listener: DeskListener | None = None, *,
                 link_factory: LinkFactory | None = None, config: DeskConfig | None = None,
                 clock: Callable[[], float] = time.monotonic, max_popups: int = MAX_POPUPS,
                 stale_after: float = STALE_AFTER_SECONDS) -> None:
        self.listener = listener or DeskListener()
        self.config = config or DeskConfig()
        self._link_factory = link_factory
        self._clock = clock
        self.max_popups = max(1, max_popups)
        self.stale_after = stale_after
        self.recorder: Recorder | None = None
        self.history_health: HistoryHealth | None = None
        self.link: PbxLinkLike | None = None
        self.link_status = LinkStatus("connecting", "starting")
        self.do_not_disturb = False
        #: Popups closed because more than `max_popups` were open (their calls are recorded).
        self.popups_dropped = 0
        self._popups: OrderedDict[str, _Popup] = OrderedDict()   # oldest first
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._raw_state = "down"
        self._demo = False
        #: Said with every link state until the next connect() ("using the factory password").
        self._link_note = ""
        self._lost_notified = False
        self._monitor_notified: set[str] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._book_errors: tuple[str, ...] = ()

    # -- the history ----------------------------------------------------------------------

    @property
    def store(self) -> Any:
        return self.recorder.store if self.recorder is not None else None

    def open_history(self, path: Path, *, snapshots: bool = False) -> None:
        """Open the history file `path` (and the phone books).  When it cannot be used, a
        throw-away history stands in (popups matter more than the history), and it says so."""
        config = self.config
        kwargs: dict[str, Any] = {"phonebook_files": list(config.phonebook_files),
                                  "plan": config.plan, "snapshots": snapshots}
        try:
            self.recorder = Recorder.open(path, config.monitored, **kwargs)
            self.history_health = HistoryHealth(str(path))
        except HistoryError as exc:
            self._temp_dir = self._temp_dir or tempfile.TemporaryDirectory(prefix="cstapopup-")
            fallback = Path(self._temp_dir.name) / "history.sqlite3"
            self._notice("Call history", f"{exc}\nCalls are kept only until cstapopup ends.",
                         Level.ERROR)
            self.recorder = Recorder.open(fallback, config.monitored, **kwargs)
            self.history_health = HistoryHealth(str(fallback), kept=False, problem=str(exc))
        store = self.recorder.store
        if store.recovered_from is not None:
            self._notice("Call history", store.recovery_message() or "", Level.WARNING)
        self._phonebook_notice()

    def configure(self, config: DeskConfig) -> None:
        """New settings: phone books and numbering plan take effect at once; the monitored
        devices with the next `connect()`."""
        old, self.config = self.config, config
        if self.recorder is not None and (config.plan != old.plan
                                          or config.phonebook_files != old.phonebook_files):
            self.recorder.reconfigure(phonebook_files=list(config.phonebook_files),
                                      plan=config.plan)
            self._phonebook_notice()

    def _phonebook_notice(self) -> None:
        """Follow the phone book, which loads in the background: its errors are told when a
        load ends (not at start, before anything was read), and popups that show only a
        number are looked up again once the names are there."""
        book = self.recorder.phonebook if self.recorder is not None else None
        self._book_errors = ()
        if book is None:
            return
        add_listener = getattr(book, "add_listener", None)
        if add_listener is not None:
            add_listener(self._on_phonebook)
        elif book.errors:   # a phone book read at once (tools, tests)
            self._notice("Phone book", "\n".join(book.errors[:5]), Level.WARNING)

    def _on_phonebook(self, status: PhonebookStatus) -> None:
        if self.recorder is None or status is None:
            return
        errors = tuple(status.errors)
        if errors and errors != self._book_errors:
            self._notice("Phone book", "\n".join(errors[:5]), Level.WARNING)
        self._book_errors = errors
        now = self._clock()
        for key, popup in list(self._popups.items()):
            number = popup.call.remote_number
            if popup.caller.name is not None or popup.call.remote_kind != "number" or not number:
                continue
            match = self.recorder.lookup(number)
            if match is None:
                continue
            popup.caller = replace(popup.caller, name=match.contact.name or None,
                                   company=match.contact.company or None)
            self._show(key, popup, now, new=False)

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
        """Close the history (the link must be stopped first) and forget every popup."""
        self._popups.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        if self._temp_dir is not None:
            with contextlib.suppress(OSError):
                self._temp_dir.cleanup()
            self._temp_dir = None

    # -- the link -------------------------------------------------------------------------

    async def connect(self, params: ConnectionParameters, *, label: str | None = None,
                      demo: bool = False, note: str = "") -> bool:
        """Open the link to the PBX with the monitored devices of the configuration; False
        (and a notice) when it cannot even be set up (e.g. an unreadable CA file).  `note`:
        what the user should know about this link whatever its state (LinkStatus.note)."""
        assert self._link_factory is not None, "a Desk without a link factory cannot connect"
        self._demo = demo
        self._link_note = note
        try:
            link = self._link_factory(
                params, list(self.config.monitored), on_state=self.on_link_state,
                on_event=self.on_event, on_monitor_failed=self.on_monitor_failed,
                on_snapshot=self.on_snapshot, label=label)
        except (OSError, ValueError) as exc:
            self.not_connected(f"cannot set up the link: {exc}")
            self._notice("PBX link", f"Cannot set up the link to the PBX: {exc}", Level.ERROR,
                         opens_settings=True)
            return False
        self.link = link
        if self.recorder is not None:
            self._apply(self.recorder.set_monitored(self.config.monitored))
        self._monitor_notified.clear()
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

    def on_link_state(self, state: Any, reason: str) -> None:
        """The link's state and why (in words); the system's own words behind it, if any,
        are the link's `detail` (PbxLink)."""
        state = _name(state)
        previous, self._raw_state = self._raw_state, state
        shown = _TRAY_STATE.get(state, "down")
        if self._demo and state == "up":
            shown, reason = "demo", "demo mode: " + reason
        detail = str(getattr(self.link, "detail", "") or "") if state in ("down",
                                                                          "rejected") else ""
        self._set_link(shown, reason, detail)
        sentence = reason[:1].upper() + reason[1:] + "."
        if state == "rejected":
            if self._link_note:
                sentence += " " + self._link_note[:1].upper() + self._link_note[1:] + "."
            self._notice("Login refused", sentence, Level.ERROR, opens_settings=True)
        elif state == "down" and previous == "up":
            if self.recorder is not None:
                self._apply(self.recorder.link_lost())
            self._lost_notified = True
            self._notice("PBX link lost", sentence, Level.WARNING)
        elif state == "down" and previous == "connecting" and not self._lost_notified:
            self._lost_notified = True
            self._notice("Cannot connect to the PBX", sentence, Level.WARNING,
                         opens_settings=True)
        elif state == "up" and self._lost_notified:
            self._lost_notified = False
            self._notice("PBX link", sentence)

    def on_monitor_failed(self, device: str, text: str) -> None:
        if device in self._monitor_notified:
            return
        self._monitor_notified.add(device)
        self._notice("Device not monitored", text[:1].upper() + text[1:]
                     + ". Check the monitored devices in the settings.", Level.WARNING,
                     opens_settings=True)

    # -- events ---------------------------------------------------------------------------

    def on_event(self, device: str, event: CstaEvent,
                 received_at: datetime | None = None) -> None:
        """One monitor event (received now, or at `received_at`): into the history, and a
        popup when a call rings at one of the monitored devices."""
        if self.recorder is None:
            return
        changes = self.recorder.feed(device, event, received_at)
        opened = self._ringing(event, changes) if isinstance(event, DeliveredEvent) else None
        self._apply(changes, opened)

    def on_snapshot(self, device: str, calls: Iterable[SnapshotCall] | None) -> None:
        """The calls at a device whose monitor was just (re)started: calls under way before
        it could see them get a row (of unknown outcome) instead of none or a wrong one."""
        if self.recorder is not None:
            self._apply(self.recorder.snapshot(device, calls))

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
            popup.call if popup is not None else self._stored(key))
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
        self._popups[key] = _Popup(call, alerting, self._caller(event, call), forwarded_from,
                                   transferred_by, now, {alerting: event.connection})
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
            number = call.remote_number   # the event did not say; the record does
        return Caller(name, company, self.recorder.display_number(number) if number else "")

    def _make_room(self) -> None:
        while len(self._popups) >= self.max_popups:
            # The oldest popup whose call is over goes first, else the oldest of all.
            key = next((k for k, p in self._popups.items() if p.closing_since is not None),
                       next(iter(self._popups)))
            del self._popups[key]
            self.popups_dropped += 1
            if self.popups_dropped == 1 or self.popups_dropped % 1000 == 0:
                log.warning("more than %d popups at once: %d closed early so far (their calls "
                            "are in the history)", self.max_popups, self.popups_dropped)
            if self.popups_dropped == 1:
                self._notice("Too many calls at once",
                             f"{texts.count('too many popups', self.max_popups)}: the "
                             "oldest popups were closed. Every call is in the history.",
                             Level.WARNING)
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
        view = popup_view(popup.call, caller=popup.caller, ringing_device=popup.device,
                          own_device=config.own_device, crm_template=config.crm_template,
                          close_after=config.close_after, forwarded_from=popup.forwarded_from,
                          transferred_by=popup.transferred_by, stale_after=popup.stale_after,
                          display=self.display_number)
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
                log.info("popup %s: no news of its call for %.0f s; given up", key,
                         now - popup.last_news)
                popup.stale_after = self.stale_after
                self._show(key, popup, now, new=False)
                del self._popups[key]    # the UI closes it; nothing more will change it
            elif popup.closing_since is not None and view.closes_in is not None and \
                    now - popup.closing_since >= view.closes_in + FORGET_AFTER_SECONDS:
                del self._popups[key]

    def _schedule_sweep(self) -> None:
        if self._sweeper is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return   # no loop (a test feeding events by hand): it calls sweep() itself
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
        popup = self._popups.get(key)
        connection = popup.connections.get(device) if popup is not None else None
        view = popup.view if popup is not None else None
        if device != self.config.own_device or connection is None or view is None \
                or view.ringing_device != device or not view.allows(Action.ANSWER):
            return self._notice("Answer", f"This call no longer rings at {device}.")
        link = self.link
        if link is None:
            return self._notice("Answer", "Not connected to the PBX.")
        try:
            await link.answer(connection)
        except LinkDownError:
            return self._notice("Answer", "Not connected to the PBX: the call was not "
                                          "answered.", Level.WARNING)
        except CstaClientError as exc:
            return self._notice("Answer", f"The PBX did not answer the call at {device}: "
                                          f"{exc}", Level.WARNING)
        return None

    async def call_back(self, number: str) -> Notice | None:
        """Call `number` (as the PBX gave it) from the user's own phone."""
        own = self.config.own_device
        if not own:
            return self._notice("Call back", "Set your own phone in the settings to call back.")
        shown = self.display_number(number)
        link = self.link
        if link is None or _name(link.state) != "up":
            return self._notice("Call back", f"Not connected to the PBX: cannot call {shown}.",
                                Level.WARNING)
        try:
            await link.make_call(own, number)
        except LinkDownError:
            return self._notice("Call back", f"Not connected to the PBX: cannot call {shown}.",
                                Level.WARNING)
        except CstaClientError as exc:
            return self._notice("Call back", f"The PBX did not call {shown} from {own}: {exc}",
                                Level.WARNING)
        self.listener.status(f"Calling {shown} from {own}…")
        return None

    # -- internals ------------------------------------------------------------------------

    def _notice(self, title: str, text: str, level: Level = Level.INFO, *,
                opens_settings: bool = False) -> Notice:
        notice = Notice(title, text, level, opens_settings)
        self.listener.notice(notice)
        return notice


def _number(device: DeviceId | None) -> str | None:
    if device is None or not device.is_known:
        return None
    return device.number or None


def _name(state: Any) -> str:
    """A link state as its name ("up"), whether the link gives a string or an enum."""
    return str(getattr(state, "value", state))


__all__ = ["MAX_POPUPS", "STALE_AFTER_SECONDS", "Desk", "DeskConfig", "DeskListener",
           "LinkOptions", "PbxLinkLike"]
