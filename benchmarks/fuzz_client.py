"""Fuzz the client's whole receive path: bytes -> frames -> APDUs -> typed events.

A `ClientConnection` is brought up with a real association (AARE) and SystemStatus, then fed
hostile input through `receive_data()`: mutated real APDUs (the captured vectors, and APDUs
made by encoding random typed events with `codec.encode_apdu(codec.EventReport(...))`),
random frames, random splits, truncated frames, huge lengths, deep nesting, long strings and
long lists.  It checks that no exception escapes `receive_data`, that no input takes more
CPU time than a bound (a hang), that memory stays bounded, and that after every non-fatal
error the connection still decodes a good event.  Inputs are judged by the CPU time of this
process (time.process_time), not by the clock: on a busy machine the time other processes
take does not count against an input, so the verdict does not depend on the load.  A closed connection (fatal error, as designed for
broken framing, or an ABRT / RLRE) is replaced by a new one.

Run:   .venv/bin/python benchmarks/fuzz_client.py [--seed 0] [--inputs 100000] [--bound-ms 50]
       .venv/bin/python benchmarks/fuzz_client.py --atheris [--inputs 100000]   (coverage-guided)
Every figure printed is measured in this run.  One input in 100 is traced for its allocations
(tracemalloc) and timed apart, since tracing slows it.  Exit status 1 if an exception escaped,
an input took more CPU time than the bound, an invariant broke or a good event failed to
decode.
"""

from __future__ import annotations

import argparse
import array
import copy
import dataclasses
import gc
import os
import random
import statistics
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# In atheris mode the protocol modules must be imported under its instrumentation: nothing from
# cstapopup.csta (or asn1tools) is imported at module level.


def report(title: str, *rows: tuple[str, str]) -> None:
    """Print a title and aligned rows, wrapping long values under their column."""
    import textwrap

    print(title)
    for label, value in rows:
        lines = textwrap.wrap(value, 100 - 26) or [""]
        print(f"  {label + ':':<23} {lines[0]}")
        for more in lines[1:]:
            print(" " * 26 + more)
    sys.stdout.flush()


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


# Building blocks ----------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _elements(data: bytes) -> list[tuple[int, int, int, int]]:
    """(start, header_end, end, tag) of every element found by a lenient walk of `data`."""
    out: list[tuple[int, int, int, int]] = []
    stack = [(0, len(data))]
    while stack and len(out) < 400:
        pos, end = stack.pop()
        while pos < end:
            start = pos
            tag = data[pos]
            pos += 1
            if tag & 0x1F == 0x1F:
                while pos < end and data[pos] & 0x80:
                    pos += 1
                pos += 1
            if pos >= end:
                break
            n = data[pos]
            pos += 1
            if n & 0x80:
                k = n & 0x7F
                if k == 0 or k > 3 or pos + k > end:
                    break
                n = int.from_bytes(data[pos : pos + k], "big")
                pos += k
            if pos + n > end:
                break
            out.append((start, pos, pos + n, tag))
            if tag & 0x20:
                stack.append((pos, pos + n))
            pos += n
    return out


INTERESTING = (
    0x00,
    0x01,
    0x02,
    0x04,
    0x05,
    0x0A,
    0x16,
    0x24,
    0x30,
    0x55,
    0x7F,
    0x80,
    0x81,
    0x82,
    0x84,
    0x85,
    0xA0,
    0xA1,
    0xBF,
    0xFF,
)


class InputMaker:
    """Draws fuzz inputs from one random.Random: each is (kind, list of chunks to feed)."""

    def __init__(self, rng: random.Random, corpus: list[bytes], max_frame: int) -> None:
        from cstapopup.csta.framing import frame

        self.rng = rng
        self.corpus = corpus
        self.max_frame = max_frame
        self.frame = frame
        self.kinds: list[tuple[str, Callable[[], bytes], float]] = [
            ("mutated", self.mutated, 30.0),
            ("spliced", self.spliced, 6.0),
            ("length-field", self.length_field, 8.0),
            ("nested", self.nested, 5.0),
            ("long-string", self.long_string, 5.0),
            ("long-list", self.long_list, 5.0),
            ("random-apdu", self.random_apdu, 6.0),
            ("truncated-apdu", self.truncated_apdu, 5.0),
            ("good", self.good, 8.0),
        ]
        self.stream_kinds: list[tuple[str, Callable[[], bytes], float]] = [
            ("framed", self.framed, 80.0),
            ("coalesced", self.coalesced, 8.0),
            ("truncated-frame", self.truncated_frame, 3.0),
            ("wrong-frame-length", self.wrong_frame_length, 2.0),
            ("huge-frame-length", self.huge_frame_length, 2.0),
            ("bad-mark", self.bad_mark, 1.0),
            ("random-bytes", self.random_bytes, 2.0),
            ("empty-frame", self.empty_frame, 2.0),
        ]
        self._apdu_kind = "good"

    def _pick(
        self, table: list[tuple[str, Callable[[], bytes], float]]
    ) -> tuple[str, Callable[[], bytes]]:
        total = sum(w for _, _, w in table)
        x = self.rng.uniform(0, total)
        for name, fn, w in table:
            x -= w
            if x <= 0:
                return name, fn
        return table[-1][0], table[-1][1]

    def next(self) -> tuple[str, list[bytes]]:
        stream_kind, make = self._pick(self.stream_kinds)
        data = make()
        kind = (
            f"{stream_kind}/{self._apdu_kind}"
            if stream_kind in ("framed", "coalesced", "truncated-frame", "wrong-frame-length")
            else stream_kind
        )
        return kind, self.split(data)

    def split(self, data: bytes) -> list[bytes]:
        """Deliver `data` in 1..many reads, cut at random points."""
        r = self.rng.random()
        if r < 0.5 or len(data) < 2:
            return [data]
        if r < 0.6:
            return [data[i : i + 1] for i in range(len(data))] if len(data) <= 400 else [data]
        cuts = sorted(
            self.rng.sample(range(1, len(data)), min(len(data) - 1, self.rng.randint(1, 8)))
        )
        return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]

    # APDUs ----------------------------------------------------------------------------------------

    def apdu(self) -> bytes:
        self._apdu_kind, make = self._pick(self.kinds)
        data = make()
        return data[: self.max_frame] if len(data) > self.max_frame else data

    def base(self) -> bytes:
        return self.rng.choice(self.corpus)

    def good(self) -> bytes:
        return self.base()

    def mutated(self) -> bytes:
        data = bytearray(self.base())
        rng = self.rng
        for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
            if not data:
                data += rng.randbytes(4)
            op = rng.randrange(6)
            i = rng.randrange(len(data))
            if op == 0:
                data[i] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[i] = rng.choice(INTERESTING) if rng.random() < 0.7 else rng.randrange(256)
            elif op == 2:
                data[i:i] = rng.randbytes(rng.randint(1, 8))
            elif op == 3:
                del data[i : i + rng.randint(1, 8)]
            elif op == 4:
                j = min(len(data), i + rng.randint(1, 40))
                data[j:j] = bytes(data[i:j]) * rng.randint(1, 30)
            else:
                data[i : i + 1] = bytes([rng.randrange(256)])
        return bytes(data)

    def spliced(self) -> bytes:
        a, b = self.base(), self.base()
        return a[: self.rng.randrange(len(a) + 1)] + b[self.rng.randrange(len(b) + 1) :]

    def length_field(self) -> bytes:
        data = self.base()
        elements = _elements(data)
        if not elements:
            return data
        start, header_end, end, _tag = self.rng.choice(elements)
        tag_end = start + 1
        rng = self.rng
        choice = rng.randrange(6)
        if choice == 0:
            new = b"\x80"  # indefinite
        elif choice == 1:
            new = b"\x84" + rng.randbytes(4)  # huge, 4 bytes
        elif choice == 2:
            new = bytes([0x80 | rng.randint(5, 127)]) + rng.randbytes(rng.randint(0, 8))
        elif choice == 3:
            new = _length(max(0, (end - header_end) + rng.randint(-3, 3)))  # off by a few
        elif choice == 4:
            new = b"\x82" + (end - header_end).to_bytes(2, "big")  # long form for a short one
        else:
            new = _length(rng.choice((0, 1, 127, 128, 255, 256, 65535, 2**24)))
        return data[:tag_end] + new + data[header_end:]

    def nested(self) -> bytes:
        data = self.base()
        elements = [e for e in _elements(data) if not e[3] & 0x20] or _elements(data)
        if not elements:
            return data
        start, _, end, tag = self.rng.choice(elements)
        depth = self.rng.choice((2, 5, 31, 32, 33, 100, 1000, 5000))
        inner = data[start:end]
        if self.rng.random() < 0.5:
            wrapper = (tag | 0x20) if tag < 0x1F else 0x24
            inner = bytes([wrapper, 0x80]) + b"\x24\x80" * (depth - 1) + inner + b"\x00\x00" * depth
        else:
            wrapper = self.rng.choice((0x24, 0x30, 0xA0))
            for _ in range(depth):
                inner = _tlv(wrapper, inner)
                if len(inner) > self.max_frame:
                    break
        return self._replace(data, start, end, inner)

    def long_string(self) -> bytes:
        data = self.base()
        prims = [e for e in _elements(data) if not e[3] & 0x20]
        if not prims:
            return data
        start, _, end, tag = self.rng.choice(prims)
        n = self.rng.choice((63, 64, 65, 100, 1023, 1024, 1025, 4000, 8000, 30000))
        return self._replace(
            data, start, end, _tlv(tag, self.rng.choice((b"5", b"\x00", b"\xff")) * n)
        )

    def long_list(self) -> bytes:
        data = self.base()
        cons = [e for e in _elements(data) if e[3] & 0x20 and e[2] > e[1]]
        if not cons:
            return data
        start, header_end, end, tag = self.rng.choice(cons)
        kids = _elements(data[header_end:end])
        first = data[header_end : header_end + kids[0][2]] if kids else b"\x30\x00"
        n = self.rng.choice((31, 32, 33, 100, 1000, 10000))
        return self._replace(data, start, end, _tlv(tag, first * n))

    def _replace(self, data: bytes, start: int, end: int, new: bytes) -> bytes:
        """Put `new` in place of data[start:end] and fix the enclosing definite lengths."""
        out = data[:start] + new + data[end:]
        delta = len(new) - (end - start)
        for s, h, e, t in sorted(_elements(data), key=lambda x: -x[0]):
            if s < start and e >= end and data[s + 1] != 0x80:
                old_header = out[s:h]
                new_len = _length(e - h + delta)
                out = out[: s + 1] + new_len + out[h:]
                delta += len(new_len) - (len(old_header) - 1)
        return out

    def random_apdu(self) -> bytes:
        rng = self.rng
        first = rng.choice(
            (0xA1, 0xA2, 0xA3, 0xA4, 0x60, 0x61, 0x62, 0x63, 0x64, rng.randrange(256))
        )
        body = rng.randbytes(rng.choice((0, 1, 2, 5, 20, 100, 1000)))
        return bytes([first]) + _length(len(body)) + body

    def truncated_apdu(self) -> bytes:
        data = self.base()
        return data[: self.rng.randrange(len(data))] if data else data

    # Streams --------------------------------------------------------------------------------------

    def framed(self) -> bytes:
        return self.frame(self.apdu(), 0x7FFF)

    def coalesced(self) -> bytes:
        return b"".join(self.frame(self.apdu(), 0x7FFF) for _ in range(self.rng.randint(2, 6)))

    def truncated_frame(self) -> bytes:
        framed = self.frame(self.apdu(), 0x7FFF)
        return framed[: self.rng.randrange(1, len(framed))] if len(framed) > 1 else framed

    def wrong_frame_length(self) -> bytes:
        apdu = self.apdu()
        n = max(0, min(0x7FFF, len(apdu) + self.rng.choice((-5, -1, 1, 5, 100))))
        return bytes((0x26, 0x80 | (n >> 8), n & 0xFF)) + apdu

    def huge_frame_length(self) -> bytes:
        n = self.rng.randint(self.max_frame + 1, 0x7FFF) if self.max_frame < 0x7FFF else 0x7FFF
        return bytes((0x26, 0x80 | (n >> 8), n & 0xFF)) + self.rng.randbytes(
            self.rng.randint(0, 50)
        )

    def bad_mark(self) -> bytes:
        framed = bytearray(self.frame(self.base(), 0x7FFF))
        framed[0] = self.rng.choice([b for b in range(256) if b != 0x26])
        return bytes(framed)

    def random_bytes(self) -> bytes:
        return self.rng.randbytes(self.rng.choice((1, 3, 10, 100, 1000)))

    def empty_frame(self) -> bytes:
        return b"\x26\x80\x00"


