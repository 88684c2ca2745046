"""The recorder: events of the monitors -> call records with names -> the history store.

It ties the call tracker, the phonebook and the history store together, for `cstapopup
monitor --record` and for the desktop app (which also shows what it returns).  No Qt, no I/O
beyond the store.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from cstapopup.csta.events import CstaEvent, SnapshotCall

from .model import Call
from .numbers import NumberingPlan, display_number, lookup_keys, normalise
from .phonebook import Match, Phonebook, PhonebookService, start_phonebook
from .store import HistoryError, HistoryStore
from .tracker import CallTracker

log = logging.getLogger(__name__)


@dataclass
class RecorderChanges:
    """What one fed event changed: calls to show/update, keys removed."""

    calls: list[Call] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    resolved: int = 0


class Recorder:
    """Feeds the tracker, names the remote party, keeps every change in the store."""

    def __init__(self, store: HistoryStore, tracker: CallTracker, *,
                 phonebook: Phonebook | PhonebookService | None = None,
                 plan: NumberingPlan | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self.phonebook = phonebook
        self.plan = plan or NumberingPlan()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._names: dict[str, tuple[str | None, str | None]] = {}
        self.errors: list[str] = []

    @classmethod
    def open(cls, db: str | Path | None, monitored: Iterable[str], *,
             phonebook_files: Iterable[str | Path] = (), plan: NumberingPlan | None = None,
             snapshots: bool = False) -> Recorder:
        """A recorder over the history file `db` (None: the default location).  `snapshots`:
        the client publishes a MonitorSnapshot after every monitor start (CallTracker)."""
        plan = plan or NumberingPlan()
        store = HistoryStore(db, normalise=lambda raw: _lookup_keys(raw, plan))
        if store.recovered_from is not None:
            log.warning("%s", store.recovery_message())
        # Read in a worker thread, never on the start path: call this within the running loop.
        phonebook = start_phonebook([Path(p) for p in phonebook_files], plan)
        tracker = CallTracker(monitored, internal_max_length=plan.internal_max_length,
                              number_key=lambda n: _number_key(n, plan), snapshots=snapshots)
        return cls(store, tracker, phonebook=phonebook, plan=plan)

    def reconfigure(self, *, phonebook_files: Iterable[str | Path] | None = None,
                    plan: NumberingPlan | None = None) -> None:
        """Use other phonebook files and/or another numbering plan from now on (the settings
        changed).  Names already looked up are looked up again; calls already stored keep
        their number keys until `store.reindex_numbers()`."""
        if plan is not None and plan != self.plan:
            self.plan = plan
            # The store and the tracker compare numbers with the plan's keys.
            self.store.set_normaliser(lambda raw: _lookup_keys(raw, plan))
            self.tracker.set_numbering(internal_max_length=plan.internal_max_length,
                                       number_key=lambda n: _number_key(n, plan))
        files = list(phonebook_files) if phonebook_files is not None else (
            [str(p) for p in self.phonebook.paths] if self.phonebook is not None else [])
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
        cached = self._names.get(call.key)
        if cached is None:
            match = self.lookup(call.remote_number)
            cached = (match.contact.name or None, match.contact.company or None) if match else (None, None)
            if len(self._names) > 5000:
                self._names.clear()
            if match is not None or self.phonebook is None or self.phonebook.ready:
                self._names[call.key] = cached  # a miss while the book loads is asked again
        name, company = cached
        if name is None and company is None:
            return call
        return replace(call, remote_name=name, remote_company=company)

    def _store(self, changed: list[Call]) -> RecorderChanges:
        out = RecorderChanges()
        deleted = self.tracker.drain_deleted()
        resolved = self.tracker.drain_resolved()
        if not changed and not deleted and not resolved:
            return out
        try:
            with self.store.transaction():
                for call in changed:
                    call = self._named(call)
                    self.store.upsert(call)
                    out.calls.append(call)
                for key in deleted:
                    self.store.delete(key)
                    out.deleted.append(key)
                for number, before in resolved:
                    out.resolved += self.store.mark_done_for_remote(number, before)
        except HistoryError as exc:
            # The calls stay in the tracker's memory and are written with their next change.
            self.errors.append(str(exc))
            log.error("history: %s", exc)
        return out

    def feed(self, device: str, event: CstaEvent, received_at: datetime | None = None) -> RecorderChanges:
        return self._store(self.tracker.feed(device, event, received_at or self._clock()))

    def snapshot(self, device: str, calls: Iterable[SnapshotCall] | None,
                 at: datetime | None = None) -> RecorderChanges:
        """The calls at `device` right after its monitor (re)started (MonitorSnapshot)."""
        return self._store(self.tracker.snapshot(device, calls, at or self._clock()))

    def link_lost(self, at: datetime | None = None) -> RecorderChanges:
        return self._store(self.tracker.link_lost(at or self._clock()))

    def set_monitored(self, devices: Iterable[str]) -> RecorderChanges:
        return self._store(self.tracker.set_monitored(devices, self._clock()))

    def close(self) -> None:
        if self.phonebook is not None:
            self.phonebook.close()
        self.store.close()


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
