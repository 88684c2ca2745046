"""Every size that comes from the network is bounded.

Each test feeds a hostile APDU to an up connection, then a good one: the hostile one must be a
non-fatal ProtocolError (or, for an event report, an UndecodableEvent carrying it: an event is
never lost), found fast and without a big allocation, and the good one must still be decoded,
unless the framing itself is broken (then the error is fatal, as designed).
"""

from __future__ import annotations

import asyncio
import tracemalloc
from dataclasses import dataclass

import pytest

from cstapopup.csta import codec
from cstapopup.csta.client import ClientOptions, CstaClient, LinkStateChanged
from cstapopup.csta.connection import (
    MAX_INVOKE_ID,
    ClientConnection,
    ConnectionStateError,
    EventReceived,
    LinkState,
    ProtocolError,
    ResultReceived,
)
from cstapopup.csta.events import (
    ConnectionChange,
    ConnectionId,
    DeviceId,
    TransferredEvent,
    UndecodableEvent,
)
from cstapopup.csta.framing import DEFAULT_MAX_LENGTH, MAX_FRAME_LENGTH, FrameReader, frame

from . import vectors as v
from .work import MAX_STEPS_TO_REFUSE, python_steps

TIMEOUT = 10.0


# BER by hand --------------------------------------------------------------------------------------


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + length(len(content)) + content


def device(number: bytes) -> bytes:
    """DeviceID: SEQUENCE { dialingNumber [0] IMPLICIT IA5String }."""
    return tlv(0x30, tlv(0x80, number))


def connection(call_id: bytes = b"\xb1\x64", number: bytes = b"100") -> bytes:
    """ConnectionID [APPLICATION 11], the `both` form HiPath sends."""
    return tlv(0x6B, tlv(0x30, tlv(0x80, call_id) + tlv(0xA1, device(number))))


def event_report(event: bytes, cross_ref: bytes | None = None, category: int = 0xA0) -> bytes:
    """Invoke { invokeId 5, operation 21, CSTAEventReportArgument { crossRef, event } }."""
    xref = tlv(0x55, b"\x00\x01") if cross_ref is None else cross_ref
    argument = tlv(0x30, xref + tlv(category, event))
    return tlv(0xA1, tlv(0x02, b"\x05") + tlv(0x02, b"\x15") + argument)


def connection_cleared(
    releasing: bytes = device(b"257"), dropped: bytes | None = None, extensions: bytes = b""
) -> bytes:
    """ConnectionCleared [3], as in protocol facts §7.5, with parts replaced."""
    return tlv(
        0xA3,
        (dropped if dropped is not None else connection())
        + tlv(0x63, releasing)
        + tlv(0x4E, b"\x00")
        + tlv(0x0A, b"\x30")
        + extensions,
    )


def transferred(entries: bytes) -> bytes:
    """Transferred [17] with the given transferredConnections [1] IMPLICIT ConnectionList."""
    return tlv(
        0xB1,
        connection()
        + tlv(0x63, device(b"100"))
        + tlv(0x63, device(b"200"))
        + tlv(0xA1, entries)
        + tlv(0x0A, b"\x20"),
    )


def list_entry(call_id: bytes = b"\x00\x02", number: bytes = b"200") -> bytes:
    """A ConnectionList entry: SEQUENCE { newConnection [0] (the ConnectionID's CHOICE) }."""
    return tlv(0x30, tlv(0xA0, tlv(0x30, tlv(0x80, call_id) + tlv(0xA1, device(number)))))


def private_data(elements: list[bytes]) -> bytes:
    """extensions: CSTACommonArguments [APPLICATION 30] { privateData [1] SEQUENCE OF ... }."""
    return tlv(0x7E, tlv(0xA1, b"".join(elements)))


#: A constructed [PRIVATE 1] element holding an OID and an octet string (what Siemens puts
#: inside is unknown; the library keeps each element as opaque bytes).
SIEMENS_PRIVATE = tlv(0xE1, tlv(0x06, b"\x2b\x0c\x00\x04") + tlv(0x04, b"\x01\x02"))


