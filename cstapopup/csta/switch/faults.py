"""Bad bytes a PBX might send, for testing clients with `SwitchServer.inject()`.

Each is a complete byte string to write to the link as is.
"""

from __future__ import annotations

from cstapopup.csta import codec, framing, operations

#: Not a frame at all: the first byte is not 0x26, so the stream is out of sync for good.
GARBAGE = b"\x00\xffnot a CSTA frame\x00"

#: A frame header announcing 12 bytes followed by only 5 of them (the rest never comes).
TRUNCATED_FRAME = framing.frame(
    bytes.fromhex("A10C020101020200D330030A0102"))[:8]

#: A well-framed event report (operation 21) whose argument is not a CSTAEventReportArgument.
UNDECODABLE_EVENT_REPORT = framing.frame(bytes.fromhex("A10A02027FF0020115300103"))

#: A well-framed APDU with a tag no CSTA APDU has.
UNKNOWN_APDU = framing.frame(bytes.fromhex("BF2A03020101"))


def unknown_event_report(invoke_id: int, cross_ref: bytes = b"\x00\x01") -> bytes:
    """A valid event report of a category clients do not interpret (vendor specific [7]):
    a client must skip it, not fail."""
    s = codec.spec()
    arg = s.encode("CSTAEventReportArgument", {
        "crossRefIdentifier": cross_ref,
        "eventSpecificInfo": ("vendorSpecEvents", b"\xa0\x03\x04\x01\x00"),
    })
    apdu = s.encode("ROSEapdu", ("invoke", {
        "invokeId": invoke_id, "opcode": operations.EVENT_REPORT, "argument": arg}))
    return framing.frame(apdu)