# The corpus ---------------------------------------------------------------------------------------


def random_events(rng: random.Random, count: int) -> list[Any]:
    """Typed events with random fields (every class; devices, ids, lists, extensions)."""
    from cstapopup.csta import codec, events, names

    states = ["null", "initiated", "alerting", "connected", "hold", "queued", "fail"]
    causes = list(names.EVENT_CAUSES.values())

    def device() -> events.DeviceId:
        r = rng.random()
        if r < 0.1:
            return events.DeviceId(rng.choice(("not_known", "restricted")))
        if r < 0.15:
            return events.DeviceId.of(rng.randint(0, 10**9))
        digits = "".join(
            rng.choice("0123456789*#+") for _ in range(rng.choice((1, 3, 4, 11, 15, 30, 64)))
        )
        return events.DeviceId.of(digits)

    def conn() -> events.ConnectionId:
        return events.ConnectionId(
            rng.randbytes(rng.choice((1, 2, 2, 2, 4, 8))), device() if rng.random() < 0.9 else None
        )

    def change() -> events.ConnectionChange:
        return events.ConnectionChange(
            conn() if rng.random() < 0.9 else None,
            conn() if rng.random() < 0.5 else None,
            device() if rng.random() < 0.5 else None,
        )

    out = []
    classes = list(events.EVENT_CLASSES.values())
    while len(out) < count:
        cls = rng.choice(classes)
        kwargs: dict[str, Any] = {"cross_ref_id": rng.randbytes(rng.choice((2, 2, 2, 1, 4)))}
        if rng.random() < 0.5:
            kwargs["timestamp"] = datetime(
                rng.randint(2000, 2030),
                rng.randint(1, 12),
                rng.randint(1, 28),
                rng.randint(0, 23),
                rng.randint(0, 59),
                rng.randint(0, 59),
            )
        if rng.random() < 0.3:
            kwargs["private_data"] = tuple(
                _tlv(
                    0xE1,
                    _tlv(0x06, b"\x2b\x0c\x00\x04") + _tlv(0x04, rng.randbytes(rng.randint(0, 30))),
                )
                for _ in range(rng.randint(1, 4))
            )
        for f in dataclasses.fields(cls):
            if f.name in kwargs or f.name in ("cross_ref_id", "timestamp", "private_data", "name"):
                continue
            t = str(f.type)
            if "DeviceId" in t and (rng.random() < 0.7 or "None" not in t):
                kwargs[f.name] = device()
            elif "ConnectionChange" in t:
                kwargs[f.name] = tuple(change() for _ in range(rng.randint(0, 5)))
            elif "ConnectionId" in t and (f.name == "connection" or rng.random() < 0.5):
                kwargs[f.name] = conn()
            elif f.name == "cause" and rng.random() < 0.9:
                kwargs[f.name] = rng.choice(causes)
            elif f.name == "local_connection_state" and rng.random() < 0.7:
                kwargs[f.name] = rng.choice(states)
            elif f.name in ("global_call_id", "thread_id") and rng.random() < 0.4:
                kwargs[f.name] = rng.randbytes(16)
            elif f.name in ("number_queued", "calls_in_front") and rng.random() < 0.5:
                kwargs[f.name] = rng.randint(0, 100)
            elif f.name == "hookswitch_id":
                kwargs[f.name] = rng.randbytes(1)
            elif f.name in ("on_hook", "do_not_disturb_on", "forward_status"):
                kwargs[f.name] = rng.random() < 0.5
            elif f.name == "forwarding_type" and rng.random() < 0.7:
                kwargs[f.name] = rng.choice(codec._FORWARDING_TYPES)
        if "UnknownEvent" in cls.__name__:
            continue
        try:
            out.append(cls(**kwargs))
        except TypeError:
            continue
    return out


