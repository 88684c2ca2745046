"""Framing and decoding under any split, any coalescing, and hostile bytes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstapopup.csta import codec
from cstapopup.csta.connection import ClientConnection, LinkState
from cstapopup.csta.framing import FrameReader, FrameTooLargeError, FramingError, OutOfSyncError, frame

from . import vectors as v

APDUS = [v.DELIVERED, v.CONNECTION_CLEARED, v.SYSTEM_STATUS, v.MONITOR_START_RESULT,
         v.ERROR_INVALID_MONITOR_OBJECT, v.MAKE_CALL_RESULT, v.HOOKSWITCH_548_OFF]


@given(st.lists(st.sampled_from(APDUS + [b"", b"x" * 300]), min_size=1, max_size=12),
       st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=50))
def test_any_split_any_coalescing_gives_the_same_frames(apdus, cuts):
    stream = b"".join(frame(a) for a in apdus)
    reader = FrameReader()
    out = []
    pos = 0
    i = 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        out += reader.feed(stream[pos:pos + n])
        pos += n
        i += 1
    assert out == apdus
    assert reader.buffered == 0


@pytest.mark.parametrize("offset", range(1, len(v.DELIVERED) + 3))
def test_frame_split_at_every_offset(offset):
    stream = frame(v.DELIVERED) + frame(v.CONNECTION_CLEARED)
    reader = FrameReader()
    got = reader.feed(stream[:offset]) + reader.feed(stream[offset:])
    assert got == [v.DELIVERED, v.CONNECTION_CLEARED]


def test_bad_header_is_out_of_sync_with_offset():
    reader = FrameReader()
    with pytest.raises(OutOfSyncError) as info:
        reader.feed(frame(b"abc") + b"\x27\x80\x01z")
    assert info.value.offset == 6 and info.value.frames == [b"abc"]
    with pytest.raises(OutOfSyncError):
        reader.feed(b"")


def test_size_limit():
    reader = FrameReader(max_length=100)
    with pytest.raises(FrameTooLargeError):
        reader.feed(b"\x26\x80\x65")  # 101 bytes announced


def test_writer_refuses_oversized():
    with pytest.raises(ValueError):
        frame(b"x" * 40000)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decode_of_arbitrary_bytes_only_raises_decode_error(data):
    try:
        codec.decode_apdu(data)
    except codec.DecodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(APDUS), st.integers(min_value=0, max_value=10_000), st.integers(0, 255))
def test_decode_of_mutated_vectors_only_raises_decode_error(apdu, pos, value):
    data = bytearray(apdu)
    data[pos % len(data)] = value
    try:
        codec.decode_apdu(bytes(data))
    except codec.DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_connection_never_raises_on_garbage(data):
    c = ClientConnection()
    c.associate("AMHOST", "77777")
    c.receive_data(frame(codec.encode_apdu(codec.AssociationResponse(0, 0))) + frame(v.SYSTEM_STATUS))
    c.data_to_send()
    events = c.receive_data(data)
    assert isinstance(events, list)
    assert c.state in (LinkState.UP, LinkState.CLOSED)


def test_framing_error_is_the_base():
    assert issubclass(OutOfSyncError, FramingError) and issubclass(FrameTooLargeError, FramingError)
