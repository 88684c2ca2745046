"""The recorder: events of the monitors -> call records with names -> the history store.

It ties the call tracker, the phonebook and the history store together, for `cstapopup
monitor --record` and for the desktop app (which also shows what it returns).  No Qt, no
I/O beyond the store (the phone book reads its files in its own worker: PhonebookService).

What it promises about the history (README, "Call history"):

- Nothing is lost without a word.  A change that cannot be written (full disk, read-only or
  immutable file, a file deleted under it, a lock held by another program) waits in a bounded
  queue in memory and is written when the store works again; past `max_waiting` calls the
  oldest are dropped and counted as lost.  `health` says which it is, as a value
  (`HistoryHealth`), and every listener (`add_health_listener`) hears each change of it.
- Durability: with grouped commits (``commit_delay`` > 0) a change waits at most
  `commit_delay` seconds, or `commit_changes` changes, in an open transaction before it is
  committed, provided the caller calls `flush_due()` at least every `FLUSH_INTERVAL` seconds
  (the monitor and the app do, from a timer); `close()` commits everything.  With
  ``commit_delay=0`` (the default) every change is committed at once.
- Retries are driven by the caller: on the next change and on `flush_due()`, with a backoff
  from `RETRY_MIN` to `RETRY_MAX` seconds.
- One recording writer per history file (the store's writer lock): a second one is refused
  with `HistoryInUseError` when it opens.
- Nothing stays "in progress" for ever: at the start, calls that a previous run left in
  progress (it was killed) are settled as "end not seen"; at a clean `close()`, the calls
  still going on are settled the same way.  Both are handed to the tracker (`resume`), so
  that a call still up, shown by the monitor's snapshot or its events, is continued.
- A phone note is never lost to the tracker: the tracker knows nothing of notes and rewrites
  a live call with every event, so the store keeps notes in columns its upserts never name,
  and the recorder puts the note back on every call it hands up (`set_note` remembers the
  notes of the calls the tracker may still change; a call the tracker merges away keeps its
  row when it has a note).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cstapopup.csta.events import CstaEvent, SnapshotCall

from . import texts
from .model import Call, Hop, Outcome, PhoneNote
from .numbers import NumberingPlan, display_number, lookup_keys, normalise
from .phonebook import Match, Phonebook, PhonebookService, start_phonebook
from .store import IMMUTABLE, HistoryError, HistoryStore
from .tracker import CallTracker

log = logging.getLogger(__name__)

#: Seconds a written change may wait in the open transaction before it is committed
#: (`Recorder.open(commit_delay=COMMIT_DELAY)`); a call that ended is on disk within
#: COMMIT_DELAY + FLUSH_INTERVAL (0.75 s) when `flush_due()` runs every FLUSH_INTERVAL.
COMMIT_DELAY = 0.5
#: ... or after this many changes, whichever comes first.
COMMIT_CHANGES = 500
#: How often the owner of a recorder should call `flush_due()` (seconds).
FLUSH_INTERVAL = 0.25
#: Calls held in memory while the history cannot be written; beyond, the oldest are lost.
MAX_WAITING = 5000
#: Backoff between retries while the history cannot be written (seconds).
RETRY_MIN = 0.5
RETRY_MAX = 10.0
#: Seconds between checks that the file is still there when nothing is committed.
FILE_CHECK_EVERY = 2.0
#: Names remembered for the calls seen last (more than the calls live at once).
NAMES_CACHED = 1024
#: Phone notes remembered to put back on the calls the tracker hands up: more than the calls
#: it remembers (its `memory_limit`), so a call it may still change keeps its note.
NOTES_KEPT = 2048
#: The hop a call gets when its recording stopped while it was going on.
STOPPED_HOP = "recording_stopped"
#: The busy timeout of the recorder's connection (seconds): a write lock held by another
#: program (a CLI edit holds it for milliseconds) must not freeze the app for long.
BUSY_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class HistoryHealth:
    """Whether calls are being saved: what the tray, the history window and `monitor` show.
    The one type of it (`calls.views` re-exports it for the UI).

    `saving` False: changes are not reaching the file, `reason` says why ("the disk is
    full"); `waiting` calls are held in memory to be written when it works again.  `lost`
    counts calls (or changes to calls) that could not be kept, since the recorder started;
    it never goes back to 0 unless a later state of those calls was written after all.
    `notice` is the latest one-off fact worth telling (a deleted file started afresh, calls
    settled at the start); `since` is when saving stopped.  `path` is the file written to.
    `temporary` is set by the app's desk, not the recorder: why the history file could not be
    used, when a throw-away one stands in (its calls are gone when the app ends).
    """

    saving: bool = True
    reason: str | None = None
    waiting: int = 0
    lost: int = 0
    notice: str | None = None
    since: datetime | None = None
    path: str | None = None
    temporary: str | None = None

    @property
    def ok(self) -> bool:
        return self.saving and self.lost == 0 and self.temporary is None

    @property
    def message(self) -> str | None:
        """What the user should know, in one or two sentences; None when all is well."""
        parts = []
        if not self.saving:
            parts.append(texts.history_not_saved(self.reason, self.waiting, self.lost))
        elif self.lost:
            parts.append(texts.history_lost(self.lost))
        if self.temporary is not None:
            parts.append(texts.history_temporary(self.temporary))
        return " ".join(parts) or None


@dataclass
class RecorderChanges:
    """What one fed event changed: calls to show/update, keys removed, missed calls settled
    in the history now (the badge changes)."""

    calls: list[Call] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    resolved: int = 0


HealthListener = Callable[[HistoryHealth], None]


def settled(call: Call, at: datetime) -> Call:
    """A call whose recording stopped while it went on, settled honestly: its end was not
    seen (`end_unknown`, no `ended_at`); the outcome is unknown unless what was already seen
    is a fact (answered, transferred, ...), as after a link loss."""
    outcome = Outcome.UNKNOWN if call.outcome is Outcome.IN_PROGRESS else call.outcome
    return replace(
        call, end_unknown=True, outcome=outcome, hops=(*call.hops, Hop(STOPPED_HOP, None, at))
    )


class Recorder:
    """Feeds the tracker, names the remote party, keeps every change in the store."""

    def __init__(
        self,
        store: HistoryStore,
        tracker: CallTracker,
        *,
        phonebook: Phonebook | PhonebookService | None = None,
        plan: NumberingPlan | None = None,
        clock: Callable[[], datetime] | None = None,
        commit_delay: float = 0.0,
        commit_changes: int = COMMIT_CHANGES,
        max_waiting: int = MAX_WAITING,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        """`commit_delay` > 0 groups commits (see the module doc; the caller then calls
        `flush_due()` every FLUSH_INTERVAL).  `timer` is the monotonic clock of delays and
        retries.  A store opened as the file's writer (``writer=True``) has what a previous
        run left in progress settled now."""
        self.store = store
        self.tracker = tracker
        self.phonebook = phonebook
        self.plan = plan or NumberingPlan()
        self.commit_delay = commit_delay
        self.commit_changes = commit_changes
        self.max_waiting = max_waiting
        self._clock = clock or (lambda: datetime.now(UTC))
        self._timer = timer
        # Names of recent calls (a call's later changes need no new lookup), least recently
        # used dropped first: a cache that was cleared only when full grew for minutes.
        self._names: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        # Notes of calls the tracker may still hand up (see the module doc), newest last.
        self._notes: OrderedDict[str, PhoneNote] = OrderedDict()
        # Changes not yet written (None: delete the key), oldest first; and those written into
        # the open transaction, not yet committed (they go back to the queue if it fails).
        self._pending: OrderedDict[str, Call | None] = OrderedDict()
        # Missed calls of a party to mark done: number -> the latest "before" (a later one
        # covers an earlier one).
        self._pending_resolved: dict[str, datetime] = {}
        self._uncommitted: dict[str, Call | None] = {}
        self._uncommitted_resolved: list[tuple[str, datetime]] = []
        self._failure: HistoryError | None = None
        self._failing_since: datetime | None = None
        self._retry_at = 0.0
        self._backoff = RETRY_MIN
        self._next_file_check = 0.0
        # Keys whose latest change was dropped (a later write of the key takes it back).
        self._lost_keys: OrderedDict[str, None] = OrderedDict()
        self._lost_other = 0
        self._notice: str | None = None
        self._listeners: list[HealthListener] = []
        self._last_health = HistoryHealth()
        store.deferred = True
        store.timer = timer
        store.on_batch_end = self._batch_ended
        if store.writer:
            self._settle_left_over()

    @classmethod
    def open(
        cls,
        db: str | Path | None,
        monitored: Iterable[str],
        *,
        phonebook_files: Iterable[str | Path] = (),
        plan: NumberingPlan | None = None,
        snapshots: bool = False,
        commit_delay: float = 0.0,
        max_waiting: int = MAX_WAITING,
    ) -> Recorder:
        """A recorder over the history file `db` (None: the default location), as its one
        writer: raises `HistoryInUseError` if another program records into it, HistoryError
        if it cannot be opened.  `snapshots`: the client publishes a MonitorSnapshot after
        every monitor start (CallTracker).  `commit_delay`: see the class."""
        plan = plan or NumberingPlan()
        store = HistoryStore(
            db,
            normalise=lambda raw: _lookup_keys(raw, plan),
            writer=True,
            busy_timeout=BUSY_TIMEOUT,
        )
        phonebook = None
        try:
            if store.recovered_from is not None:
                log.warning("%s", store.recovery_message())
            tracker = CallTracker(
                monitored,
                internal_max_length=plan.internal_max_length,
                number_key=lambda n: _number_key(n, plan),
                snapshots=snapshots,
            )
            # Read in a worker thread, never on the start path: call this within the running
            # loop.
            phonebook = start_phonebook([Path(p) for p in phonebook_files], plan)
            return cls(
                store,
                tracker,
                phonebook=phonebook,
                plan=plan,
                commit_delay=commit_delay,
                max_waiting=max_waiting,
            )
        except BaseException:
            if phonebook is not None:
                phonebook.close()
            store.close()
            raise

    def reconfigure(
        self,
        *,
        phonebook_files: Iterable[str | Path] | None = None,
        plan: NumberingPlan | None = None,
    ) -> None:
        """Use other phonebook files and/or another numbering plan from now on (the settings
        changed).  Names already looked up are looked up again; calls already stored keep
        their number keys until `store.reindex_numbers()`."""
        if plan is not None and plan != self.plan:
            self.plan = plan
            # The store and the tracker compare numbers with the plan's keys.
            self.store.set_normaliser(lambda raw: _lookup_keys(raw, plan))
            self.tracker.set_numbering(
                internal_max_length=plan.internal_max_length,
                number_key=lambda n: _number_key(n, plan),
            )
        files = (
            list(phonebook_files)
            if phonebook_files is not None
            else ([str(p) for p in self.phonebook.paths] if self.phonebook is not None else [])
        )
        if self.phonebook is not None:
            self.phonebook.close()
        self.phonebook = start_phonebook([Path(p) for p in files], self.plan)
        self._names.clear()

    def key_of(self, event: CstaEvent) -> str | None:
        """The key of the call record that a call event (already fed) belongs to; None for
        an event that is not about a call the tracker keeps.  The app uses it to tie a
        Delivered event (and its connection, for AnswerCall) to the call its popup shows."""
        try:
            return self.tracker.key_of(event)
        except Exception:
            log.exception("cannot find the call of %s", getattr(event, "name", event))
            return None

    def lookup(self, number: str | None) -> Match | None:
        # Never reads files: the phone book notices changes on its own timer, in its worker.
        if not number or self.phonebook is None:
            return None
        return self.phonebook.lookup(number, from_pbx=True)

    def display_number(self, number: str | None) -> str:
        """The one way a number from the PBX is shown (numbers.display_number, cached)."""
        if not number:
            return ""
        return _display(number, self.plan)

    def _named(self, call: Call) -> Call:
        if call.remote_name or call.remote_kind != "number" or not call.remote_number:
            return call
        names = self._names
        cached = names.get(call.key)
        if cached is None:
            match = self.lookup(call.remote_number)
            cached = (
                (match.contact.name or None, match.contact.company or None)
                if match
                else (None, None)
            )
            if match is not None or self.phonebook is None or self.phonebook.ready:
                # A miss while the book loads is asked again.
                names[call.key] = cached
                if len(names) > NAMES_CACHED:
                    names.popitem(last=False)
        else:
            names.move_to_end(call.key)
        name, company = cached
        if name is None and company is None:
            return call
        return replace(call, remote_name=name, remote_company=company)

    # --- health ---------------------------------------------------------------------------

    @property
    def health(self) -> HistoryHealth:
        """Whether calls are being saved, now (see `HistoryHealth`)."""
        failure = self._failure
        return HistoryHealth(
            saving=failure is None,
            reason=None if failure is None else failure.reason,
            waiting=len(self._pending) + (len(self._uncommitted) if failure else 0),
            lost=len(self._lost_keys) + self._lost_other,
            notice=self._notice,
            path=str(self.store.path),
            since=self._failing_since,
        )

    def add_health_listener(self, listener: HealthListener) -> None:
        """Call `listener(health)` whenever saving stops or starts again, its reason changes,
        calls are lost, or there is a notice (not for every change of `waiting`).  Called
        from inside `feed` / `flush_due` / `close`; a failing listener is logged."""
        self._listeners.append(listener)

    def remove_health_listener(self, listener: HealthListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self) -> None:
        health = self.health
        last = self._last_health
        if (health.saving, health.reason, health.lost, health.notice) == (
            last.saving,
            last.reason,
            last.lost,
            last.notice,
        ):
            return
        self._last_health = health
        for listener in list(self._listeners):
            try:
                listener(health)
            except Exception:
                log.exception("history health listener failed")

    def _say(self, notice: str) -> None:
        log.warning("call history: %s", notice)
        self._notice = notice
        self._notify()

    # --- writing ----------------------------------------------------------------------------

    def _queue(self, key: str, call: Call | None) -> None:
        pending = self._pending
        pending[key] = call
        pending.move_to_end(key)
        while len(pending) > self.max_waiting:
            old, _ = pending.popitem(last=False)
            self._lose(old)

    def _resolve(self, number: str, before: datetime) -> None:
        pending = self._pending_resolved
        if number in pending:
            pending[number] = max(pending[number], before)
            return
        pending[number] = before
        if len(pending) > 4 * self.max_waiting:  # small entries: a generous bound
            del pending[next(iter(pending))]
            self._lose(None)

    def _lose(self, key: str | None) -> None:
        if key is None:
            self._lost_other += 1
        else:
            self._lost_keys[key] = None
            self._lost_keys.move_to_end(key)
            if len(self._lost_keys) > 4 * self.max_waiting:
                self._lost_keys.popitem(last=False)
                self._lost_other += 1
        lost = len(self._lost_keys) + self._lost_other
        if lost == 1 or lost % 100 == 0:  # loud, without a line for every call
            log.error(
                "call history: changes dropped, %d so far: the history cannot be "
                "written (%s) and %d calls are waiting already",
                lost,
                self._failure.reason if self._failure else "no reason",
                self.max_waiting,
            )
        self._notify()

    def _batch_ended(self, committed: bool) -> None:
        """The store committed (True) or lost (False) the writes of the open transaction."""
        if committed:
            for key in self._uncommitted:
                self._lost_keys.pop(key, None)
        else:
            # Back to the queue, under anything newer of the same calls.
            merged: OrderedDict[str, Call | None] = OrderedDict(self._uncommitted)
            for key, call in self._pending.items():
                merged[key] = call
                merged.move_to_end(key)
            self._pending = OrderedDict()
            for key, call in merged.items():
                self._queue(key, call)
            for number, before in self._uncommitted_resolved:
                self._resolve(number, before)
        self._uncommitted = {}
        self._uncommitted_resolved = []

    def _write(self) -> int:
        """Write what waits into the open transaction; missed calls settled by it."""
        if not (self._pending or self._pending_resolved):
            return 0
        if self._failure is not None and (self._timer() < self._retry_at or not self._usable()):
            return 0
        store = self.store
        items = list(self._pending.items())
        resolved = list(self._pending_resolved.items())
        try:
            settled_now = store.write_changes(items, resolved)
        except HistoryError as exc:
            self._failed(exc)
            return 0
        for key, call in items:
            if self._pending.get(key, self) is call:
                del self._pending[key]
            self._uncommitted[key] = call
        for number, before in resolved:
            if self._pending_resolved.get(number) == before:
                del self._pending_resolved[number]
        self._uncommitted_resolved += resolved
        if self._failure is not None:
            self._commit()  # a retry that worked: committed now, to know it did
        return settled_now

    def _commit_if_due(self, *, timer: bool = True) -> None:
        """Commit if the oldest waiting change is `commit_delay` old (the timer), or also
        `FLUSH_INTERVAL` later (an event, when the timer is late: the commit stays off the
        event path while the timer keeps up), or `commit_changes` changes wait."""
        since = self.store.waiting_since
        if since is None:
            return
        delay = (
            self.commit_delay
            if timer or not self.commit_delay
            else self.commit_delay + FLUSH_INTERVAL
        )
        if self._timer() - since >= delay or len(self._uncommitted) >= self.commit_changes:
            self._commit()

    def _commit(self) -> bool:
        """Commit the open transaction after checking that the file is still the one to
        write; True if nothing waits any more."""
        if self._file_trouble():
            return False
        try:
            self.store.commit()
        except HistoryError as exc:
            self._failed(exc)  # what it held is back in the queue (`_batch_ended`)
            return False
        self._next_file_check = self._timer() + FILE_CHECK_EVERY
        if self._failure is not None and not self._pending and not self._pending_resolved:
            self._recovered()
        return True

    def _file_trouble(self) -> bool:
        """Check the file under the connection; deal with a deleted, replaced or immutable
        one.  True if the open transaction could not be committed because of it."""
        store = self.store
        if not store.is_open:
            return not self._usable()
        problem = store.file_problem()
        if problem is None:
            return False
        if problem == "immutable":
            # Keep SQLite away from the mapped -shm (SIGBUS): the store parks the connection;
            # it is opened again once the file is writable (a retry).
            store.disconnect()
            self._failed(HistoryError(f"Call history {store.path} is immutable", reason=IMMUTABLE))
            return True
        store.rollback()  # it belongs to a file nobody will open again: back to the queue
        try:
            store.reopen()
        except HistoryError as exc:
            self._failed(
                HistoryError(str(exc), reason=texts.history_file_not_recreated(problem, exc.reason))
            )
            return True
        self._say(texts.history_file_restarted(str(store.path), problem))
        self._write()
        return False

    def _usable(self) -> bool:
        """Make sure the store is open on a writable file (a retry); False if not yet."""
        store = self.store
        if store.is_open:
            return True
        try:
            store.reopen()
        except HistoryError as exc:
            self._failed(exc)
            return False
        return True

    def _failed(self, exc: HistoryError) -> None:
        if self._failure is None:
            self._failing_since = self._clock()
            self._backoff = RETRY_MIN
            log.error("call history: calls are not being saved: %s (%s)", exc.reason, exc)
        else:
            self._backoff = min(self._backoff * 2, RETRY_MAX)
        self._failure = exc
        self._retry_at = self._timer() + self._backoff
        self._notify()

    def _recovered(self) -> None:
        log.warning(
            "call history: calls are being saved again (%d lost meanwhile)", self.health.lost
        )
        self._failure = None
        self._failing_since = None
        self._notify()

    def flush_due(self) -> HistoryHealth:
        """The owner's timer, every FLUSH_INTERVAL: commit what has waited long enough, retry
        a failed history when its backoff is over, check now and then that the file is still
        there.  Returns the health."""
        now = self._timer()
        if self._failure is not None:
            if now >= self._retry_at and self._usable():
                self._write()
                if self._failure is not None and not (self._pending or self._pending_resolved):
                    self._commit()
        else:
            self._commit_if_due()
            if now >= self._next_file_check:
                self._next_file_check = now + FILE_CHECK_EVERY
                if self.store.waiting_since is None:
                    self._file_trouble()
        return self.health

    def flush(self) -> HistoryHealth:
        """Write and commit everything now (no backoff).  Returns the health."""
        self._retry_at = 0.0
        self._write()
        if self.store.is_open:
            self._commit()
        return self.health

    def _store(self, changed: list[Call]) -> RecorderChanges:
        out = RecorderChanges()
        deleted = self.tracker.drain_deleted()
        resolved = self.tracker.drain_resolved()
        if not changed and not deleted and not resolved:
            return out
        notes = self._notes
        for call in changed:
            call = self._named(call)
            note = notes.get(call.key)
            if note is not None:
                call = replace(call, note=note)
            out.calls.append(call)
            self._queue(call.key, call)
        for key in deleted:
            # A call with a note keeps its row (the store does the same): not gone for the UI.
            if key not in notes:
                out.deleted.append(key)
            self._queue(key, None)
        for number, before in resolved:
            self._resolve(number, before)
        out.resolved = self._write()
        if self._failure is None:
            self._commit_if_due(timer=False)
        return out

    # --- phone notes ------------------------------------------------------------------------

    def set_note(self, key: str, note: PhoneNote | None) -> Call | None:
        """Write the phone note of the call `key` (None or an empty note: remove it) and
        commit it, with whatever waits.  Returns the call as the history has it now (its note
        on it), None when the history has no such call.  Raises HistoryError when the history
        cannot be written (the caller keeps the note and says so: nothing here queues it)."""
        if self._pending or self._pending_resolved:
            self.flush()  # the call may still wait in the queue
            if self._failure is not None:
                raise self._failure
        try:
            call = self.store.set_note(key, note)
        except HistoryError as exc:
            self._failed(exc)  # what waited with it is back in the queue (`_batch_ended`)
            raise
        if self._failure is not None and not (self._pending or self._pending_resolved):
            self._recovered()  # written: the history works again
        if call is None:
            return None
        if call.note is None:
            self._notes.pop(key, None)
        else:
            self._notes[key] = call.note
            self._notes.move_to_end(key)
            if len(self._notes) > NOTES_KEPT:
                self._notes.popitem(last=False)
        return call

    def note_of(self, key: str) -> PhoneNote | None:
        """The phone note of a call, from memory (set this run) or the history."""
        note = self._notes.get(key)
        if note is not None:
            return note
        try:
            return self.store.get_note(key)
        except HistoryError:
            return None

    def feed(
        self, device: str, event: CstaEvent, received_at: datetime | None = None
    ) -> RecorderChanges:
        return self._store(self.tracker.feed(device, event, received_at or self._clock()))

    def snapshot(
        self, device: str, calls: Iterable[SnapshotCall] | None, at: datetime | None = None
    ) -> RecorderChanges:
        """The calls at `device` right after its monitor (re)started (MonitorSnapshot)."""
        return self._store(self.tracker.snapshot(device, calls, at or self._clock()))

    def link_lost(self, at: datetime | None = None) -> RecorderChanges:
        return self._store(self.tracker.link_lost(at or self._clock()))

    def set_monitored(self, devices: Iterable[str]) -> RecorderChanges:
        return self._store(self.tracker.set_monitored(devices, self._clock()))

    # --- start and stop ---------------------------------------------------------------------

    def _settle_left_over(self) -> None:
        """At the start: calls a previous run left in progress (it was killed, or its last
        writes failed) are settled as "end not seen"; those and the ones a clean stop
        settled, if recent, are handed to the tracker to be continued if still going on."""
        now = self._clock()
        try:
            left = self.store.unfinished(ended_unseen_since=now - self.tracker.resume_window)
        except HistoryError as exc:
            self._failed(exc)
            return
        stuck = {c.key for c in left if c.is_live}
        calls = [settled(c, c.updated_at or c.started_at) if c.key in stuck else c for c in left]
        for call in calls:
            if call.key in stuck:
                self._queue(call.key, call)
        self.flush()
        for call in calls:
            if call.note is not None:
                self._notes[call.key] = call.note
        self.tracker.resume(calls, now)
        if stuck:
            self._say(texts.calls_settled_at_start(len(stuck)))

    def close(self) -> HistoryHealth:
        """Settle the calls still going on ("end not seen"), write and commit everything,
        close the store.  What could not be written is counted as lost (and logged).
        Returns the final health (`lost` > 0: calls were lost; the monitor exits non-zero)."""
        try:
            now = self._clock()
            for call in self.tracker.live_calls():
                named = self._named(call.evolve(updated_at=now))
                self._queue(call.key, settled(named, now))
            self.flush()
            if self._failure is None and self.store.is_open:
                # Rows the tracker no longer has (its queue entry was dropped, say).
                try:
                    for call in self.store.unfinished():
                        self._queue(call.key, settled(call, now))
                except HistoryError as exc:
                    self._failed(exc)
                self.flush()
            if self._pending or self._pending_resolved:
                for key in list(self._pending):
                    self._lose(key)
                for _ in self._pending_resolved:
                    self._lose(None)
                self._pending.clear()
                self._pending_resolved.clear()
                self._notify()
        finally:
            if self.phonebook is not None:
                self.phonebook.close()
            self.store.on_batch_end = None
            self.store.close()
        return self.health


# Normalising a number (phonenumbers) takes 0.1-0.2 ms, and the same few numbers come back with
# every event: the tracker compares the remote party of each remembered call whenever a call is
# answered or placed, the store indexes the number at every write, the UI formats it for every
# row.  The functions are pure in (number, plan), so a bounded cache keeps the cost per event
# from growing with the number of calls remembered (see benchmarks/popup.py).  2048 numbers
# each: more than the tracker remembers (1000 calls); a number costs about 1 KB over the three
# caches, so they stay near 2 MB (with 8192 they grew by 8.7 MB over half an hour of soak).
@functools.lru_cache(maxsize=2048)
def _number_key(number: str, plan: NumberingPlan) -> str:
    n = normalise(number, plan, from_pbx=True)
    return n.key if n is not None else number


@functools.lru_cache(maxsize=2048)
def _lookup_keys(raw: str, plan: NumberingPlan) -> tuple[str, ...]:
    return tuple(lookup_keys(raw, plan, from_pbx=True))


@functools.lru_cache(maxsize=2048)
def _display(number: str, plan: NumberingPlan) -> str:
    return display_number(number, plan, from_pbx=True)
