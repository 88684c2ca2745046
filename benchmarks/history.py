"""Benchmark of the call history store: write rate as the tracker writes, and query times at scale.

    .venv/bin/python benchmarks/history.py                 # 1,000,000 calls (a few minutes)
    .venv/bin/python benchmarks/history.py --calls 100000  # smaller
    .venv/bin/python benchmarks/history.py --db /tmp/h.sqlite3 --keep   # reuse a filled file
    .venv/bin/python benchmarks/history.py --migrate --calls 300000   # upgrading to schema 3

Prints measured figures only.  "cold" = the first run of a query on a freshly opened store after
the database files were dropped from the OS page cache (posix_fadvise DONTNEED, where available);
"warm" = the same query repeated on the open store.  Medians of several runs.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.calls.store import HistoryStore

TARGET_MS = 50.0

FIRST = (
    "Anna", "Maria", "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Sabine", "Petra",
    "Monika", "Claudia", "Susanne", "Frank", "Jürgen", "Uwe", "Klaus", "Wolfgang", "Peter",
    "Hans", "Markus", "Martin", "Katrin", "Julia", "Lena", "Laura", "Sophie", "Lukas", "Leon",
    "Paul", "Jonas", "Felix", "Tim", "Nina", "Sarah", "Lisa", "Emma", "Mia", "Hannah", "Ben",
    "Elias", "Noah", "Karin", "Birgit", "Ute", "Renate", "Helga", "Gerhard", "Dieter", "Horst",
    "Manfred", "Bernd", "Rainer", "Ralf", "Sven", "Jan", "Dirk", "Ingrid", "Gisela", "Ursula",
    "Heike", "Silke", "Anja", "Tanja", "Nicole", "Daniela", "Sandra", "Melanie", "Özlem",
    "Ayşe", "Mehmet", "Ali", "Ivana", "Piotr", "Agnieszka", "Giulia", "Marco",
)
LAST = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier",
    "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters",
    "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich",
    "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann",
    "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin",
    "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel",
    "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler",
    "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas", "Voigt", "Sauer",
    "Arnold", "Wolff", "Pfeiffer", "Yılmaz", "Kaya", "Nowak", "Kowalski", "Rossi", "Novak",
    "Horvat", "Dubois", "Smith",
)
COMPANY = ("GmbH", "AG", "KG", "GmbH & Co. KG", "e.K.", "Ltd")
TRADES = ("Elektro", "Sanitär", "Logistik", "Bau", "Software", "Kanzlei", "Praxis", "Autohaus",
          "Versicherung", "Bäckerei", "Druckerei", "Immobilien", "Steuerberatung", "Spedition")
AREAS = ("30", "40", "69", "89", "221", "211", "711", "351", "341", "511", "911", "228", "6221")
DEVICES = tuple(str(n) for n in range(100, 124))
SURNAME_WEIGHTS = [1 / (rank + 10) for rank in range(1, len(LAST) + 1)]


def normalise(raw: str) -> list[str]:
    """A simple German dial plan, standing in for calls/numbers.py (no dependency on it)."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.lstrip().startswith("+"):
        return ["+" + digits]
    if digits.startswith("00"):
        return ["+" + digits[2:]]
    if digits.startswith("0"):
        return ["+49" + digits[1:]]
    return [digits] if digits else []


class Party:
    __slots__ = ("company", "internal", "name", "national")

    def __init__(self, rng: random.Random, internal: bool) -> None:
        self.internal = internal
        if internal:
            self.national = str(rng.randint(100, 399))
            self.name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            self.company = None
            return
        if rng.random() < 0.35:
            prefix = rng.choice(("151", "152", "160", "170", "171", "176"))
            self.national = f"0{prefix}{rng.randint(1000000, 99999999)}"
        else:
            self.national = f"0{rng.choice(AREAS)}{rng.randint(100000, 99999999)}"
        # Zipf-like surnames (weight 1/(rank+10)): the first, Müller, is ~3.5% of the names.
        named = rng.random() < 0.6
        self.name = (f"{rng.choice(FIRST)} {rng.choices(LAST, SURNAME_WEIGHTS)[0]}"
                     if named else None)
        self.company = (f"{rng.choice(LAST)} {rng.choice(TRADES)} {rng.choice(COMPANY)}"
                        if named and rng.random() < 0.5 else None)

    def formatted(self, rng: random.Random) -> str:
        """The number as one of the formats PBXs and trunks deliver."""
        if self.internal:
            return self.national
        rest = self.national[1:]
        return rng.choice((self.national, "+49" + rest, "0049" + rest,
                           f"+49 {rest[:3]} {rest[3:]}"))


START = datetime(2021, 6, 1, tzinfo=UTC)


def generate(n: int, seed: int = 1, start: datetime = START,
             span: timedelta = timedelta(days=5 * 365)) -> Iterator[Call]:
    """n realistic calls over ~5 years: many distinct parties (n/5), a fifth of the calls from
    500 regulars (the busiest ~1% of all calls), ~20% missed (most older ones done), names for
    ~60%, one or two of 24 monitored devices each."""
    rng = random.Random(seed)
    parties = [Party(rng, internal=rng.random() < 0.15) for _ in range(max(10, n // 5))]
    regular_weights = [1 / (rank + 3) for rank in range(min(500, len(parties)))]
    seconds = span.total_seconds()
    step = seconds / n
    t = 0.0
    for i in range(n):
        t += rng.expovariate(1 / step)
        started = start + timedelta(seconds=t)
        if rng.random() < 0.2:
            party = rng.choices(parties[:len(regular_weights)], regular_weights)[0]
        else:
            party = rng.choice(parties)
        if party.internal:
            direction = Direction.INTERNAL
        else:
            direction = Direction.INCOMING if rng.random() < 0.62 else Direction.OUTGOING
        devices = tuple(dict.fromkeys(rng.choice(DEVICES) for _ in range(rng.choice((1, 1, 1, 2)))))
        dev = devices[0]
        ring = timedelta(seconds=rng.uniform(2, 30))
        hops = [Hop("delivered", dev, started)]
        r = rng.random()
        answered = ended = None
        answered_by = None
        if direction is not Direction.OUTGOING and r < 0.31:
            outcome = Outcome.MISSED
            ended = started + ring
            hops.append(Hop("cleared", dev, ended, "normalClearing"))
        elif r < 0.35:
            outcome = Outcome.BUSY
            ended = started + timedelta(seconds=1)
            hops.append(Hop("failed", dev, ended, "busy"))
        else:
            outcome = Outcome.ANSWERED
            answered = started + ring
            answered_by = dev
            ended = answered + timedelta(seconds=rng.expovariate(1 / 180))
            hops.append(Hop("answered", dev, answered))
            if rng.random() < 0.2:
                hops.append(Hop("held", dev, answered + timedelta(seconds=20)))
                hops.append(Hop("retrieved", dev, answered + timedelta(seconds=40)))
            hops.append(Hop("cleared", dev, ended, "normalClearing"))
        age_days = (seconds - t) / 86400
        yield Call(
            key=f"{int(started.timestamp() * 1000):x}-{i:07d}",
            direction=direction, started_at=started, remote_number=party.formatted(rng),
            remote_name=party.name, remote_company=party.company, local_devices=devices,
            called_number="4989700" + dev if direction is Direction.INCOMING else None,
            trunk="T1" if direction is not Direction.INTERNAL else None,
            answered_at=answered, ended_at=ended, outcome=outcome, answered_by=answered_by,
            hops=tuple(hops),
            done=outcome is Outcome.MISSED and age_days > 3 and rng.random() < 0.97,
            updated_at=ended,
        )


def tracker_states(call: Call) -> list[Call]:
    """The successive states the tracker upserts for one call: ringing, (named), answered, ended."""
    first = call.evolve(answered_at=None, ended_at=None, outcome=Outcome.IN_PROGRESS,
                        answered_by=None, hops=call.hops[:1], remote_name=None,
                        remote_company=None, done=False)
    named = first.evolve(remote_name=call.remote_name, remote_company=call.remote_company)
    states = [first, named]
    if call.answered_at is not None:
        states.append(named.evolve(answered_at=call.answered_at, answered_by=call.answered_by,
                                   hops=call.hops[:2]))
    states.append(call)
    return states


def write_rate(store: HistoryStore, calls: list[Call]) -> tuple[float, float, float]:
    """(upserts/s and calls/s with a commit per upsert, calls/s with one commit per call)."""
    states = [tracker_states(c) for c in calls]
    half = len(states) // 2
    t0 = time.perf_counter()
    n = 0
    for per_call in states[:half]:
        for state in per_call:
            store.upsert(state)
            n += 1
    per_upsert = time.perf_counter() - t0
    t0 = time.perf_counter()
    for per_call in states[half:]:
        with store.transaction():
            for state in per_call:
                store.upsert(state)
    per_call_time = time.perf_counter() - t0
    return n / per_upsert, half / per_upsert, (len(states) - half) / per_call_time


def drop_cache(path: Path) -> bool:
    if not hasattr(os, "posix_fadvise"):
        return False
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{path}{suffix}")
        if p.exists():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)  # only clean pages can be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return True


def ms(seconds: float) -> float:
    return seconds * 1000.0


def migrate_time(calls: int, folder: Path) -> None:
    """How long opening a history written by schema 2 takes with this version: the phone
    notes' migration adds columns and builds the text index anew (it reads every row)."""
    from cstapopup.calls import store as store_mod

    path = folder / "schema2.sqlite3"
    real = store_mod.MIGRATIONS
    store_mod.MIGRATIONS = real[:2]
    try:
        with HistoryStore(path, normalise=normalise) as old:
            t0 = time.perf_counter()
            old.upsert_many(generate(calls, seed=1), batch=50_000)
            print(f"schema 2 history: {calls:,} calls written in {time.perf_counter() - t0:.1f} s"
                  f" (search index: {old.search_mode})")
    finally:
        store_mod.MIGRATIONS = real
    drop_cache(path)
    t0 = time.perf_counter()
    with HistoryStore(path, normalise=normalise) as new:
        opened = time.perf_counter() - t0
        assert new.schema_version == len(real)
    size = path.stat().st_size
    print(f"open with the migration to schema {len(real)}: {opened:.2f} s "
          f"({calls / opened:,.0f} calls/s; file {size / 1e6:,.0f} MB)")
    t0 = time.perf_counter()
    with HistoryStore(path, normalise=normalise):
        pass
    print(f"open again (migrated): {ms(time.perf_counter() - t0):.1f} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="database file (default: a temp file)")
    ap.add_argument("--keep", action="store_true", help="keep (and reuse) the database file")
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--warm-runs", type=int, default=21)
    ap.add_argument("--write-calls", type=int, default=2000)
    ap.add_argument("--migrate", action="store_true",
                    help="only: how long the upgrade of a schema 2 history with --calls takes")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="cstapopup-bench-"))
    if args.migrate:
        try:
            migrate_time(args.calls, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0
    path = args.db or tmp / "history.sqlite3"
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {args.calls:,} calls")

    # Write rate on an empty store (the tracker's pattern: one upsert per change).
    sample = list(generate(args.write_calls, seed=7))
    with HistoryStore(tmp / "write.sqlite3", normalise=normalise) as small:
        ups, cps, cps_batched = write_rate(small, sample)
        print(f"search index: {small.search_mode}")
    print(f"write, empty store: {ups:,.0f} upserts/s = {cps:,.0f} calls/s (commit per upsert, "
          f"{sum(len(tracker_states(c)) for c in sample) / len(sample):.1f} upserts per call); "
          f"{cps_batched:,.0f} calls/s (one commit per call)")

    store = HistoryStore(path, normalise=normalise)
    have = store.count()
    if have < args.calls:
        t0 = time.perf_counter()
        total = 0
        gen = generate(args.calls, seed=1)
        for _ in range(have):
            next(gen)
        total = store.upsert_many(gen, batch=50_000)
        dt = time.perf_counter() - t0
        print(f"fill: {total:,} calls in {dt:.1f} s ({total / dt:,.0f} calls/s, executemany, "
              f"50,000 per transaction)")
    store.close()
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal")]
    size = sum(f.stat().st_size for f in files if f.exists())
    print(f"database: {size / 1e6:,.0f} MB for {args.calls:,} calls "
          f"({size / args.calls:,.0f} bytes/call)")

    store = HistoryStore(path, normalise=normalise)
    # Pick realistic arguments from the data itself.
    newest = store.recent(1)[0]
    numbered = [c for c in store.recent(2000) if c.direction is not Direction.INTERNAL]
    frequent = max(numbered, key=lambda c: store.count(number=c.remote_number)).remote_number
    typical = numbered[len(numbered) // 2].remote_number
    rare_name = next(c.remote_name for c in numbered if c.remote_name
                     and store.count(text=c.remote_name) < 200)
    print(f"query arguments: frequent number {frequent!r} ({store.count(number=frequent)} calls), "
          f"typical number {typical!r} ({store.count(number=typical)}), "
          f"'Müller' ({store.count(text='Müller')}), 'Schubert' ({store.count(text='Schubert')}), "
          f"{rare_name!r} ({store.count(text=rare_name)}), "
          f"missed & not done {store.badge_count()}, device 100 ({store.count(devices=['100'])})")
    # New calls arrive after the newest stored one, as in real life.
    later = generate(args.write_calls, seed=99, start=newest.started_at + timedelta(minutes=1),
                     span=timedelta(days=7))
    ups, cps, cps_batched = write_rate(store, list(later))
    print(f"write, full store: {ups:,.0f} upserts/s = {cps:,.0f} calls/s (commit per upsert); "
          f"{cps_batched:,.0f} calls/s (one commit per call)")
    store.close()

    digits = "".join(ch for ch in typical if ch.isdigit())[-7:]
    queries: list[tuple[str, Callable[[HistoryStore], object]]] = [
        ("newest 100", lambda s: s.recent(100)),
        ("newest 100, page 50 (keyset)", lambda s: s.recent(100, before=page_anchor)),
        ("missed & not done, first page", lambda s: s.missed_not_done(100)),
        ("badge count", lambda s: s.badge_count()),
        ("by number, frequent party", lambda s: s.by_number(frequent)),
        ("by number, typical party", lambda s: s.by_number(typical)),
        (f"search number digits {digits!r}", lambda s: s.search(digits)),
        ("search name 'Müller' (common)", lambda s: s.search("Müller")),
        ("search name 'Schubert'", lambda s: s.search("Schubert")),
        (f"search name {rare_name!r}", lambda s: s.search(rare_name)),
        ("search 'Sanitär GmbH' (company)", lambda s: s.search("Sanitär GmbH")),
        ("by device 100, first page", lambda s: s.by_device("100")),
        ("devices 100+101, first page", lambda s: s.query(devices=["100", "101"])),
        ("last 7 days, first page", lambda s: s.between(
            newest.started_at - timedelta(days=7), newest.started_at + timedelta(seconds=1),
            limit=100)),
        ("last 7 days, all", lambda s: s.between(newest.started_at - timedelta(days=7),
                                                 newest.started_at + timedelta(seconds=1))),
        ("filter: 'Müller' + missed + incoming", lambda s: s.query(
            text="Müller", missed=True, direction="incoming")),
        ("count all", lambda s: s.count()),
        ("count 'Müller'", lambda s: s.count(text="Müller")),
        ("count device 100", lambda s: s.count(devices=["100"])),
        ("count since 30 days", lambda s: s.count(since=newest.started_at - timedelta(days=30))),
    ]
    with HistoryStore(path, normalise=normalise) as s:
        page_anchor = s.recent(5000)[-1]
        print("\nquery plans:")
        for label, kw in (("recent", {}), ("missed & not done", {"missed": True, "not_done": True}),
                          ("by number", {"number": typical}), ("search name", {"text": "Müller"}),
                          ("by device", {"devices": ["100"]})):
            print(f"  {label}: {' | '.join(s.query_plan(**kw))}")

    sizes: dict[str, int] = {}
    cold: dict[str, list[float]] = {label: [] for label, _ in queries}
    opens: list[float] = []
    dropped = False
    for _ in range(args.cold_runs):
        for label, fn in queries:
            dropped = drop_cache(path)
            t0 = time.perf_counter()
            s = HistoryStore(path, normalise=normalise)
            opens.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fn(s)
            cold[label].append(time.perf_counter() - t0)
            s.close()
    warm: dict[str, list[float]] = {}
    with HistoryStore(path, normalise=normalise) as s:
        for label, fn in queries:
            fn(s)
            runs = []
            for _ in range(args.warm_runs):
                t0 = time.perf_counter()
                result = fn(s)
                runs.append(time.perf_counter() - t0)
            warm[label] = runs
            sizes[label] = len(result) if isinstance(result, list) else int(result)
            if label.startswith("search name 'Müller'"):
                assert isinstance(result, list) and result, "the benchmark data has no Müller"

    cache = "OS page cache dropped" if dropped else "OS page cache NOT dropped (no posix_fadvise)"
    print(f"\nquery times at {args.calls:,} calls, ms (cold: median of {args.cold_runs}, {cache}; "
          f"warm: median of {args.warm_runs}); target {TARGET_MS:.0f} ms")
    print(f"  {'open store (cold)':<44} {ms(statistics.median(opens)):8.1f}")
    width = max(len(label) for label, _ in queries)
    print(f"  {'query':<{width}} {'rows/count':>10} {'cold':>8} {'warm':>8} {'warm max':>9}  "
          f"target")
    for label, _ in queries:
        c = ms(statistics.median(cold[label]))
        w = ms(statistics.median(warm[label]))
        print(f"  {label:<{width}} {sizes[label]:>10,} {c:8.1f} {w:8.1f} "
              f"{ms(max(warm[label])):9.1f}  {'ok' if max(c, w) < TARGET_MS else 'OVER'}")
    if not args.keep and args.db is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