# The connection under test ------------------------------------------------------------------------


def up_connection(max_frame_length: int = DEFAULT_MAX_LENGTH, **kwargs) -> ClientConnection:
    c = ClientConnection(max_frame_length=max_frame_length, **kwargs)
    c.associate("AMHOST", "77777")
    c.receive_data(
        frame(codec.encode_apdu(codec.AssociationResponse(0, 0))) + frame(v.SYSTEM_STATUS)
    )
    c.data_to_send()
    assert c.state is LinkState.UP
    return c


@dataclass(frozen=True)
class Refused:
    """Why the hostile APDU was not decoded (a ProtocolError's message, or an
    UndecodableEvent's reason)."""

    message: str


def feed_hostile_then_good(apdu: bytes, max_frame_length: int = MAX_FRAME_LENGTH) -> Refused:
    """Feed `apdu` and then a good event in one read; return why the hostile one was refused
    after checking that it was non-fatal, quick (in Python steps, not seconds), small in
    memory, and that the good one decoded."""
    c = up_connection(max_frame_length)
    data = frame(apdu) + frame(v.CONNECTION_CLEARED)
    tracemalloc.start()
    try:
        events, steps = python_steps(lambda: c.receive_data(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(events) == 2, events
    error, good = events
    if isinstance(error, EventReceived):
        # An event report: passed on as undecodable, with its bytes and the reason.
        assert isinstance(error.event, UndecodableEvent) and error.event.raw == apdu, error
        refused = Refused(error.event.reason)
    else:
        assert isinstance(error, ProtocolError) and not error.fatal, error
        refused = Refused(error.message)
    assert isinstance(good, EventReceived) and good.event.name == "connection_cleared"
    assert good.event.releasing_device == DeviceId.of("257")
    assert c.state is LinkState.UP
    assert steps < MAX_STEPS_TO_REFUSE, f"{steps} Python steps"
    # Nothing beyond a few copies of the frame itself (receive buffer, frame, APDU bytes).
    assert peak < 8 * len(data) + 256 * 1024, f"peak {peak} bytes for a {len(data)}-byte input"
    return refused


def decodes(apdu: bytes, max_frame_length: int = MAX_FRAME_LENGTH) -> EventReceived:
    c = up_connection(max_frame_length)
    events = c.receive_data(frame(apdu))
    assert len(events) == 1 and isinstance(events[0], EventReceived), events
    return events[0]


# Frame length -------------------------------------------------------------------------------------


def test_the_connection_has_a_frame_limit_by_default():
    assert ClientConnection()._reader.max_length == DEFAULT_MAX_LENGTH == 8192
    assert ClientOptions().max_frame_length <= MAX_FRAME_LENGTH


def test_a_frame_over_the_limit_is_fatal_as_soon_as_its_header_is_read():
    c = up_connection(max_frame_length=1000)
    events = c.receive_data(frame(v.CONNECTION_CLEARED) + b"\x26\x83\xe9")  # announces 1001
    assert isinstance(events[0], EventReceived)
    assert isinstance(events[-1], ProtocolError) and events[-1].fatal
    assert "exceeds the limit of 1000" in events[-1].message
    assert c.state is LinkState.CLOSED and c._reader.buffered == 0


def test_a_30000_byte_device_number_under_the_default_limit_is_a_broken_frame():
    """Under the default 8192-byte limit, the frame itself is refused: fatal, before any of
    its 30,000 bytes is buffered."""
    apdu = event_report(connection_cleared(releasing=device(b"1" * 30_000)))
    c = up_connection()
    events = c.receive_data(frame(apdu)[:100])
    assert len(events) == 1 and isinstance(events[0], ProtocolError) and events[0].fatal
    assert c.state is LinkState.CLOSED and c._reader.buffered == 0


async def test_the_client_passes_its_frame_limit_to_the_connection():
    """End to end: a PBX that announces a frame over ClientOptions.max_frame_length gets the
    link dropped with the framing error (the limit reached the connection)."""

    async def pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = FrameReader()
        while data := await reader.read(4096):
            for apdu in frames.feed(data):
                msg = codec.decode_apdu(apdu)
                if isinstance(msg, codec.AssociationRequest):
                    writer.write(
                        frame(codec.encode_apdu(codec.AssociationResponse(0, 0)))
                        + frame(v.SYSTEM_STATUS)
                    )
                elif isinstance(msg, codec.ReturnResult) and msg.operation == 211:
                    writer.write(b"\x26\x82\x01")  # the link is up: announce 513 bytes
                await writer.drain()

    server = await asyncio.start_server(pbx, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    down = asyncio.Event()
    reasons: list[str] = []

    def on_link(change: LinkStateChanged) -> None:
        reasons.append(change.reason)
        if change.state == "down":
            down.set()

    client = CstaClient(
        "127.0.0.1",
        port,
        options=ClientOptions(max_frame_length=512, reconnect=False, connect_timeout=TIMEOUT),
    )
    client.on("link", on_link)
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(down.wait(), TIMEOUT)
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        server.close()
        await server.wait_closed()
    assert any("exceeds the limit of 512" in r for r in reasons), reasons


# Strings ------------------------------------------------------------------------------------------


def test_a_30000_byte_device_number_is_skipped_under_the_largest_frame_limit():
    error = feed_hostile_then_good(
        event_report(connection_cleared(releasing=device(b"1" * 30_000)))
    )
    assert "primitive value of 30000 bytes" in error.message  # refused before decoding


@pytest.mark.parametrize("where", ["releasing", "connection", "hookswitch"])
def test_device_numbers_are_capped_at_64_characters(where):
    def apdu(number: bytes) -> bytes:
        if where == "releasing":
            return event_report(connection_cleared(releasing=device(number)))
        if where == "connection":
            return event_report(connection_cleared(dropped=connection(number=number)))
        # physical device feature [3] / hookswitch [3], through the general decode path
        hook = tlv(0xA3, tlv(0x63, device(number)) + tlv(0x04, b"\x01") + tlv(0x01, b"\x00"))
        return event_report(hook, category=0xA3)

    ok = decodes(apdu(b"5" * codec.MAX_STRING_LENGTH))
    assert "5" * codec.MAX_STRING_LENGTH in repr(ok.event)
    error = feed_hostile_then_good(apdu(b"5" * (codec.MAX_STRING_LENGTH + 1)))
    assert "device number of 65 characters exceeds the limit of 64" in error.message


def test_a_device_number_integer_of_70_digits_is_refused():
    number = int("9" * 70).to_bytes(30, "big", signed=True)
    dev = tlv(0x30, tlv(0x81, number))  # deviceNumber [1] IMPLICIT INTEGER
    error = feed_hostile_then_good(event_report(connection_cleared(releasing=dev)))
    assert "device number of 70 characters" in error.message


def test_call_ids_and_cross_ref_ids_are_capped():
    error = feed_hostile_then_good(
        event_report(connection_cleared(dropped=connection(call_id=b"\x01" * 65)))
    )
    assert "call id of 65" in error.message
    error = feed_hostile_then_good(
        event_report(connection_cleared(), cross_ref=tlv(0x55, b"\x02" * 65))
    )
    assert "cross-ref id of 65" in error.message


def test_strings_in_a_result_are_capped():
    """A MakeCall result (the general path: a plain asn1tools value) with a 65-character
    device number; the request stays pending until a proper answer (or its timeout)."""
    c = up_connection()
    iid = c.send_request(
        10,
        {
            "callingDevice": codec.device_to_asn1("100"),
            "calledDirectoryNumber": codec.device_to_asn1("200"),
        },
    )
    c.data_to_send()

    def result(number: str) -> bytes:
        conn = (
            "both",
            {"callID": b"\x00\x16", "deviceID": ("staticID", codec.device_to_asn1(number))},
        )
        return frame(codec.encode_apdu(codec.ReturnResult(iid, 10, {"callingDevice": conn})))

    events = c.receive_data(result("1" * 65) + result("100"))
    assert isinstance(events[0], ProtocolError) and not events[0].fatal
    assert "string of 65 characters" in events[0].message
    assert isinstance(events[1], ResultReceived) and events[1].invoke_id == iid


def test_invoke_ids_and_codes_are_32_bit_at_most():
    """A SystemStatus is answered with the PBX's own invoke id: a 100-byte one must not be
    echoed back (it is refused, and nothing is sent)."""
    c = up_connection()
    iid = 0x7FFFFFFF
    c.receive_data(frame(codec.encode_apdu(codec.Invoke(iid, 211, {"systemStatus": "normal"}))))
    reply = codec.decode_apdu(c.data_to_send()[3:])
    assert isinstance(reply, codec.ReturnResult) and reply.invoke_id == iid
    huge = 2 ** (8 * 100 - 1) - 1
    for apdu in (
        codec.Invoke(huge, 211, {"systemStatus": "normal"}),
        codec.ReturnResult(huge, 73, ("noData", None)),
        codec.Invoke(5, 2**40, b"\x05\x00"),
    ):
        error = feed_hostile_then_good(codec.encode_apdu(apdu))
        assert "larger than 32 bits" in error.message
    events = c.receive_data(
        frame(codec.encode_apdu(codec.Invoke(huge, 211, {"systemStatus": "normal"})))
    )
    assert isinstance(events[0], ProtocolError) and not events[0].fatal
    assert c.data_to_send() == b""


# Lists --------------------------------------------------------------------------------------------


def _changes(n: int) -> tuple[ConnectionChange, ...]:
    return tuple(
        ConnectionChange(
            ConnectionId(b"\x00\x02", DeviceId.of(str(200 + i))),
            ConnectionId(b"\x00\x01", DeviceId.of("100")),
            DeviceId.of("300"),
        )
        for i in range(n)
    )


def test_a_transferred_list_of_32_connections_decodes_and_33_does_not():
    def apdu(n: int) -> bytes:
        ev = TransferredEvent(
            cross_ref_id=b"\x00\x01",
            connection=ConnectionId(b"\x00\x01", DeviceId.of("100")),
            transferring_device=DeviceId.of("100"),
            transferred_to_device=DeviceId.of("200"),
            transferred_connections=_changes(n),
            cause="transfer",
        )
        return codec.encode_apdu(codec.EventReport(9, ev))

    ok = decodes(apdu(codec.MAX_ELEMENTS))
    assert len(ok.event.transferred_connections) == 32
    error = feed_hostile_then_good(apdu(codec.MAX_ELEMENTS + 1))
    assert "more than 32 elements" in error.message


def test_a_list_of_10000_connections_is_refused_without_decoding_it():
    # 10,000 minimal entries (empty SEQUENCEs) fit in the largest frame
    error = feed_hostile_then_good(event_report(transferred(tlv(0x30, b"") * 10_000)))
    assert "more than 32 elements" in error.message
    # and full entries, under the default frame limit
    ok = decodes(event_report(transferred(list_entry() * 3)))
    assert [c.new_connection.device.number for c in ok.event.transferred_connections] == ["200"] * 3
    error = feed_hostile_then_good(
        event_report(transferred(list_entry() * 300)), DEFAULT_MAX_LENGTH
    )
    assert "more than 32 elements" in error.message


def test_private_data_of_32_elements_decodes_and_10000_do_not():
    ok = decodes(event_report(connection_cleared(extensions=private_data([SIEMENS_PRIVATE] * 32))))
    assert len(ok.event.private_data) == 32 and ok.event.private_data[0] == SIEMENS_PRIVATE
    for n in (33, 10_000):
        error = feed_hostile_then_good(
            event_report(connection_cleared(extensions=private_data([b"\xc1\x00"] * n)))
        )
        assert "more than 32 elements" in error.message


def test_a_private_data_element_over_1024_bytes_is_refused():
    big = tlv(0xE1, tlv(0x04, b"\x00" * 2000))
    error = feed_hostile_then_good(event_report(connection_cleared(extensions=private_data([big]))))
    assert "primitive value of 2000 bytes exceeds the limit of 1024" in error.message


# Nesting ------------------------------------------------------------------------------------------


def nested_octets(depth: int, content: bytes = b"\x00\x01", tag: int = 0x75) -> bytes:
    """A cross-ref id as a constructed OCTET STRING nested `depth` levels deep (definite)."""
    inner = tlv(0x04, content)
    for _ in range(depth - 1):
        inner = tlv(0x24, inner)
    return tlv(tag, inner)


def nested_octets_indefinite(depth: int, content: bytes = b"\x00\x01") -> bytes:
    return b"\x75\x80" + b"\x24\x80" * (depth - 1) + tlv(0x04, content) + b"\x00\x00" * depth


def test_constructed_octet_strings_within_the_bound_decode():
    """Segmented (constructed) strings are legal BER: a few levels decode to the same value."""
    for xref in (nested_octets(1), nested_octets(5), nested_octets_indefinite(5)):
        ok = decodes(event_report(connection_cleared(), cross_ref=xref))
        assert ok.event.cross_ref_id == b"\x00\x01"


@pytest.mark.parametrize("depth", [codec.MAX_NESTING_DEPTH, 3000])
def test_deeply_nested_constructed_octet_strings_are_refused(depth):
    error = feed_hostile_then_good(
        event_report(connection_cleared(), cross_ref=nested_octets(depth))
    )
    assert f"nested deeper than {codec.MAX_NESTING_DEPTH}" in error.message


@pytest.mark.parametrize("depth", [codec.MAX_NESTING_DEPTH, 5000])
def test_deeply_nested_indefinite_lengths_are_refused(depth):
    error = feed_hostile_then_good(
        event_report(connection_cleared(), cross_ref=nested_octets_indefinite(depth))
    )
    assert f"nested deeper than {codec.MAX_NESTING_DEPTH}" in error.message


def test_deeply_nested_sequences_are_refused():
    inner = b""
    for _ in range(4000):
        inner = tlv(0x30, inner)
    error = feed_hostile_then_good(tlv(0xA1, tlv(0x02, b"\x07") + tlv(0x02, b"\x15") + inner))
    assert f"nested deeper than {codec.MAX_NESTING_DEPTH}" in error.message


def test_the_deepest_real_apdus_are_far_from_the_nesting_bound():
    # A Transferred with connection lists and call linkage nests about 10 deep.
    ev = TransferredEvent(
        cross_ref_id=b"\x00\x01",
        connection=ConnectionId(b"\x00\x01", DeviceId.of("100")),
        transferring_device=DeviceId.of("100"),
        transferred_to_device=DeviceId.of("200"),
        transferred_connections=_changes(2),
        cause="transfer",
        global_call_id=b"\x01" * 16,
        old_global_call_id=b"\x02" * 16,
        private_data=(SIEMENS_PRIVATE,),
    )
    apdu = codec.encode_apdu(codec.EventReport(9, ev))
    assert decodes(apdu).event == ev


# BER lengths --------------------------------------------------------------------------------------
# The structural check walks every element that could break a bound (those over 2 x 32 bytes,
# or deep ones) and checks each length there against its enclosing element; inside the small
# ones it leaves lengths to asn1tools, which checks them against the end of the APDU before it
# reads anything.  Either way a length beyond the data fails at once.

ASN1TOOLS_TOO_SHORT = "Expected at least"


@pytest.mark.parametrize(
    "apdu, messages",
    [
        # a length of 2**31 - 1 for the whole APDU, with 3 bytes behind it
        (b"\xa1\x84\x7f\xff\xff\xff\x02\x01\x05", ["runs past the enclosing element"]),
        # a 5-byte length field
        (b"\xa1\x85\x00\x00\x00\x00\x03\x02\x01\x05", ["length field of more than 4 bytes"]),
        # an indefinite length on a primitive
        (
            tlv(0xA1, b"\x02\x80\x05\x00\x00"),
            ["indefinite length on a primitive", "Expected definite length"],
        ),
        (
            tlv(0xA1, b"\x02\x01\x05" + b"\x04\x80" + bytes(100)),
            ["indefinite length on a primitive"],
        ),
        # the APDU ends inside an element
        (v.DELIVERED[:40], ["runs past the enclosing element"]),
        (b"\xa1\x80\x02\x01\x05", ["ends inside an element"]),
    ],
)
def test_ber_lengths_beyond_the_data_fail_fast(apdu, messages):
    error = feed_hostile_then_good(apdu)
    assert any(m in error.message for m in messages), error.message


@pytest.mark.parametrize("size", [1, 2, 4])
def test_a_huge_length_in_a_small_deep_field_fails_before_reading(size):
    # the releasing device's number announces 2**(8 * size) - 1 bytes
    bad = bytearray(event_report(connection_cleared(releasing=device(b"257"))))
    at = bad.index(b"\x80\x03257")
    bad[at + 1 : at + 2] = bytes([0x80 | size]) + b"\xff" * size
    error = feed_hostile_then_good(bytes(bad))
    assert (
        "runs past the enclosing element" in error.message or ASN1TOOLS_TOO_SHORT in error.message
    ), error.message


def test_an_element_running_past_its_parent_inside_a_large_apdu_is_refused():
    entries = [list_entry(number=str(200 + i).encode()) for i in range(20)]
    assert (
        len(decodes(event_report(transferred(b"".join(entries)))).event.transferred_connections)
        == 20
    )
    bad = bytearray(b"".join(entries))
    bad[len(bad) - len(entries[-1]) + 1] += 2  # the last entry claims the next 2 bytes too
    error = feed_hostile_then_good(event_report(transferred(bytes(bad))))
    assert "runs past the enclosing element" in error.message


# Pending requests ---------------------------------------------------------------------------------


def test_pending_requests_are_bounded_and_answers_free_their_slot():
    c = up_connection(max_pending=3)
    ids = [c.send_request(73, codec.monitor_stop_argument(bytes([0, i]))) for i in range(3)]
    with pytest.raises(ConnectionStateError):
        c.send_request(73, codec.monitor_stop_argument(b"\x00\x09"))
    assert len(c.pending) == 3
    c.data_to_send()
    events = c.receive_data(
        frame(codec.encode_apdu(codec.ReturnResult(ids[1], 73, ("noData", None))))
    )
    assert isinstance(events[0], ResultReceived)
    c.send_request(73, codec.monitor_stop_argument(b"\x00\x09"))  # the answered one's slot
    c.forget(ids[0])
    c.send_request(73, codec.monitor_stop_argument(b"\x00\x0a"))  # the forgotten one's slot
    assert len(c.pending) == 3


@pytest.mark.timeout(20)
def test_a_max_pending_above_the_invoke_id_space_cannot_hang_the_allocation():
    c = up_connection(max_pending=100_000)
    c.pending.update({i: 73 for i in range(1, MAX_INVOKE_ID + 1)})  # every id in use
    with pytest.raises(ConnectionStateError):
        c.send_request(73, codec.monitor_stop_argument(b"\x00\x01"))


def test_answers_for_unknown_invoke_ids_do_not_accumulate():
    c = up_connection()
    for iid in range(500):
        c.receive_data(
            frame(codec.encode_apdu(codec.ReturnResult(iid + 1000, 73, ("noData", None))))
        )
    assert c.pending == {}



# Queued events in the client: nothing is dropped; a slow consumer pauses reading instead
# (tests/test_client_backpressure.py).