def build_corpus(rng: random.Random, n_events: int) -> tuple[list[bytes], int, int]:
    """The vectors of the protocol facts, other well-formed APDUs a PBX sends, and encoded
    random typed events.  Returns the corpus, how many of it are encoded random events, and
    how many random events failed to encode."""
    from cstapopup.csta import codec
    from tests import vectors as v

    corpus = [
        v.DELIVERED,
        v.CONNECTION_CLEARED,
        v.SYSTEM_STATUS,
        v.MONITOR_START_RESULT,
        v.MONITOR_STOP_RESULT,
        v.ERROR_INVALID_MONITOR_OBJECT,
        v.MAKE_CALL_RESULT,
        v.HOOKSWITCH_548_OFF,
        v.SYSTEM_STATUS_RESULT,
        v.MONITOR_STOP,
        v.ABRT,
    ]
    for iid in (1, 2, 3, 127, 128, 0x9D, 0x1234, 0x7FFF, 0x12345):
        corpus.append(codec.encode_apdu(codec.Invoke(iid, 211, {"systemStatus": "normal"})))
        corpus.append(codec.encode_apdu(codec.ReturnResult(iid, 73, ("noData", None))))
        corpus.append(
            codec.encode_apdu(codec.ReturnResult(iid, 71, {"crossRefIdentifier": b"\x00\x01"}))
        )
        corpus.append(codec.encode_apdu(codec.Reject(iid, "invoke", 2)))
        corpus.append(
            codec.encode_apdu(codec.ReturnError(iid, 1, codec.UniversalFailure("operation", 62)))
        )
    corpus.append(codec.encode_apdu(codec.ReleaseResponse()))
    fixed, failed = len(corpus), 0
    for event in random_events(rng, n_events):
        try:
            corpus.append(codec.encode_apdu(codec.EventReport(rng.randint(0, 0x7FFF), event)))
        except codec.EncodeError:
            failed += 1
    return corpus, len(corpus) - fixed, failed


