"""Bad bytes a PBX might send, for testing clients with `SwitchServer.inject()`.

Each is a complete byte string to write to the link as is.
"""

from __future__ import annotations

from cstapopup.csta import codec, framing, operations
from cstapopup.csta.events import ConnectionId, DeviceId

#: Not a frame at all: the first byte is not 0x26, so the stream is out of sync for good.
GARBAGE = b"\x00\xffnot a CSTA frame\x00"

#: A frame header announcing 12 bytes followed by only 5 of them (the rest never comes).
TRUNCATED_FRAME = framing.frame(bytes.fromhex("A10C020101020200D330030A0102"))[:8]

#: A well-framed event report (operation 21) whose argument is not a CSTAEventReportArgument.
UNDECODABLE_EVENT_REPORT = framing.frame(bytes.fromhex("A10A02027FF0020115300103"))

#: A well-framed APDU with a tag no CSTA APDU has.
UNKNOWN_APDU = framing.frame(bytes.fromhex("BF2A03020101"))


def unknown_event_report(invoke_id: int, cross_ref: bytes = b"\x00\x01") -> bytes:
    """A valid event report of a category clients do not interpret (vendor specific [7]):
    a client must skip it, not fail."""
    s = codec.spec()
    arg = s.encode(
        "CSTAEventReportArgument",
        {
            "crossRefIdentifier": cross_ref,
            "eventSpecificInfo": ("vendorSpecEvents", b"\xa0\x03\x04\x01\x00"),
        },
    )
    apdu = s.encode(
        "ROSEapdu",
        ("invoke", {"invokeId": invoke_id, "opcode": operations.EVENT_REPORT, "argument": arg}),
    )
    return framing.frame(apdu)


def undecodable_transferred(invoke_id: int, cross_ref: bytes, call_id: bytes, device: str) -> bytes:
    """A Transferred event of `call_id` at `device` (local state null, cause transfer) whose
    connection list is not one: a client must pass it on as undecodable, with the call, the
    state and the cause it can still read, not drop it."""
    s = codec.spec()

    def tlv(tag: int, content: bytes) -> bytes:
        return bytes([tag]) + _length(len(content)) + content

    conn = s.encode(
        "ConnectionID", codec.connection_to_asn1(ConnectionId(call_id, DeviceId.of(device)))
    )
    subject = s.encode("SubjectDeviceID", codec.role_device_to_asn1(device))
    event = tlv(
        0xB1, conn + subject + subject + tlv(0xA1, b"\x04\x00") + b"\x4e\x01\x00" + b"\x0a\x01\x20"
    )
    arg = s.encode(
        "CSTAEventReportArgument",
        {"crossRefIdentifier": cross_ref, "eventSpecificInfo": ("callControlEvents", event)},
    )
    apdu = s.encode(
        "ROSEapdu",
        ("invoke", {"invokeId": invoke_id, "opcode": operations.EVENT_REPORT, "argument": arg}),
    )
    return framing.frame(apdu)


def _length(n: int) -> bytes:
    """A BER length field."""
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw
