"""Benchmark: phonebook load and lookup time at 50,000 contacts.

Writes a generated CSV phonebook to a temporary folder, loads it, then times lookups of
distinct numbers in the form the PBX reports them (trunk digit + national number), so the
result cache never answers; the cached figure is measured separately with one repeated number.
Target: a lookup well under 1 ms.

    .venv/bin/python benchmarks/phonebook.py [--contacts N] [--lookups N] [--seed N]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import phonenumbers

from cstapopup.calls.numbers import NumberingPlan, normalise
from cstapopup.calls.phonebook import Phonebook

PLAN = NumberingPlan(country="DE", area_code="89", trunk_prefix="0", internal_max_length=4)

# German area codes (without the 0) and mobile prefixes the generator draws from.
AREAS = ["30", "40", "69", "89", "221", "211", "711", "351", "341", "511", "911", "6221"]
MOBILES = ["151", "152", "160", "162", "170", "171", "172", "176", "177", "178", "179"]
FIRST = ["Anna", "Bernd", "Carla", "Dieter", "Eva", "Frank", "Gabi", "Hans", "Ilse", "Jens"]
LAST = ["Beispiel", "Muster", "Probe", "Versuch", "Fiktiv", "Erdacht", "Modell", "Entwurf"]


def spell(area: str, subscriber: str, style: int) -> str:
    """One national number written the way people write it, in one of several styles."""
    styles = (
        f"+49 {area} {subscriber}",
        f"0{area} {subscriber}",
        f"0049 {area} {subscriber}",
        f"(0{area}) {subscriber[:3]}-{subscriber[3:]}",
        f"0{area}/{subscriber}",
        f"+49 (0){area} {subscriber}",
    )
    return styles[style % len(styles)]


def random_number(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.3:
        return rng.choice(MOBILES), str(rng.randrange(1_000_000, 9_999_999))
    return rng.choice(AREAS), str(rng.randrange(2_000_000, 9_999_999))


def generate(path: Path, contacts: int, rng: random.Random) -> list[str]:
    """Write the CSV; return the E.164 form of every number written, in file order."""
    used: set[str] = set()
    keys: list[str] = []
    lines = ["Name;Company;Phone;Mobile"]
    for i in range(contacts):
        cells = []
        for _ in range(2 if i % 2 else 1):
            while True:
                area, subscriber = random_number(rng)
                key = f"+49{area}{subscriber}"
                if key not in used:
                    break
            used.add(key)
            keys.append(key)
            cells.append(spell(area, subscriber, rng.randrange(6)))
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}"
        lines.append(f"{name};Firma {i // 7} GmbH;{cells[0]};{cells[1] if len(cells) > 1 else ''}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return keys


def pbx_form(e164: str) -> str:
    """How the PBX reports a German number: trunk digit 0, then national format."""
    return "0" + "0" + e164[3:]


def timed(book: Phonebook, numbers: list[str]) -> tuple[list[float], int]:
    """Per-lookup times in microseconds, and how many lookups found a contact."""
    times: list[float] = []
    found = 0
    clock = time.perf_counter_ns
    for number in numbers:
        start = clock()
        match = book.lookup(number)
        times.append((clock() - start) / 1000)
        found += match is not None
    return times, found


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def report(label: str, times: list[float]) -> None:
    print(f"  {label:<34} median {statistics.median(times):8.1f} us   "
          f"p99 {p99(times):8.1f} us   max {max(times):8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    print(f"python {platform.python_version()} ({sys.implementation.name}), "
          f"phonenumbers {phonenumbers.__version__}, {platform.machine()}")
    with tempfile.TemporaryDirectory(prefix="cstapopup-bench-") as tmp:
        path = Path(tmp) / "phonebook.csv"
        keys = generate(path, args.contacts, rng)
        size_mb = path.stat().st_size / 1e6
        print(f"phonebook: {args.contacts} contacts, {len(keys)} numbers, {size_mb:.1f} MB CSV")

        start = time.perf_counter()
        book = Phonebook([path], PLAN)
        load_s = time.perf_counter() - start
        print(f"load: {load_s:.2f} s ({len(keys) / load_s:,.0f} numbers/s); "
              f"indexed {book.number_count} keys, {len(book.errors)} errors, "
              f"{len(book.conflicts)} conflicts")

        sample = rng.sample(keys, min(args.lookups, len(keys)))
        hits = [pbx_form(k) for k in sample]
        # The generator draws some 015x numbers one digit short: "possible" but not valid to
        # phonenumbers, found through the fallback keys, as unlisted new ranges would be.
        not_valid = sum(normalise(k, PLAN) is None for k in sample)
        known = set(keys)
        misses: list[str] = []
        while len(misses) < args.lookups:
            area, subscriber = random_number(rng)
            key = f"+49{area}{subscriber}"
            if key not in known and normalise(key, PLAN) is not None:
                known.add(key)
                misses.append(pbx_form(key))

        print(f"lookups ({args.lookups} distinct numbers each, PBX form '00<national>'):")
        hit_times, found = timed(book, hits)
        report("hit (uncached)", hit_times)
        miss_times, false_hits = timed(book, misses)
        report("miss (uncached)", miss_times)
        repeat_times, _ = timed(book, [hits[0]] * args.lookups)
        report("hit, same number repeated (cache)", repeat_times[1:])
        print(f"  found {found}/{len(hits)} hits ({not_valid} of them not valid numbers, found "
              f"by fallback key); {false_hits} misses matched something")
        worst = max(p99(hit_times), p99(miss_times))
        verdict = "meets" if worst < 1000 else "MISSES"
        print(f"target < 1 ms per lookup: {verdict} (worst p99 {worst:.1f} us)")


if __name__ == "__main__":
    main()