# The run ------------------------------------------------------------------------------------------


class Harness:
    """An up ClientConnection (replaced when it closes) and the checks around each input."""

    def __init__(self, max_frame: int) -> None:
        from cstapopup.csta import codec
        from cstapopup.csta.connection import (
            ClientConnection,
            EventReceived,
            LinkState,
            ProtocolError,
        )
        from cstapopup.csta.framing import frame
        from tests import vectors as v

        self.max_frame = max_frame
        self.ClientConnection = ClientConnection
        self.LinkState = LinkState
        self.ProtocolError = ProtocolError
        self.EventReceived = EventReceived
        self.aare = frame(codec.encode_apdu(codec.AssociationResponse(0, 0)))
        self.system_status = frame(v.SYSTEM_STATUS)
        self.canary_frame = frame(v.CONNECTION_CLEARED)
        self.requests = [
            (71, codec.monitor_start_argument("100")),
            (73, codec.monitor_stop_argument(b"\x00\x01")),
            (
                10,
                {
                    "callingDevice": codec.device_to_asn1("100"),
                    "calledDirectoryNumber": codec.device_to_asn1("200"),
                },
            ),
            (210, {}),
        ]
        self.connections = 0
        self.conn = self.new_connection()

    def new_connection(self) -> Any:
        c = self.ClientConnection(max_frame_length=self.max_frame)
        c.associate("AMHOST", "77777")
        events = c.receive_data(self.aare + self.system_status)
        c.data_to_send()
        assert c.state is self.LinkState.UP, events
        self.connections += 1
        return c

    def send_some_requests(self, rng: random.Random) -> None:
        c = self.conn
        for _ in range(rng.randint(1, 3)):
            op, arg = rng.choice(self.requests)
            if len(c.pending) >= 200:
                c.forget(next(iter(c.pending)))
            c.send_request(op, arg)
        c.data_to_send()

    def canary(self) -> bool | None:
        """If the connection is up and between frames, a good event must decode."""
        c = self.conn
        if c.state is not self.LinkState.UP or c._reader.buffered:
            return None
        events = c.receive_data(self.canary_frame)
        return len(events) == 1 and isinstance(events[0], self.EventReceived)


