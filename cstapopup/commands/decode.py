"""`cstapopup decode`: hex of CSTA frames or APDUs in, one JSON object per APDU out.

For administrators troubleshooting a PBX link (Wireshark has no CSTA dissector).  Input is
hex on the command line or stdin, with or without the 3-byte frame headers, several in a row,
whitespace and colons ignored.  Passwords in an AARQ are masked.  An event report whose event
cannot be decoded is shown as an "undecodable" event (what could be read of it, and why), the
others are still decoded, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from cstapopup.csta import codec, framing
from cstapopup.csta.events import UndecodableEvent
from cstapopup.exitcodes import EXIT_ERROR as EXIT_UNDECODABLE


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "decode",
        help="decode CSTA frames or APDUs given as hex",
        description="Decode CSTA frames or APDUs given as hex (arguments, or stdin when none). "
        "Frames may carry the 3-byte header (26 80 LL) or not; several may follow each other.",
    )
    p.add_argument("hex", nargs="*", help="hex bytes (spaces, colons and newlines are ignored)")
    p.add_argument(
        "--show-password", action="store_true", help="show the AARQ password instead of masking it"
    )
    p.set_defaults(func=run)


class InputError(Exception):
    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


def parse_hex(text: str) -> bytes:
    """Hex with any whitespace, colons, commas or 0x prefixes -> bytes."""
    cleaned = re.sub(r"0x|[\s:,]", "", text, flags=re.IGNORECASE)
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        raise InputError(f"not a hex digit: {bad.group()!r}")
    if len(cleaned) % 2:
        raise InputError("odd number of hex digits")
    return bytes.fromhex(cleaned)


def split_apdus(data: bytes) -> list[tuple[int, bytes]]:
    """Cut the input into APDUs: framed ones by their header, bare ones by their BER length.

    Returns (offset in the input, APDU) pairs.
    """
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        if data[pos] == framing.FRAME_MARK:
            if len(data) - pos < framing.HEADER_SIZE:
                raise InputError("truncated frame header", pos)
            length = ((data[pos + 1] << 8) | data[pos + 2]) & framing.MAX_FRAME_LENGTH
            start = pos + framing.HEADER_SIZE
            if start + length > len(data):
                raise InputError(
                    f"frame announces {length} bytes but only {len(data) - start} follow", pos
                )
            out.append((start, data[start : start + length]))
            pos = start + length
            continue
        length = _tlv_length(data, pos)
        out.append((pos, data[pos : pos + length]))
        pos += length
    return out


def _tlv_length(data: bytes, pos: int) -> int:
    """Total length of the BER TLV at pos (tag, length and contents)."""
    i = pos + 1
    if data[pos] & 0x1F == 0x1F:  # high tag number form
        while i < len(data) and data[i] & 0x80:
            i += 1
        i += 1
    if i >= len(data):
        raise InputError("truncated APDU: no length", pos)
    first = data[i]
    i += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise InputError("indefinite length is not used by CSTA", pos)
    else:
        n = first & 0x7F
        if n > 3 or i + n > len(data):
            raise InputError("bad or truncated length field", pos)
        length = int.from_bytes(data[i : i + n], "big")
        i += n
    if i + length > len(data):
        raise InputError(
            f"APDU announces {length} content bytes but only {len(data) - i} follow", pos
        )
    return i + length - pos


def describe(apdu: codec.Apdu, show_password: bool = False) -> dict[str, Any]:
    """The JSON object for one decoded APDU."""
    if isinstance(apdu, codec.EventReport):
        out = {"kind": "event", "invoke_id": apdu.invoke_id}
        out.update(apdu.event.to_dict())
        return out
    if isinstance(apdu, codec.AssociationRequest):
        return {
            "kind": "aarq",
            "user": apdu.user,
            "password": apdu.password if show_password else "*****",
            "application_context": apdu.application_context,
        }
    if isinstance(apdu, codec.AssociationResponse):
        return {
            "kind": "aare",
            "result": apdu.result,
            "result_name": {0: "accepted", 1: "rejected_permanent", 2: "rejected_transient"}.get(
                apdu.result, "unknown"
            ),
            "diagnostic": apdu.diagnostic,
            "application_context": apdu.application_context,
            "aps_stamp": None if apdu.aps_stamp is None else apdu.aps_stamp.hex(),
            "system_version": None if apdu.system_version is None else apdu.system_version.hex(),
            "csta_version": to_jsonable(apdu.csta_version),
        }
    if isinstance(apdu, codec.Abort):
        return {"kind": "abrt", "source": apdu.source, "diagnostic": apdu.diagnostic}
    if isinstance(apdu, (codec.ReleaseRequest, codec.ReleaseResponse)):
        return {"kind": apdu.kind, "reason": apdu.reason}
    if isinstance(apdu, codec.Invoke):
        return {
            "kind": "invoke",
            "invoke_id": apdu.invoke_id,
            "operation": apdu.operation,
            "operation_name": apdu.operation_name,
            "argument": to_jsonable(apdu.argument),
        }
    if isinstance(apdu, codec.ReturnResult):
        return {
            "kind": "result",
            "invoke_id": apdu.invoke_id,
            "operation": apdu.operation,
            "operation_name": apdu.operation_name,
            "result": to_jsonable(apdu.result),
        }
    if isinstance(apdu, codec.ReturnError):
        f = apdu.failure
        return {
            "kind": "error",
            "invoke_id": apdu.invoke_id,
            "error_code": apdu.error_code,
            "error": None if f is None else {"group": f.group, "value": f.value, "name": f.name},
        }
    if isinstance(apdu, codec.Reject):
        return {
            "kind": "reject",
            "invoke_id": apdu.invoke_id,
            "problem_kind": apdu.problem_kind,
            "problem": apdu.problem,
            "problem_name": apdu.problem_name,
        }
    return {"kind": "unknown", "repr": repr(apdu)}


def to_jsonable(value: Any) -> Any:
    """asn1tools values -> JSON: CHOICEs as {alternative: value}, octets as hex, bit strings as hex."""
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[0], str):
            return {value[0]: to_jsonable(value[1])}
        if (
            len(value) == 2
            and isinstance(value[0], (bytes, bytearray))
            and isinstance(value[1], int)
        ):
            return {"bits": value[1], "hex": bytes(value[0]).hex()}
        return [to_jsonable(v) for v in value]
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def run(args: argparse.Namespace) -> int:
    text = " ".join(args.hex) if args.hex else sys.stdin.read()
    try:
        data = parse_hex(text)
        if not data:
            raise InputError("no input: give hex bytes as arguments or on stdin")
        apdus = split_apdus(data)
    except InputError as exc:
        where = "" if exc.offset is None else f" at byte {exc.offset}"
        print(f"cstapopup decode: {exc}{where}", file=sys.stderr)
        return EXIT_UNDECODABLE
    status = 0
    for offset, apdu in apdus:
        try:
            value = codec.decode_apdu(apdu)
        except codec.DecodeError as exc:
            at = offset if exc.offset is None else offset + exc.offset
            print(
                f"cstapopup decode: cannot decode the APDU at byte {offset} "
                f"(error at byte {at}): {exc.args[0]}",
                file=sys.stderr,
            )
            return EXIT_UNDECODABLE
        print(json.dumps(describe(value, args.show_password), ensure_ascii=False), flush=True)
        if isinstance(value, codec.EventReport) and isinstance(value.event, UndecodableEvent):
            print(
                f"cstapopup decode: cannot decode the event in the APDU at byte {offset}: "
                f"{value.event.reason}",
                file=sys.stderr,
            )
            status = EXIT_UNDECODABLE
    return status
