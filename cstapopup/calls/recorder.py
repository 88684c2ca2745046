"""The recorder: events of the monitors -> call records with names -> the history store.

It ties the call tracker, the phonebook and the history store together, for `cstapopup
monitor --record` and for the desktop app (which also shows what it returns).  No Qt, no I/O
beyond the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from cstapopup.csta.events import CstaEvent

from .model import Call
from .numbers import NumberingPlan, lookup_keys, normalise
from .phonebook import Match, Phonebook
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
                 phonebook: Phonebook | None = None, plan: NumberingPlan | None = None,
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
             phonebook_files: Iterable[str | Path] = (), plan: NumberingPlan | None = None) -> Recorder:
        """A recorder over the history file `db` (None: the default location)."""
        plan = plan or NumberingPlan()
        store = HistoryStore(db, normalise=lambda raw: lookup_keys(raw, plan, from_pbx=True))
        if store.recovered_from is not None:
            log.warning("%s", store.recovery_message())
        phonebook = Phonebook([Path(p) for p in phonebook_files], plan) if phonebook_files else None
        tracker = CallTracker(monitored, internal_max_length=plan.internal_max_length,
                              number_key=lambda n: _number_key(n, plan))
        return cls(store, tracker, phonebook=phonebook, plan=plan)

    def lookup(self, number: str | None) -> Match | None:
        if not number or self.phonebook is None:
            return None
        self.phonebook.reload_if_changed()
        return self.phonebook.lookup(number, from_pbx=True)

    def display_number(self, number: str | None) -> str:
        if not number:
            return ""
        n = normalise(number, self.plan, from_pbx=True)
        return n.display if n is not None else number

    def _named(self, call: Call) -> Call:
        if call.remote_name or call.remote_kind != "number" or not call.remote_number:
            return call
        cached = self._names.get(call.key)
        if cached is None:
            match = self.lookup(call.remote_number)
            cached = (match.contact.name or None, match.contact.company or None) if match else (None, None)
            if len(self._names) > 5000:
                self._names.clear()
            self._names[call.key] = cached
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

    def link_lost(self, at: datetime | None = None) -> RecorderChanges:
        return self._store(self.tracker.link_lost(at or self._clock()))

    def set_monitored(self, devices: Iterable[str]) -> RecorderChanges:
        return self._store(self.tracker.set_monitored(devices, self._clock()))

    def close(self) -> None:
        self.store.close()


def _number_key(number: str, plan: NumberingPlan) -> str:
    n = normalise(number, plan, from_pbx=True)
    return n.key if n is not None else number