def run_random(args: argparse.Namespace) -> int:
    from cstapopup.csta import codec

    setup_start = time.perf_counter()
    rng = random.Random(args.seed)
    corpus, encoded_events, encode_failures = build_corpus(
        random.Random(args.seed + 1), args.events
    )
    maker = InputMaker(rng, corpus, args.max_frame_length)
    harness = Harness(args.max_frame_length)
    codec.spec()
    gc.collect()
    gc.freeze()  # the setup's objects are not the inputs' business: keep them out of GC passes
    setup = time.perf_counter() - setup_start

    bound = args.bound_ms / 1000
    times = array.array("d")  # no object per input: the heap check below stays honest
    slowest: list[tuple[float, int, str, int]] = []
    exceptions: list[tuple[int, str, str, bytes]] = []
    hangs: list[tuple[int, str, float, int]] = []
    invariant_cases: list[tuple[int, str, str, bytes, bytes]] = []
    stats = {
        "events": 0,
        "errors": 0,
        "fatal": 0,
        "other": 0,
        "canary_ok": 0,
        "canary_failed": 0,
        "invariant_failures": 0,
        "closed_by_peer": 0,
    }
    kinds: dict[str, int] = {}
    traced_peaks: list[tuple[int, int, str]] = []
    traced_slowest = 0.0
    apdu_kinds: dict[str, int] = {}
    gc.collect()
    load = os.getloadavg()[0]
    blocks_start = blocks_warm = sys.getallocatedblocks()
    rss_start = _rss_mb()
    rss_peak = rss_start
    out_bytes_max = 0
    conn_closed = harness.LinkState.CLOSED
    protocol_error = harness.ProtocolError
    event_received = harness.EventReceived
    run_start = time.perf_counter()
    cpu_start = time.process_time()
    for i in range(args.inputs):
        kind, chunks = maker.next()
        kinds[kind.split("/")[0]] = kinds.get(kind.split("/")[0], 0) + 1
        if "/" in kind:
            apdu_kinds[kind.split("/")[1]] = apdu_kinds.get(kind.split("/")[1], 0) + 1
        if i % 50 == 0:
            harness.send_some_requests(rng)
        conn = harness.conn
        traced = args.trace_every and i % args.trace_every == 0
        if traced:
            tracemalloc.start()
        start = time.process_time()
        try:
            results = []
            for chunk in chunks:
                results += conn.receive_data(chunk)
            out = conn.data_to_send()
        except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
            elapsed = time.process_time() - start
            exceptions.append((i, kind, "".join(traceback.format_exception(exc)), b"".join(chunks)))
            results, out = [], b""
        else:
            elapsed = time.process_time() - start
        if traced:
            traced_peaks.append((tracemalloc.get_traced_memory()[1], i, kind))
            tracemalloc.stop()
        size = sum(len(c) for c in chunks)
        if traced:
            # allocation tracing slows an input several times: timed apart, held to 10 x the bound
            traced_slowest = max(traced_slowest, elapsed)
            if elapsed > 10 * bound:
                hangs.append((i, kind, elapsed, size))
        else:
            times.append(elapsed)
            if elapsed > bound:
                hangs.append((i, kind, elapsed, size))
            if len(slowest) < 5 or elapsed > slowest[-1][0]:
                slowest.append((elapsed, i, kind, size))
                slowest.sort(reverse=True)
                del slowest[5:]
        for ev in results:
            if isinstance(ev, event_received):
                stats["events"] += 1
            elif isinstance(ev, protocol_error):
                stats["fatal" if ev.fatal else "errors"] += 1
            else:
                stats["other"] += 1
        out_bytes_max = max(out_bytes_max, len(out))
        # Invariants: what the connection holds stays bounded whatever came in.
        broken = [
            name
            for name, bad in (
                ("receive buffer", conn._reader.buffered > args.max_frame_length + 2),
                ("pending", len(conn.pending) > conn.max_pending),
                ("reply size", len(out) > 200 * max(1, len(results))),
            )
            if bad
        ]
        if broken:
            stats["invariant_failures"] += 1
            if len(invariant_cases) < 3:
                invariant_cases.append((i, kind, ", ".join(broken), b"".join(chunks), out))
        if conn.state is conn_closed:
            if not any(isinstance(ev, protocol_error) and ev.fatal for ev in results):
                stats["closed_by_peer"] += 1  # ABRT or RLRE among the inputs
            harness.conn = harness.new_connection()
        elif i % 20 == 0:
            ok = harness.canary()
            if ok is not None:
                stats["canary_ok" if ok else "canary_failed"] += 1
        if i == args.inputs // 10:  # warmed up: from here on the heap must not grow
            gc.collect()
            blocks_warm = sys.getallocatedblocks()
        if i % 5000 == 0:
            rss_peak = max(rss_peak, _rss_mb())
    run_time = time.perf_counter() - run_start
    cpu_time = time.process_time() - cpu_start
    harness.conn = harness.new_connection()  # let the last input's connection go, like the others
    gc.collect()
    blocks_end = sys.getallocatedblocks()
    rss_end = _rss_mb()
    rss_peak = max(rss_peak, rss_end)

    times = sorted(times)

    def pct(q: float) -> str:
        return f"{times[int(len(times) * q)] * 1e6:.0f} us"

    def by_count(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {n:,}" for k, n in sorted(counts.items(), key=lambda x: -x[1]))

    t0, i0, k0, n0 = slowest[0]
    repeat = f"--seed {args.seed} --inputs {args.inputs}"
    if args.max_frame_length != 8192:
        repeat += f" --max-frame-length {args.max_frame_length}"
    report(
        "fuzz_client: the client's receive path (ClientConnection.receive_data), random mode",
        (
            "inputs",
            (
                f"{args.inputs:,} (seed {args.seed}; corpus {len(corpus)} APDUs, "
                f"{encoded_events} of them encoded random typed events; "
                f"{encode_failures} random events the encoder refused)"
            ),
        ),
        ("stream kinds", by_count(kinds)),
        ("APDU kinds in frames", by_count(apdu_kinds)),
        ("exceptions escaped", f"{len(exceptions)} (must be 0)"),
        (f"hangs (> {args.bound_ms:g} ms CPU)", f"{len(hangs)}"),
        ("slowest input", f"{t0 * 1000:.2f} ms CPU ({k0}, {n0:,} bytes, input #{i0})"),
        ("next slowest", "; ".join(f"{t * 1000:.2f} ms {k} {n:,} B" for t, _, k, n in slowest[1:])),
        (
            "CPU time per input",
            (
                f"median {statistics.median(times) * 1e6:.0f} us, p99 {pct(0.99)}, "
                f"p99.9 {pct(0.999)} (the {len(times):,} inputs without allocation "
                f"tracing; slowest traced one {traced_slowest * 1000:.2f} ms)"
            ),
        ),
        (
            "inputs/s",
            (
                f"{args.inputs / run_time:,.0f} ({run_time:.1f} s for the inputs by the "
                f"clock, {cpu_time:.1f} s CPU; setup {setup:.1f} s; load average before "
                f"the run {load:.2f})"
            ),
        ),
        (
            "outcomes",
            (
                f"{stats['events']:,} events decoded, {stats['errors']:,} non-fatal protocol "
                f"errors, {stats['fatal']:,} fatal (broken framing), {stats['other']:,} "
                "other connection events"
            ),
        ),
        (
            "connections",
            (
                f"{harness.connections:,} brought up ({stats['closed_by_peer']:,} "
                "closed by an ABRT/RLRE input)"
            ),
        ),
        (
            "canary after inputs",
            (
                f"{stats['canary_ok']:,} good events decoded after fuzz inputs, "
                f"{stats['canary_failed']} failed (must be 0)"
            ),
        ),
        (
            "invariant failures",
            (
                f"{stats['invariant_failures']} (receive buffer within the frame "
                "limit, pending within max_pending, replies bounded)"
            ),
        ),
        (
            "memory",
            (
                f"RSS {rss_start:.0f} MB after setup, {rss_end:.0f} MB at the end, "
                f"{rss_peak:.0f} MB peak sampled"
            ),
        ),
        (
            "per-input allocation",
            f"largest peak {max(traced_peaks)[0] / 1024:.0f} KiB "
            f"({max(traced_peaks)[2]}) over {len(traced_peaks):,} traced "
            f"inputs (1 in {args.trace_every})"
            if traced_peaks
            else "not traced",
        ),
        (
            "heap retained",
            (
                f"{blocks_end - blocks_warm:+,} allocated blocks over the last 90 % of the "
                f"inputs, {blocks_end - blocks_start:+,} over the run (after full collections)"
            ),
        ),
        ("largest reply burst", f"{out_bytes_max:,} bytes for one input"),
        ("repeat", f".venv/bin/python benchmarks/fuzz_client.py {repeat}"),
    )
    for i, kind, tb, data in exceptions[:3]:
        print(f"\n  EXCEPTION at input #{i} ({kind}), input {data[:200].hex(' ')}\n{tb}")
    for i, kind, what, data, out in invariant_cases:
        print(f"  INVARIANT ({what}) at input #{i} ({kind}): input {data[:120].hex(' ')}, "
              f"{len(out)} bytes out")
    for i, kind, t, n in hangs[:5]:
        print(f"  HANG at input #{i}: {kind}, {n:,} bytes, {t * 1000:.1f} ms")
    return 1 if exceptions or hangs or stats["canary_failed"] or stats["invariant_failures"] else 0


# Atheris (coverage-guided) ------------------------------------------------------------------------


def run_atheris(args: argparse.Namespace, extra: list[str]) -> int:
    import atheris

    with atheris.instrument_imports(include=["cstapopup.csta", "asn1tools"]):
        from cstapopup.csta import codec
        from cstapopup.csta.connection import (
            ClientConnection,
            EventReceived,
            LinkState,
            ProtocolError,
        )
        from cstapopup.csta.framing import frame

    corpus, _, _ = build_corpus(random.Random(args.seed + 1), 200)
    codec.spec()
    template = ClientConnection(max_frame_length=args.max_frame_length)
    template.associate("AMHOST", "77777")
    template.receive_data(
        frame(codec.encode_apdu(codec.AssociationResponse(0, 0)))
        + frame(__import__("tests.vectors", fromlist=["x"]).SYSTEM_STATUS)
    )
    template.data_to_send()
    assert template.state is LinkState.UP

    workdir = Path(tempfile.mkdtemp(prefix="cstapopup-atheris-"))
    seeds = workdir / "seeds"
    seeds.mkdir()
    for n, apdu in enumerate(corpus):
        (seeds / f"apdu-{n}").write_bytes(b"\x01" + apdu)  # mode 1: one framed APDU
        (seeds / f"stream-{n}").write_bytes(b"\x00" + frame(apdu))  # mode 0: raw stream
    bound = args.bound_ms / 1000
    state = {
        "n": 0,
        "slowest": 0.0,
        "slowest_len": 0,
        "hangs": 0,
        "events": 0,
        "errors": 0,
        "fatal": 0,
        "start": time.perf_counter(),
    }

    def one_input(data: bytes) -> None:
        state["n"] += 1
        try:
            run_one(data)
        finally:
            if state["n"] == args.inputs:
                summary()  # libFuzzer ends the process after its last run, no atexit

    def run_one(data: bytes) -> None:
        if not data:
            return
        mode, body = data[0] % 3, data[1:]
        if mode == 1:
            stream = frame(body[:0x7FFF], 0x7FFF)
        elif mode == 2 and len(body) > 2:
            stream = frame(body[2:0x7FFF], 0x7FFF)  # first two bytes: where to split
        else:
            stream = body
        cut = (
            int.from_bytes(body[:2], "big") % (len(stream) + 1)
            if mode == 2 and len(body) > 2
            else len(stream)
        )
        conn = copy.deepcopy(template)
        start = time.process_time()
        events = conn.receive_data(stream[:cut]) + conn.receive_data(stream[cut:])
        conn.data_to_send()
        elapsed = time.process_time() - start
        for ev in events:
            if isinstance(ev, EventReceived):
                state["events"] += 1
            elif isinstance(ev, ProtocolError):
                state["fatal" if ev.fatal else "errors"] += 1
        if elapsed > state["slowest"]:
            state["slowest"], state["slowest_len"] = elapsed, len(data)
        if elapsed > bound:
            state["hangs"] += 1

    def summary() -> None:
        run = time.perf_counter() - state["start"]
        print()
        report(
            "fuzz_client: atheris (coverage-guided) mode, instrumented: cstapopup.csta, asn1tools",
            (
                "inputs",
                (
                    f"{state['n']:,} (libFuzzer -seed={args.seed + 1}; "
                    f"seed corpus {2 * len(corpus)} files)"
                ),
            ),
            ("exceptions escaped", "0 (an exception stops libFuzzer with a crash file)"),
            (
                "slowest input",
                (
                    f"{state['slowest'] * 1000:.2f} ms CPU ({state['slowest_len']:,} "
                    "bytes; instrumented code, slower than the real path)"
                ),
            ),
            (f"over {args.bound_ms:g} ms CPU", f"{state['hangs']} (instrumented)"),
            ("inputs/s", f"{state['n'] / run:,.0f} (instrumented)"),
            (
                "outcomes",
                (
                    f"{state['events']:,} events decoded, {state['errors']:,} non-fatal "
                    f"errors, {state['fatal']:,} fatal"
                ),
            ),
            (
                "repeat",
                (
                    f".venv/bin/python benchmarks/fuzz_client.py --atheris --seed {args.seed} "
                    f"--inputs {args.inputs}"
                ),
            ),
        )

    libfuzzer_args = [
        sys.argv[0],
        f"-runs={args.inputs}",
        f"-seed={args.seed + 1}",  # 0: random
        f"-artifact_prefix={workdir}/",
        "-max_len=4096",
        *extra,
        str(seeds),
    ]
    print(f"atheris: libFuzzer work dir {workdir}")
    atheris.Setup(libfuzzer_args, one_input)
    atheris.Fuzz()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--bound-ms", type=float, default=50.0,
                    help="an input taking more CPU time (ms) is a hang")
    ap.add_argument(
        "--events", type=int, default=2000, help="random typed events encoded into the corpus"
    )
    ap.add_argument(
        "--max-frame-length",
        type=int,
        default=8192,
        help="the connection's frame limit (8192 as ClientOptions; up to 32767)",
    )
    ap.add_argument(
        "--trace-every",
        type=int,
        default=100,
        help="trace the allocations of one input in this many (0: none)",
    )
    ap.add_argument(
        "--atheris", action="store_true", help="coverage-guided with atheris (libFuzzer)"
    )
    args, extra = ap.parse_known_args()
    if args.atheris:
        return run_atheris(args, extra)
    if extra:
        ap.error(f"unknown arguments {extra}")
    return run_random(args)


if __name__ == "__main__":
    sys.exit(main())
