"""APDU <-> Python values, through asn1tools (BER); the compiled spec, kept on disk on request.

`decode_apdu()` turns one APDU (no frame header) into a typed value: an association PDU, a
ROSE PDU with its argument or result decoded by operation, or an `EventReport` holding a typed
event.  `encode_apdu()` does the reverse for everything a client or a PBX sends.  Every field
whose context tag meets a tagged type is read in both tag forms, explicit and implicit ("Tag
forms" below); what is written is HiPath's form, or the other with tag_form="alternate".
Malformed input raises `DecodeError` (with the byte offset where known) and nothing else; so
does input beyond the bounds on nesting, list and string sizes (`MAX_*`, checked by
`check_structure()` before asn1tools sees the bytes, and on the values the library
interprets) — except an event report whose envelope can be read: that becomes an
`UndecodableEvent`, so that no event is lost without a trace.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asn1tools
from asn1tools.codecs import ber

from . import names, operations, speccache
from .events import (
    EVENT_CLASSES,
    NOT_KNOWN,
    CallEvent,
    ConnectionChange,
    ConnectionId,
    CstaEvent,
    DeviceId,
    DoNotDisturbEvent,
    ForwardingEvent,
    HookswitchEvent,
    UndecodableEvent,
    UnknownEvent,
)

log = logging.getLogger(__name__)

ASN1_FILES = ("csta.asn", "rose.asn", "acse.asn")

#: OID of the CSTA application context, as HiPath expects it in the AARQ.
CSTA_APPLICATION_CONTEXT = "1.3.12.0.218"
#: cSTAVersion bit string: versionFour (bit 3) in 16 bits, as the known HiPath clients send.
CSTA_VERSION_FOUR = (b"\x10\x00", 16)
#: Explicit all-zero filter (= all events), with each group's bit count (protocol facts §5).
ALL_EVENTS_FILTER = {
    "callControl": (b"\x00\x00\x00", 18),
    "callAssociated": (b"\x00", 5),
    "mediaAttachment": (b"\x00", 2),
    "physicalDeviceFeature": (b"\x00\x00", 11),
    "logicalDeviceFeature": (b"\x00\x00", 14),
    "maintenance": (b"\x00", 3),
    "voiceUnit": (b"\x00", 7),
    "private": (b"\x00", 1),
}


class DecodeError(Exception):
    """An APDU could not be decoded."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset

    def __str__(self) -> str:
        base = super().__str__()
        return base if self.offset is None else f"{base} (at byte {self.offset})"


class EncodeError(Exception):
    """A value could not be encoded."""


# Bounds on what bytes from the network can make the decoder do ------------------------------
# A value beyond one of them makes its APDU a DecodeError (the APDU is skipped, the link stays).

#: Constructed elements nest at most this deep (real APDUs: about 10).
MAX_NESTING_DEPTH = 32
#: Elements in one constructed value.  No CSTA SEQUENCE has more than 26 members, so this is
#: the bound on lists: transferred / conference connections, private data, snapshot entries.
MAX_ELEMENTS = 32
#: Bytes in one primitive value (a string or a number), before any of it is decoded.
MAX_PRIMITIVE_LENGTH = 1024
#: Characters (or octets) in a device number, call id, cross-ref id or other interpreted string.
MAX_STRING_LENGTH = 64
#: Invoke ids, operation and error codes are 32-bit at most (HiPath's ids take 1 to 3 bytes);
#: a longer one would be echoed back in the reply.
MAX_ROSE_INTEGER = 2**31


def check_structure(data: bytes) -> None:
    """Walk the BER elements of one APDU without decoding them; raise DecodeError if a length
    runs past its enclosing element or one of the bounds above is exceeded.

    Runs before asn1tools so that hostile nesting or huge lists fail in time linear in the
    APDU, before anything is allocated.  Bytes after the first element are left alone (as the
    decoder leaves them).
    """
    try:
        _walk(data, 0, len(data), len(data), 0, 1)
    except IndexError:
        raise DecodeError("APDU ends inside an element", len(data)) from None


# A constructed element whose contents are at most _SMALL[depth] bytes holds at most that many
# / 2 elements nested at most that many / 2 deep: it cannot break a bound and is not walked.
_SMALL = tuple(
    2 * min(MAX_ELEMENTS, MAX_NESTING_DEPTH - depth - 1) for depth in range(MAX_NESTING_DEPTH + 1)
)


def _walk(data: bytes, pos: int, end: int, limit: int, depth: int, max_count: int) -> int:
    """Check the elements from `pos` to `end` (end < 0: up to an end-of-contents marker), which
    are `depth` levels inside the APDU's outermost element (depth 0); `limit` is where the
    nearest definite-length ancestor ends.  Returns the offset after them."""
    count = 0
    small = _SMALL[depth]
    while pos != end:
        if end < 0 and data[pos] == 0 and data[pos + 1] == 0:
            return pos + 2
        count += 1
        if count > max_count:
            if depth == 0:
                return pos
            raise DecodeError(f"more than {MAX_ELEMENTS} elements in one value", pos)
        tag = data[pos]
        if tag & 0x1F == 0x1F:  # high tag number form
            k = pos + 1
            while data[k] & 0x80:
                k += 1
            if k - pos > 4:
                raise DecodeError("tag number too long", pos)
            pos = k + 1
        else:
            pos += 1
        length = data[pos]
        pos += 1
        if length > 0x7F:
            if length == 0x81:
                length = data[pos]
                pos += 1
            elif length == 0x80:  # indefinite length
                if not tag & 0x20:
                    raise DecodeError("indefinite length on a primitive element", pos - 1)
                if depth >= MAX_NESTING_DEPTH - 1:
                    raise DecodeError(f"elements nested deeper than {MAX_NESTING_DEPTH}", pos)
                pos = _walk(data, pos, -1, limit, depth + 1, MAX_ELEMENTS)
                if pos > limit:
                    raise DecodeError("element runs past its enclosing element", pos)
                continue
            elif length > 0x84:
                raise DecodeError("length field of more than 4 bytes", pos - 1)
            else:
                k = pos + length - 0x80
                if k > limit:
                    raise DecodeError("length field runs past the enclosing element", pos - 1)
                length = int.from_bytes(data[pos:k], "big")
                pos = k
        nxt = pos + length
        if nxt > limit:
            raise DecodeError(
                f"length {length} runs past the enclosing element "
                f"({max(0, limit - pos)} bytes left)",
                pos,
            )
        if tag & 0x20:
            if length > small:
                if depth >= MAX_NESTING_DEPTH - 1:
                    raise DecodeError(f"elements nested deeper than {MAX_NESTING_DEPTH}", pos)
                _walk(data, pos, nxt, nxt, depth + 1, MAX_ELEMENTS)
        elif length > MAX_PRIMITIVE_LENGTH:
            raise DecodeError(
                f"primitive value of {length} bytes exceeds the limit of {MAX_PRIMITIVE_LENGTH}",
                pos,
            )
        pos = nxt
    return pos


def _bounded(value: Any, what: str) -> Any:
    """`value` (a str or bytes the library interprets), if within MAX_STRING_LENGTH."""
    if len(value) > MAX_STRING_LENGTH:
        raise DecodeError(
            f"{what} of {len(value)} characters exceeds the limit of {MAX_STRING_LENGTH}"
        )
    return value


def _rose_int(value: Any, what: str) -> Any:
    """An invoke id, operation or error code, if within MAX_ROSE_INTEGER."""
    if isinstance(value, int) and not -MAX_ROSE_INTEGER <= value < MAX_ROSE_INTEGER:
        raise DecodeError(f"{what} {value:#x} is larger than 32 bits")
    return value


def _check_strings(value: Any) -> None:
    """Every string in a decoded argument or result value is within MAX_STRING_LENGTH."""
    if isinstance(value, str):
        _bounded(value, "string")
    elif isinstance(value, dict):
        for item in value.values():
            _check_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_strings(item)


# The compiled specification --------------------------------------------------------------


def asn1_dir() -> Path:
    """Where the ASN.1 modules are: beside this module.  In a PyInstaller bundle too, which
    sets a module's __file__ to its place in the bundle, where the spec file puts them."""
    return Path(__file__).parent / "asn1"


#: Where the compiled spec may be kept between runs; None: nowhere (see `configure`).
_cache_dir: Path | None = None


def configure(*, cache_dir: str | os.PathLike[str] | None) -> None:
    """Let the library keep the compiled spec in `cache_dir` (None, the default: it writes
    nothing anywhere and compiles the modules once per process, a few hundred milliseconds).

    Give a folder of your application's own, e.g. platformdirs.user_cache_dir("myapp").  The
    library creates it private (0700) and reads a spec from it only while it stays so (owned
    by this user, closed to others; details in `cstapopup.csta.speccache`).  Takes effect for
    the next load: call it before the first decode or encode.
    """
    global _cache_dir
    _cache_dir = None if cache_dir is None else Path(cache_dir)


#: Changes whenever compile_spec() builds the spec differently from the same module texts
#: (e.g. the decode-ordered types below), so that no cache made by an older build is used.
SPEC_FORMAT = 4


def _spec_key(sources: list[bytes], tag_form: str = "hipath") -> str:
    """What a compiled spec depends on: the module texts, how we compile them, asn1tools,
    Python (the pickle holds their classes)."""
    h = hashlib.sha256()
    h.update(f"format {SPEC_FORMAT} tag forms {tag_form} pickle {pickle.HIGHEST_PROTOCOL}".encode())
    h.update(asn1tools.__version__.encode())
    h.update(sys.version.encode())
    for s in sources:
        h.update(hashlib.sha256(s).digest())
    return h.hexdigest()[:24]


#: Event fields that HiPath sends in most events.  In the decode-ordered variants (below) they
#: come first, so that decoding a typical event tries few absent optional fields.
_COMMON_EVENT_FIELDS = frozenset(
    {
        "localConnectionInfo",
        "cause",
        "associatedCallingDevice",
        "associatedCalledDevice",
        "callLinkageData",
        "callLinkageDataList",
        "extensions",
        "originatingNIDConnection",
        "secondaryOldCall",
    }
)


def _add_decode_ordered_events(module: dict[str, Any]) -> None:
    """Make the fast path's event types: copies of the call-control events whose members are
    reordered, common ones first.

    asn1tools decodes SEQUENCE members in any order, so these decode the very same bytes; only
    their encoder would write another order, and they are never used to encode.  The
    partition is stable, so members sharing a tag (connection / originatingNIDConnection,
    transferringDevice / transferredToDevice) keep their relative order, which is what tells
    them apart.
    """
    types = module["types"]
    choice = types["CallControlEvents"]
    fast_members = []
    for member in choice["members"]:
        event_type = types[member["type"]]
        common = [
            m
            for m in event_type["members"]
            if not m.get("optional") or m["name"] in _COMMON_EVENT_FIELDS
        ]
        rare = [m for m in event_type["members"] if m not in common]
        types["DecodeOrdered" + member["type"]] = dict(event_type, members=common + rare)
        fast_members.append(dict(member, type="DecodeOrdered" + member["type"]))
    types["DecodeOrderedCallControlEvents"] = dict(choice, members=fast_members)
    invoke = types["CallControlEventReportInvoke"]
    argument = invoke["members"][2]
    info = dict(argument["members"][1], type="DecodeOrderedCallControlEvents")
    invoke["members"][2] = dict(argument, members=[argument["members"][0], info])


# Tag forms ------------------------------------------------------------------------------
#
# Where a context tag [n] (or a role id's own [APPLICATION n]) meets a type that has a tag of
# its own, a PBX may send either form: the tag wrapping the whole inner element (explicit:
# A0 { 6B { .. } }) or replacing its tag (implicit: A0 { 30 { .. } }).  ECMA-285 prescribes
# one form per field, and a HiPath does not follow one rule: in a Transferred event the
# secondaryOldCall's [0] replaces the ConnectionID's 6B while the transferredConnections'
# [0] / [1] wrap it (protocol facts §6).  So every such field is compiled as a `TagForms`
# element: the same outer tag, and the form chosen by the tag of the first element inside it.
# Each form's value is normalised to the declared form's, so the rest of the codec sees one
# shape.  What is encoded is the declared form (HiPath's where it is known); the spec from
# `spec_for("alternate")` encodes the other one, so that a simulator can speak it too.

#: First inner tags of the implicit forms: a ConnectionID's CHOICE (callID [0], deviceID [1],
#: both SEQUENCE) and a DeviceID's contents (its deviceIdentifier alternatives [0]..[6]).
_CONNECTION_CONTENT_TAGS = frozenset({0x80, 0xA1, 0x30})
_DEVICE_CONTENT_TAGS = frozenset({0x80, 0x81, 0x82, 0xA3, 0x84, 0xA5, 0x86})
#: First inner tags of a role device id's CHOICE: a DeviceID, or one of the NULL
#: alternatives notKnown [7] .. restricted [10].
_ROLE_CONTENT_TAGS = frozenset({0x30, 0x87, 0x88, 0x89, 0x8A})


class TagForms(ber.Type):
    """One element that may come in several tag forms (see "Tag forms" above).

    `forms` are compiled types that all decode the whole element (same outer tag); `select`
    maps the tag byte of the first element inside to the form to use (default: the first,
    the declared one); `null_tags` maps tags that stand for a NULL alternative when their
    content is empty, and for a DeviceID alternative otherwise (restricted [1] NULL against
    deviceNumber [1] INTEGER), to the form for the empty case.  `wraps[i]`, when set, is the
    CHOICE alternative under which form i's value appears in the declared form.
    `encode_forms`: the forms `encode` tries in turn (one with a wrap only for a value of that
    alternative), then the declared one; `alternate`: those of the other tag form.
    """

    def __init__(
        self,
        name: str,
        forms: list[Any],
        select: dict[int, int],
        wraps: list[str | None],
        null_tags: dict[int, int] | None = None,
        alternate: tuple[int, ...] = (1,),
    ) -> None:
        super().__init__(name, "TagForms", None)
        tags = {bytes(f.tag) for f in forms}
        if len(tags) != 1:
            raise ValueError(f"{name}: the forms of one element need one outer tag, not {tags}")
        self.tag = bytes(forms[0].tag)
        self.tag_len = len(self.tag)
        if self.tag_len != 1:
            raise ValueError(f"{name}: only one-byte outer tags are supported")
        self._tag_byte = self.tag[0]
        self.forms = forms
        self.select = select
        self.wraps = wraps
        self.null_tags = null_tags or {}
        self.alternate = alternate
        self.encode_forms: tuple[int, ...] = ()

    def decode(self, data: bytearray, offset: int, values: Any = None) -> tuple[Any, int]:
        # On the fast path of every event (its role ids and connections): the outer tag and
        # length are read once here, and the chosen form decodes the contents.
        end = len(data)
        if offset + 1 >= end:
            raise ber.OutOfByteDataError("Ran out of data when reading tag", offset=offset)
        if data[offset] != self._tag_byte:
            return ber.TAG_MISMATCH, offset
        length: int | None = data[offset + 1]
        pos = offset + 2
        if length & 0x80:  # type: ignore[operator]  # still the first length byte: an int
            length, pos = ber.decode_length(data, offset + 1, enforce_definite=False)
        index = 0
        if length != 0 and pos < end:
            inner = data[pos]
            index = self.select.get(inner, 0)
            if inner in self.null_tags and pos + 1 < end and data[pos + 1] == 0:
                index = self.null_tags[inner]
        value, end = self.forms[index].decode_content(data, pos, length)
        wrap = self.wraps[index]
        if wrap is not None:
            value = (wrap, value)
        return value, end

    def encode(self, data: Any, encoded: bytearray, values: Any = None) -> None:
        for index in self.encode_forms:
            wrap = self.wraps[index]
            if wrap is None:
                self.forms[index].encode(data, encoded)
                return
            if isinstance(data, tuple) and data[0] == wrap:
                self.forms[index].encode(data[1], encoded)
                return
        self.forms[0].encode(data, encoded)


class _TagFormsCompiler(ber.Compiler):
    """asn1tools' BER compiler, plus `TagForms` for members marked by `_add_tag_forms()`;
    with `alternate`, every TagForms encodes its other form."""

    def __init__(self, specification: dict[str, Any], alternate: bool = False) -> None:
        super().__init__(specification, False)
        self._alternate = alternate

    def compile_type(self, name: str, type_descriptor: dict[str, Any], module_name: str) -> Any:
        wrapped = type_descriptor.get("x-explicit")
        if wrapped is not None:
            # [n] around an element that has tag forms of its own (a role id).
            outer = ber.ExplicitTag(name, self.compile_type(name, wrapped["inner"], module_name))
            outer.set_tag(wrapped["number"], ber.Class.CONTEXT_SPECIFIC)
            return outer
        spec_forms = type_descriptor.get("x-tag-forms")
        if spec_forms is None:
            return super().compile_type(name, type_descriptor, module_name)
        forms: list[Any] = []
        select: dict[int, int] = {}
        wraps: list[str | None] = []
        for index, form in enumerate(spec_forms["forms"]):
            forms.append(self.compile_type(name, form["type"], module_name))
            wraps.append(form.get("wrap"))
            for tag in form["first"]:
                select.setdefault(tag, index)
        compiled = TagForms(
            name,
            forms,
            select,
            wraps,
            dict(spec_forms.get("null_tags", ())),
            tuple(spec_forms.get("alternate", (1,))),
        )
        if self._alternate:
            compiled.encode_forms = compiled.alternate
        return compiled


def _tag(number: int, kind: str, cls: str | None = None) -> dict[str, Any]:
    tag: dict[str, Any] = {"number": number, "kind": kind}
    if cls is not None:
        tag["class"] = cls
    return tag


_PRIMITIVE_TYPES = frozenset(
    {"NULL", "OCTET STRING", "INTEGER", "BOOLEAN", "IA5String", "NumberDigits", "ENUMERATED"}
)


def _first_tag(member: dict[str, Any], kind: str | None = None) -> int | None:
    """The tag byte a CHOICE alternative starts with (None: not one of ours to know)."""
    if member.get("tag") is None:
        return {"DeviceID": 0x30, "NULL": 0x05}.get(member["type"])
    return _tagged_first_tag(member, kind)


def _tagged_first_tag(member: dict[str, Any], kind: str | None = None) -> int:
    """The tag byte a CHOICE alternative with a tag of its own starts with."""
    tag = member["tag"]
    kind = kind or tag.get("kind", "EXPLICIT")
    if kind == "EXPLICIT" or member["type"] not in _PRIMITIVE_TYPES:
        return 0xA0 | tag["number"]
    return 0x80 | tag["number"]


def _add_tag_forms(module: dict[str, Any]) -> None:
    """Mark every member whose tag meets a tagged type (see "Tag forms") with its forms."""
    types = module["types"]
    roles: dict[str, tuple[int, str]] = {}  # role CHOICE -> (its APPLICATION number, DeviceID alt)
    for name, t in types.items():
        tag = t.get("tag", {})
        if t.get("type") == "CHOICE" and tag.get("class") == "APPLICATION":
            alts = [m["name"] for m in t["members"] if m and m.get("type") == "DeviceID"]
            if alts:
                roles[name] = (tag["number"], alts[0])
    flip = {"EXPLICIT": "IMPLICIT", "IMPLICIT": "EXPLICIT"}

    def device_choice(
        alts: list[Any], device_alt: str, outer: dict[str, Any], number: int, cls: str | None
    ) -> dict[str, Any]:
        """The forms of a CHOICE with a DeviceID alternative under a tag (`outer`: how the
        declared form is tagged): as declared; with its tagged NULL alternatives in their
        other form (restricted [1] NULL: A1 { 05 00 } or 81 00); with the tag replacing the
        DeviceID's (its contents directly)."""
        own = {t for t in (_first_tag(m) for m in alts if m) if t is not None}
        flipped: list[Any] = []
        flipped_first: set[int] = set()
        for m in alts:
            if m and m["type"] == "NULL" and "tag" in m:
                kind = flip[m["tag"].get("kind", "EXPLICIT")]
                flipped.append(dict(m, tag=dict(m["tag"], kind=kind)))
                flipped_first.add(_tagged_first_tag(m, kind))
            else:
                flipped.append(m)
        device = {
            "type": {"type": "DeviceID", "tag": _tag(number, "IMPLICIT", cls)},
            "first": sorted(_DEVICE_CONTENT_TAGS),
            "wrap": device_alt,
        }
        forms: list[dict[str, Any]] = [
            {"type": outer, "first": sorted(own - _DEVICE_CONTENT_TAGS)},
            device,
        ]
        # A tag of a NULL alternative and of a DeviceID alternative (restricted [1] NULL and
        # deviceNumber [1] INTEGER, both 81) selects the NULL when its content is empty.
        null_tags = {t: 0 for t in own & _DEVICE_CONTENT_TAGS}
        if flipped_first:
            forms.append(
                {
                    "type": dict(outer, type="CHOICE", members=flipped),
                    "first": sorted(flipped_first - _DEVICE_CONTENT_TAGS),
                }
            )
            null_tags.update({t: 2 for t in flipped_first & _DEVICE_CONTENT_TAGS})
        return {
            "forms": forms,
            "null_tags": sorted(null_tags.items()),
            "alternate": [1, 2] if flipped_first else [1],
        }

    def role_forms(type_name: str) -> dict[str, Any]:
        # A role id: its [APPLICATION n] wraps the CHOICE, or replaces a DeviceID's tag.
        number, alt = roles[type_name]
        outer = {"type": type_name}
        found = device_choice(types[type_name]["members"], alt, outer, number, "APPLICATION")
        if len(found["forms"]) == 3:
            # the NULL alternatives' variant, under the role id's own tag
            found["forms"][2]["type"]["tag"] = _tag(number, "EXPLICIT", "APPLICATION")
        return found

    def forms_of(member: dict[str, Any]) -> dict[str, Any] | None:
        type_name = member["type"]
        tag = member.get("tag")
        if tag is None:
            return role_forms(type_name) if type_name in roles else None
        if tag.get("class") not in (None, "CONTEXT"):
            return None
        number = tag["number"]
        kind = tag.get("kind", "EXPLICIT")
        declared = {
            k: v
            for k, v in member.items()
            if k not in ("name", "optional", "default", "x-tag-forms")
        }
        declared["tag"] = _tag(number, kind)
        other = {"type": type_name, "tag": _tag(number, flip[kind])}
        if type_name in ("ConnectionID", "DeviceID"):
            own = {0x6B} if type_name == "ConnectionID" else {0x30}
            content = (
                _CONNECTION_CONTENT_TAGS if type_name == "ConnectionID" else _DEVICE_CONTENT_TAGS
            )
            first = (own, content) if kind == "EXPLICIT" else (content, own)
            return {
                "forms": [
                    {"type": declared, "first": sorted(first[0])},
                    {"type": other, "first": sorted(first[1])},
                ]
            }
        if type_name in roles:
            app, alt = roles[type_name]
            # [n] wrapping the role id (which has its forms), or replacing its tag.
            explicit = {
                "type": type_name,
                "x-explicit": {
                    "number": number,
                    "inner": {"type": type_name, "x-tag-forms": role_forms(type_name)},
                },
            }
            implicit = {"type": type_name, "tag": _tag(number, "IMPLICIT")}
            own_tags = frozenset({0x60 | app})
            pair = ((explicit, own_tags), (implicit, _ROLE_CONTENT_TAGS))
            if kind == "IMPLICIT":
                pair = pair[::-1]
            return {
                "forms": [
                    {"type": pair[0][0], "first": sorted(pair[0][1])},
                    {"type": pair[1][0], "first": sorted(pair[1][1])},
                    {
                        "type": {"type": "DeviceID", "tag": _tag(number, "IMPLICIT")},
                        "first": sorted(_DEVICE_CONTENT_TAGS),
                        "wrap": alt,
                    },
                ]
            }
        # A CHOICE with a DeviceID alternative under [n] (LocalDeviceID; a connection list's
        # endpoint and associatedNID): the DeviceID's tag may be replaced by the [n].
        resolved = types.get(type_name, member)
        alts = resolved.get("members") if resolved.get("type") == "CHOICE" else None
        if not alts or kind != "EXPLICIT":
            return None
        device_alt = next(
            (m["name"] for m in alts if m and m.get("type") == "DeviceID" and "tag" not in m), None
        )
        if device_alt is None:
            return None
        return device_choice(alts, device_alt, declared, number, None)

    def walk(t: dict[str, Any]) -> None:
        for m in t.get("members") or ():
            if not isinstance(m, dict):
                continue
            if "name" in m and "type" in m:
                found = forms_of(m)
                if found is not None:
                    m["x-tag-forms"] = found
            walk(m)
        if isinstance(t.get("element"), dict):
            walk(t["element"])

    for t in types.values():
        walk(t)


#: The tag forms a spec encodes: "hipath", the declared one of each field (HiPath's where it is
#: known, else ECMA-285's), or "alternate", the other one (see "Tag forms").  Both decode both.
TAG_FORMS = ("hipath", "alternate")


def check_tag_form(tag_form: str) -> str:
    """`tag_form`, if it is one of TAG_FORMS; ValueError otherwise."""
    if tag_form not in TAG_FORMS:
        raise ValueError(f"tag_form must be one of {', '.join(TAG_FORMS)}, not {tag_form!r}")
    return tag_form


def compile_spec(tag_form: str = "hipath") -> Any:
    """Compile the modules from their text (slow: a few hundred milliseconds)."""
    check_tag_form(tag_form)
    from asn1tools.codecs import constraints_checker, type_checker
    from asn1tools.compiler import Specification

    d = asn1_dir()
    parsed = asn1tools.parse_files([str(d / f) for f in ASN1_FILES])
    _add_tag_forms(parsed["CSTA-Popup-Subset"])
    _add_decode_ordered_events(parsed["CSTA-Popup-Subset"])
    # asn1tools.compile_dict(parsed, "ber"), with the compiler that knows TagForms.
    compiler = _TagFormsCompiler(parsed, alternate=tag_form == "alternate")
    return Specification(
        compiler.process(),
        ber.decode_full_length,
        type_checker.compile_dict(parsed, False),
        constraints_checker.compile_dict(parsed, False),
    )


def _spec_stem(tag_form: str) -> str:
    return "asn1-spec" if tag_form == "hipath" else f"asn1-spec-{tag_form}"


def _spec_file_key(tag_form: str) -> str:
    d = asn1_dir()
    return _spec_key([(d / f).read_bytes() for f in ASN1_FILES], tag_form)


def save_spec(folder: str | os.PathLike[str], tag_form: str = "hipath") -> Path:
    """Compile the spec and store it in `folder` (made private, 0700); returns the file.
    For installers that ship it beside the ASN.1 modules (packaging/cstapopup.spec)."""
    spec = compile_spec(tag_form)
    key = _spec_file_key(tag_form)
    return speccache.write(
        Path(folder),
        _spec_stem(tag_form),
        key,
        pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL),
    )


def load_spec(use_cache: bool = True, tag_form: str = "hipath") -> Any:
    """The compiled spec: a verified file beside the ASN.1 modules (what an installer
    shipped) or in the configured cache folder, else compiled (and then stored in the cache
    folder, if one is configured).  A file that fails a check is logged and ignored."""
    check_tag_form(tag_form)
    if not use_cache:
        return compile_spec(tag_form)
    key = _spec_file_key(tag_form)
    stem = _spec_stem(tag_form)
    name = speccache.file_name(stem, key)
    candidates = [(asn1_dir() / name, False)]
    if _cache_dir is not None:
        candidates.append((_cache_dir / name, True))
    for path, private in candidates:
        try:
            payload = speccache.read(path, key, private=private)
        except speccache.UntrustedLocation as exc:
            if private and not speccache.POSIX:
                break
            log.warning("not reading the ASN.1 spec cache %s: %s", path, exc)
            continue
        except (OSError, ValueError) as exc:  # damaged or unreadable: compiled again
            log.warning("ignoring the ASN.1 spec cache %s: %s", path, exc)
            continue
        if payload is None:
            continue
        try:
            # Safe to unpickle: speccache.read checked that only this user (or root) can
            # have written it, and that it is whole and made for these sources.
            return pickle.loads(payload)
        except Exception as exc:  # noqa: BLE001 - a cache that does not load: compile anew
            log.warning("ignoring the ASN.1 spec cache %s: %s", path, exc)
    spec = compile_spec(tag_form)
    if _cache_dir is not None and speccache.POSIX:
        try:
            speccache.write(
                _cache_dir, stem, key, pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
            )
        except (OSError, speccache.UntrustedLocation) as exc:
            log.warning("cannot keep the compiled ASN.1 spec in %s: %s", _cache_dir, exc)
    return spec


_SPEC: Any = None
_ALTERNATE_SPEC: Any = None


def spec() -> Any:
    """The compiled spec this process uses (loaded the first time: see `load_spec`)."""
    global _SPEC
    if _SPEC is None:
        _SPEC = load_spec()
    return _SPEC


def spec_for(tag_form: str = "hipath") -> Any:
    """The spec that encodes `tag_form` (TAG_FORMS); both decode either form."""
    global _ALTERNATE_SPEC
    if tag_form == "hipath":
        return spec()
    check_tag_form(tag_form)
    if _ALTERNATE_SPEC is None:
        _ALTERNATE_SPEC = load_spec(tag_form="alternate")
    return _ALTERNATE_SPEC


# APDU values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationRequest:
    """AARQ: the client asks for an association with user name and password."""

    user: str
    password: str = field(repr=False)
    application_context: str = CSTA_APPLICATION_CONTEXT
    kind: str = "aarq"


@dataclass(frozen=True, slots=True)
class AssociationResponse:
    """AARE: 0 accepted, 1 rejected-permanent, 2 rejected-transient.

    `aps_stamp` (16 bytes) and `system_version` (7 bytes) are what a HiPath puts in the
    responding authentication value (protocol facts §2); None when the AARE has none (they
    are sent, with the responder ACSE requirements, when either is set).  `csta_version` is
    the user information's cSTAVersion bit string, None when absent."""

    result: int
    diagnostic: int | None = None
    diagnostic_source: str = "acseServiceUser"
    application_context: str = CSTA_APPLICATION_CONTEXT
    aps_stamp: bytes | None = None
    system_version: bytes | None = None
    csta_version: tuple[bytes, int] | None = CSTA_VERSION_FOUR
    kind: str = "aare"

    @property
    def accepted(self) -> bool:
        return self.result == 0


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """RLRQ: one side ends the association in an orderly way."""

    reason: int | None = None
    kind: str = "rlrq"


@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    """RLRE: the answer to an RLRQ."""

    reason: int | None = None
    kind: str = "rlre"


@dataclass(frozen=True, slots=True)
class Abort:
    """ABRT: the association ends at once (`source` 0: the user, 1: the provider)."""

    source: int = 0
    diagnostic: int | None = None
    kind: str = "abrt"


@dataclass(frozen=True, slots=True)
class Invoke:
    """A request; `argument` is the asn1tools value of the operation's argument type."""

    invoke_id: int
    operation: int
    argument: Any = None
    linked_id: int | None = None
    kind: str = "invoke"

    @property
    def operation_name(self) -> str:
        return operations.operation_name(self.operation)


@dataclass(frozen=True, slots=True)
class EventReport:
    """An event report invoke (operation 21), its event already typed.  No reply is due."""

    invoke_id: int
    event: CstaEvent
    kind: str = "event"


@dataclass(frozen=True, slots=True)
class ReturnResult:
    """The answer to a request; `result` is the asn1tools value of its result type."""

    invoke_id: int
    operation: int | None = None
    result: Any = None
    kind: str = "result"

    @property
    def operation_name(self) -> str | None:
        return None if self.operation is None else operations.operation_name(self.operation)


@dataclass(frozen=True, slots=True)
class UniversalFailure:
    """The universalFailure error: a group (e.g. "operation") and a value within it."""

    group: str
    value: int | None

    @property
    def name(self) -> str:
        return names.error_name(self.group, self.value)

    def __str__(self) -> str:
        return f"{self.group}/{self.name}"


@dataclass(frozen=True, slots=True)
class ReturnError:
    """A request failed: `error_code`, and the universalFailure reason if that was it."""

    invoke_id: int
    error_code: int = operations.UNIVERSAL_FAILURE
    failure: UniversalFailure | None = None
    kind: str = "error"


@dataclass(frozen=True, slots=True)
class Reject:
    """A ROSE reject: the other side could not take an APDU (`problem_name` says why)."""

    invoke_id: int | None
    problem_kind: str = "general"
    problem: int = 0
    kind: str = "reject"

    @property
    def problem_name(self) -> str:
        return operations.REJECT_PROBLEMS.get(self.problem_kind, {}).get(
            self.problem, f"problem{self.problem}"
        )


Apdu = (
    AssociationRequest
    | AssociationResponse
    | ReleaseRequest
    | ReleaseResponse
    | Abort
    | Invoke
    | EventReport
    | ReturnResult
    | ReturnError
    | Reject
)

_ACSE_TAGS = {0x60: "aarq", 0x61: "aare", 0x62: "rlrq", 0x63: "rlre", 0x64: "abrt"}
_ROSE_TAGS = {0xA1, 0xA2, 0xA3, 0xA4}
_SNAKE_FIELDS: dict[str, str] = {}


# Device and connection ids ------------------------------------------------------------------

_ROLE_NULLS = {
    "notKnown": "not_known",
    "restricted": "restricted",
    "notRequired": "not_required",
    "notSpecified": "not_specified",
}
_KIND_TO_ROLE = {v: k for k, v in _ROLE_NULLS.items()}
# (The kinds in _ROLE_NULLS are DeviceId kinds; the table's values are plain str.)
_ROLE_DEVICES = {alt: DeviceId(kind) for alt, kind in _ROLE_NULLS.items()}  # type: ignore[arg-type]


#: Devices already decoded, by their DeviceID alternative and value.  DeviceId is immutable,
#: so one instance serves every event that names the same device: the monitored devices and
#: frequent callers recur in nearly every event, and building an instance costs more than
#: finding it.  Bounded: emptied when full.
_DEVICE_CACHE: dict[tuple[str, Any], DeviceId] = {}
_DEVICE_CACHE_SIZE = 4096


def device_from_asn1(value: Any) -> DeviceId:
    """A DeviceID SEQUENCE value -> DeviceId."""
    ident = value["deviceIdentifier"]
    if ident[0] == "dialingNumber" or ident[0] == "deviceNumber":
        # (an ASN.1 string or integer: hashable; octet strings, which are not, go below)
        found = _DEVICE_CACHE.get(ident)
        if found is not None:
            return found
    alt, number = ident
    if alt == "dialingNumber":
        device = DeviceId("number", _bounded(number, "device number"), alt)
    elif alt == "deviceNumber":
        device = DeviceId("number", _bounded(str(number), "device number"), "deviceNumber")
    elif isinstance(number, str):
        return DeviceId("number", _bounded(number, "device number"), alt)
    elif isinstance(number, (bytes, bytearray)):
        text = _bounded(bytes(number), "device number").decode("ascii", "replace")
        return DeviceId("number", text, "other")
    else:
        return NOT_KNOWN
    if len(_DEVICE_CACHE) >= _DEVICE_CACHE_SIZE:
        _DEVICE_CACHE.clear()
    _DEVICE_CACHE[ident] = device
    return device


def device_to_asn1(device: DeviceId | str) -> dict[str, Any]:
    if isinstance(device, str):
        device = DeviceId.of(device)
    if not device.is_known or device.number is None:
        raise EncodeError(f"a DeviceID needs a number, not {device}")
    if device.numbering == "deviceNumber":
        return {"deviceIdentifier": ("deviceNumber", int(device.number))}
    if device.numbering == "other":
        return {"deviceIdentifier": ("other", device.number.encode("ascii"))}
    alt = (
        device.numbering
        if device.numbering in ("implicitPublic", "implicitPrivate")
        else "dialingNumber"
    )
    return {"deviceIdentifier": (alt, device.number)}


def role_device_from_asn1(value: Any) -> DeviceId:
    """One of the [APPLICATION n] role CHOICEs (calling, called, subject, ...) -> DeviceId."""
    alt, inner = value
    if alt == "deviceIdentifier" or alt == "numberdialed":
        return device_from_asn1(inner)
    return _ROLE_DEVICES.get(alt, NOT_KNOWN)


def role_device_to_asn1(device: DeviceId | str, redirection: bool = False) -> tuple[str, Any]:
    if isinstance(device, str):
        device = DeviceId.of(device)
    if device.is_known:
        return ("numberdialed" if redirection else "deviceIdentifier", device_to_asn1(device))
    alt = _KIND_TO_ROLE.get(device.kind, "notKnown")
    if not redirection and alt in ("notRequired", "notSpecified"):
        alt = "notKnown"
    return (alt, None)


def connection_from_asn1(value: Any) -> ConnectionId:
    alt, inner = value
    if alt == "both":
        call_id = _bounded(bytes(inner["callID"]), "call id")
        dev_alt, dev = inner["deviceID"]
        if dev_alt == "staticID":
            return ConnectionId(call_id, device_from_asn1(dev))
        return ConnectionId(call_id, _local_device((dev_alt, dev)))
    if alt == "callID":
        return ConnectionId(_bounded(bytes(inner), "call id"), None)
    return ConnectionId(None, _local_device(inner))


def _local_device(value: Any) -> DeviceId:
    alt, inner = value
    if alt == "staticID":
        return device_from_asn1(inner)
    return DeviceId("number", _bounded(bytes(inner), "dynamic device id").hex(), "dynamic")


def connection_to_asn1(conn: ConnectionId) -> tuple[str, Any]:
    if conn.call_id is None and conn.device is None:
        raise EncodeError("a ConnectionID needs a call id or a device")
    if conn.device is None:
        return ("callID", conn.call_id)
    dev: tuple[str, Any]
    if conn.device.numbering == "dynamic" and conn.device.number is not None:
        dev = ("dynamicID", bytes.fromhex(conn.device.number))
    else:
        dev = ("staticID", device_to_asn1(conn.device))
    if conn.call_id is None:
        return ("deviceID", dev)
    return ("both", {"callID": conn.call_id, "deviceID": dev})


def _list_device_from_asn1(value: Any) -> DeviceId:
    """A connection list's endpoint or associatedNID CHOICE -> DeviceId."""
    alt, inner = value
    if alt == "deviceID":
        return device_from_asn1(inner)
    return DeviceId("restricted" if alt == "restricted" else "not_known")


def _connlist_from_asn1(items: Any) -> tuple[ConnectionChange, ...]:
    out = []
    for item in items:
        new, old = item.get("newConnection"), item.get("oldConnection")
        endpoint, nid = item.get("endpoint"), item.get("associatedNID")
        out.append(
            ConnectionChange(
                new_connection=None if new is None else connection_from_asn1(new),
                old_connection=None if old is None else connection_from_asn1(old),
                endpoint=None if endpoint is None else _list_device_from_asn1(endpoint),
                associated_nid=None if nid is None else _list_device_from_asn1(nid),
            )
        )
    return tuple(out)


def _connlist_to_asn1(changes: tuple[ConnectionChange, ...]) -> list[dict[str, Any]]:
    out = []
    for c in changes:
        item: dict[str, Any] = {}
        if c.new_connection is not None:
            item["newConnection"] = connection_to_asn1(c.new_connection)
        if c.old_connection is not None:
            item["oldConnection"] = connection_to_asn1(c.old_connection)
        if c.endpoint is not None:
            if c.endpoint.is_known:
                item["endpoint"] = ("deviceID", device_to_asn1(c.endpoint))
            elif c.endpoint.kind == "restricted":
                item["endpoint"] = ("restricted", None)
            else:
                item["endpoint"] = ("notKnown", None)
        if c.associated_nid is not None:
            item["associatedNID"] = (
                ("deviceID", device_to_asn1(c.associated_nid))
                if c.associated_nid.is_known
                else ("notKnown", None)
            )
        out.append(item)
    return out


# Events ------------------------------------------------------------------------------------

# Per ASN.1 event: its Python class name and (asn1 field, python field, kind) for every field
# the library interprets.  Kinds: conn, role, redir, dev, cause, state, list, plain.
_CONN, _ROLE, _REDIR, _DEV, _CAUSE, _STATE, _LIST, _PLAIN = range(8)

_PARTIES = (
    ("callingDevice", "calling_device", _ROLE),
    ("calledDevice", "called_device", _ROLE),
    ("lastRedirectionDevice", "last_redirection_device", _REDIR),
    ("originatingNIDConnection", "originating_connection", _CONN),
    ("localConnectionInfo", "local_connection_state", _STATE),
    ("cause", "cause", _CAUSE),
    ("associatedCallingDevice", "associated_calling_device", _ROLE),
    ("associatedCalledDevice", "associated_called_device", _ROLE),
)
_SIMPLE = (
    ("localConnectionInfo", "local_connection_state", _STATE),
    ("cause", "cause", _CAUSE),
)

_CALL_EVENTS: dict[str, tuple[str, tuple[tuple[str, str, int], ...]]] = {
    "bridged": (
        "bridged",
        (
            ("bridgedConnection", "connection", _CONN),
            ("bridgedAppearance", "bridged_appearance", _ROLE),
        )
        + _SIMPLE,
    ),
    "callCleared": (
        "call_cleared",
        (("clearedCall", "connection", _CONN), ("cause", "cause", _CAUSE)),
    ),
    "conferenced": (
        "conferenced",
        (
            ("primaryOldCall", "connection", _CONN),
            ("secondaryOldCall", "secondary_old_call", _CONN),
            ("conferencingDevice", "conferencing_device", _ROLE),
            ("addedParty", "added_party", _ROLE),
            ("conferenceConnections", "conference_connections", _LIST),
        )
        + _SIMPLE,
    ),
    "connectionCleared": (
        "connection_cleared",
        (("droppedConnection", "connection", _CONN), ("releasingDevice", "releasing_device", _ROLE))
        + _SIMPLE,
    ),
    "delivered": (
        "delivered",
        (("connection", "connection", _CONN), ("alertingDevice", "alerting_device", _ROLE))
        + _PARTIES,
    ),
    "digitsDialed": (
        "digits_dialed",
        (
            ("dialingConnection", "connection", _CONN),
            ("dialingDevice", "dialing_device", _ROLE),
            ("dialingSequence", "dialing_sequence", _DEV),
            ("associatedCallingDevice", "associated_calling_device", _ROLE),
            ("associatedCalledDevice", "associated_called_device", _ROLE),
        )
        + _SIMPLE,
    ),
    "diverted": (
        "diverted",
        (
            ("connection", "connection", _CONN),
            ("divertingDevice", "diverting_device", _ROLE),
            ("newDestination", "new_destination", _ROLE),
        )
        + _PARTIES[:3]
        + _PARTIES[4:],
    ),
    "established": (
        "established",
        (
            ("establishedConnection", "connection", _CONN),
            ("answeringDevice", "answering_device", _ROLE),
        )
        + _PARTIES,
    ),
    "failed": (
        "failed",
        (("failedConnection", "connection", _CONN), ("failingDevice", "failing_device", _ROLE))
        + _PARTIES[:3]
        + _PARTIES[4:],
    ),
    "held": (
        "held",
        (("heldConnection", "connection", _CONN), ("holdingDevice", "holding_device", _ROLE))
        + _SIMPLE,
    ),
    "networkCapabilitiesChanged": (
        "network_capabilities_changed",
        (
            ("outboundConnection", "connection", _CONN),
            ("networkInterfaceUsed", "network_interface_used", _ROLE),
            ("calledDevice", "called_device", _ROLE),
        )
        + _SIMPLE,
    ),
    "networkReached": (
        "network_reached",
        (
            ("outboundConnection", "connection", _CONN),
            ("networkInterfaceUsed", "network_interface_used", _ROLE),
            ("callingDevice", "calling_device", _ROLE),
            ("calledDevice", "called_device", _ROLE),
            ("lastRedirectionDevice", "last_redirection_device", _REDIR),
            ("associatedCallingDevice", "associated_calling_device", _ROLE),
        )
        + _SIMPLE,
    ),
    "offered": (
        "offered",
        (("offeredConnection", "connection", _CONN), ("offeredDevice", "offered_device", _ROLE))
        + _PARTIES[:3]
        + _PARTIES[4:],
    ),
    "originated": (
        "originated",
        (
            ("originatedConnection", "connection", _CONN),
            ("callingDevice", "calling_device", _ROLE),
            ("calledDevice", "called_device", _ROLE),
            ("originatingDevice", "originating_device", _DEV),
            ("associatedCallingDevice", "associated_calling_device", _ROLE),
            ("associatedCalledDevice", "associated_called_device", _ROLE),
        )
        + _SIMPLE,
    ),
    "queued": (
        "queued",
        (
            ("queuedConnection", "connection", _CONN),
            ("queue", "queue", _ROLE),
            ("numberQueued", "number_queued", _PLAIN),
            ("callsInFront", "calls_in_front", _PLAIN),
        )
        + _PARTIES[:3]
        + _PARTIES[4:],
    ),
    "retrieved": (
        "retrieved",
        (
            ("retrievedConnection", "connection", _CONN),
            ("retrievingDevice", "retrieving_device", _ROLE),
        )
        + _SIMPLE,
    ),
    "serviceInitiated": (
        "service_initiated",
        (
            ("initiatedConnection", "connection", _CONN),
            ("initiatingDevice", "initiating_device", _ROLE),
            ("calledDevice", "called_device", _ROLE),
            ("associatedCallingDevice", "associated_calling_device", _ROLE),
        )
        + _SIMPLE,
    ),
    "transferred": (
        "transferred",
        (
            ("primaryOldCall", "connection", _CONN),
            ("secondaryOldCall", "secondary_old_call", _CONN),
            ("transferringDevice", "transferring_device", _ROLE),
            ("transferredToDevice", "transferred_to_device", _ROLE),
            ("transferredConnections", "transferred_connections", _LIST),
        )
        + _SIMPLE,
    ),
}
_CALL_EVENT_BY_NAME = {py: asn for asn, (py, _) in _CALL_EVENTS.items()}
_LINKAGE_FIELD = {"conferenced": "callLinkageDataList", "transferred": "callLinkageDataList"}

_CATEGORY_TYPES = {
    "callControlEvents": "CallControlEvents",
    "physicalDeviceFeatureEvents": "PhysicalDeviceFeatureEvents",
    "logicalDeviceFeatureEvents": "LogicalDeviceFeatureEvents",
}
_FORWARDING_TYPES = [
    "forwardImmediate",
    "forwardBusy",
    "forwardNoAns",
    "forwardBusyInt",
    "forwardBusyExt",
    "forwardNoAnsInt",
    "forwardNoAnsExt",
    "forwardImmInt",
    "forwardImmExt",
    "forwardDND",
    "forwardDNDInt",
    "forwardDNDExt",
]


def _identity(value: Any) -> Any:
    return value


_FROM = {
    _CONN: connection_from_asn1,
    _ROLE: role_device_from_asn1,
    _REDIR: role_device_from_asn1,
    _DEV: device_from_asn1,
    _CAUSE: names.cause_name,
    _LIST: _connlist_from_asn1,
    _STATE: _identity,
    _PLAIN: _identity,
}


def _to_kind(kind: int, value: Any) -> Any:
    if kind == _CONN:
        return connection_to_asn1(value)
    if kind == _ROLE:
        return role_device_to_asn1(value)
    if kind == _REDIR:
        return role_device_to_asn1(value, redirection=True)
    if kind == _DEV:
        return device_to_asn1(value)
    if kind == _CAUSE:
        return names.cause_value(value) if not value.startswith("unknown_") else int(value[8:])
    if kind == _LIST:
        return _connlist_to_asn1(value)
    return value


#: The last timestamp parsed: the events of one busy second share their timestamp.
_LAST_TIME: tuple[bytes, datetime | None] = (b"", None)


def parse_generalized_time(raw: bytes) -> datetime | None:
    """GeneralizedTime octets ("YYYYMMDDHHMMSS[.f][Z|+hhmm]") -> datetime; None if malformed.

    Without a zone (HiPath sends its local time so) the result is naive.
    """
    global _LAST_TIME
    raw = bytes(raw)
    if raw == _LAST_TIME[0]:
        return _LAST_TIME[1]
    parsed = _parse_generalized_time(raw)
    _LAST_TIME = (raw, parsed)
    return parsed


def _parse_generalized_time(raw: bytes) -> datetime | None:
    try:
        if len(raw) == 14 and raw.isdigit():  # YYYYMMDDHHMMSS, as HiPath sends it
            return datetime(
                int(raw[0:4]),
                int(raw[4:6]),
                int(raw[6:8]),
                int(raw[8:10]),
                int(raw[10:12]),
                int(raw[12:14]),
            )
        text = bytes(raw).decode("ascii")
        tz = None
        if text.endswith("Z"):
            tz, text = UTC, text[:-1]
        elif len(text) > 5 and text[-5] in "+-":
            sign = 1 if text[-5] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(text[-4:-2]), minutes=int(text[-2:])))
            text = text[:-5]
        micro = 0
        if "." in text or "," in text:
            text, frac = text.replace(",", ".").split(".", 1)
            micro = int((frac + "000000")[:6])
        minute = int(text[10:12]) if len(text) >= 12 else 0
        second = int(text[12:14]) if len(text) >= 14 else 0
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            minute,
            second,
            micro,
            tz,
        )
    except (ValueError, UnicodeDecodeError, IndexError):
        return None


def format_generalized_time(ts: datetime) -> bytes:
    text = ts.strftime("%Y%m%d%H%M%S")
    if ts.microsecond:
        text += f".{ts.microsecond // 1000:03d}"
    off = ts.utcoffset()
    if off is not None:
        if off == timedelta(0):
            text += "Z"
        else:
            minutes = int(off.total_seconds() // 60)
            sign = "+" if minutes >= 0 else "-"
            text += f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return text.encode("ascii")


def _extensions_from_asn1(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ext = value.get("extensions")
    if ext:
        ts = ext.get("security", {}).get("timestamp")
        if ts is not None:
            parsed = parse_generalized_time(ts)
            if parsed is not None:
                out["timestamp"] = parsed
        pd = ext.get("privateData")
        if pd:
            out["private_data"] = tuple(bytes(p) for p in pd)
    return out


def _extensions_to_asn1(event: CstaEvent) -> dict[str, Any] | None:
    ext: dict[str, Any] = {}
    if event.timestamp is not None:
        ext["security"] = {"timestamp": format_generalized_time(event.timestamp)}
    if event.private_data:
        ext["privateData"] = list(event.private_data)
    return ext or None


def linkage_from_asn1(value: Any) -> dict[str, Any]:
    """A CallLinkageData value -> {"global_call_id": ..., "thread_id": ...} (those sent)."""
    return _linkage_from_asn1(value, False)


def _linkage_from_asn1(value: Any, listed: bool) -> dict[str, Any]:
    if listed:
        out = {
            "old_" + k: v
            for k, v in _linkage_from_asn1(value.get("oldCallLinkageData", {}), False).items()
        }
        out.update(_linkage_from_asn1(value.get("newCallLinkageData", {}), False))
        return out
    out = {}
    gcd = value.get("globalCallData", {}).get("globalCallLinkageID")
    if gcd:
        out["global_call_id"] = _bounded(bytes(gcd[1]), "global call id")
    thread = value.get("threadData", {}).get("threadLinkageID")
    if thread:
        out["thread_id"] = _bounded(bytes(thread[1]), "thread id")
    return out


def _linkage_to_asn1(global_call_id: bytes, thread_id: bytes | None) -> dict[str, Any]:
    linkage: dict[str, Any] = {
        "globalCallData": {"globalCallLinkageID": ("globallyUniqueCallLinkageID", global_call_id)}
    }
    if thread_id is not None:
        linkage["threadData"] = {"threadLinkageID": ("globallyUniqueThreadID", thread_id)}
    return linkage


def event_from_asn1(cross_ref: bytes, category: str, inner: bytes) -> CstaEvent:
    """Decode the event inside one eventSpecificInfo category into a typed event."""
    s = spec()
    _bounded(cross_ref, "cross-ref id")
    type_name = _CATEGORY_TYPES.get(category)
    tag = inner[0] & 0x1F if inner else None
    if type_name is None or tag not in _KNOWN_TAGS.get(category, ()):
        return UnknownEvent(cross_ref_id=cross_ref, category=category, tag=tag, raw=bytes(inner))
    alt, value = s.decode(type_name, inner)
    if category == "callControlEvents":
        return _call_event(cross_ref, alt, value)
    common: dict[str, Any] = {"cross_ref_id": cross_ref}
    common.update(_extensions_from_asn1(value))
    if alt == "hookswitch":
        return HookswitchEvent(
            device=role_device_from_asn1(value["device"]),
            hookswitch_id=_bounded(bytes(value["hookswitch"]), "hookswitch id"),
            on_hook=bool(value["hookswitchOnHook"]),
            **common,
        )
    if alt == "doNotDisturb":
        return DoNotDisturbEvent(
            device=role_device_from_asn1(value["device"]),
            do_not_disturb_on=bool(value["doNotDisturbOn"]),
            **common,
        )
    if alt == "forwarding":
        ftype = value.get("forwardingType")
        return ForwardingEvent(
            device=role_device_from_asn1(value["device"]),
            forwarding_type=None if ftype is None else str(ftype),
            forward_status=bool(value["forwardStatus"]),
            forward_to=device_from_asn1(value["forwardTo"]) if "forwardTo" in value else None,
            **common,
        )
    return UnknownEvent(cross_ref_id=cross_ref, category=category, tag=tag, raw=bytes(inner))


def _call_event(cross_ref: bytes, alt: str, value: dict[str, Any]) -> CstaEvent:
    py_name, fields = _CALL_EVENTS[alt]
    kwargs: dict[str, Any] = {"cross_ref_id": _bounded(cross_ref, "cross-ref id")}
    for asn_name, py_field, kind in fields:
        v = value.get(asn_name)
        if v is not None:
            kwargs[py_field] = _FROM[kind](v)
    linkage_field = _LINKAGE_FIELD.get(alt, "callLinkageData")
    if linkage_field in value:
        kwargs.update(_linkage_from_asn1(value[linkage_field], linkage_field.endswith("List")))
    if "extensions" in value:
        kwargs.update(_extensions_from_asn1(value))
    return EVENT_CLASSES[py_name](**kwargs)


_KNOWN_TAGS = {
    "callControlEvents": set(range(18)),
    "physicalDeviceFeatureEvents": {3},
    "logicalDeviceFeatureEvents": {11, 12},
}


# What to send for a mandatory field the event value does not have.
_MISSING_DEFAULTS: dict[str, Any] = {
    "cause": 78,  # normal (names.EVENT_CAUSES)
    "progressIndicator": {},
    "transferredConnections": [],
    "conferenceConnections": [],
    "dialingSequence": {"deviceIdentifier": ("dialingNumber", "")},
}
_MANDATORY: dict[str, tuple[str, ...]] = {}


def _mandatory_members(asn_name: str) -> tuple[str, ...]:
    """The mandatory members of a call-control event type (from the compiled spec)."""
    found = _MANDATORY.get(asn_name)
    if found is None:
        type_name = asn_name[0].upper() + asn_name[1:] + "Event"
        members = spec()._types[type_name].type.root_members
        found = tuple(m.name for m in members if not m.optional and not m.has_default())
        _MANDATORY[asn_name] = found
    return found


def event_to_asn1(event: CstaEvent, tag_form: str = "hipath") -> dict[str, Any]:
    """A typed event -> the CSTAEventReportArgument value (for the simulator / tests); the
    event itself is encoded already, in `tag_form` (TAG_FORMS)."""
    s = spec_for(tag_form)
    if isinstance(event, CallEvent):
        asn_name = _CALL_EVENT_BY_NAME[event.name]
        _, fields = _CALL_EVENTS[asn_name]
        value: dict[str, Any] = {}
        for asn_field, py_field, kind in fields:
            v = getattr(event, py_field, None)
            if v is None or (
                kind == _LIST
                and v == ()
                and asn_field not in ("transferredConnections", "conferenceConnections")
            ):
                continue
            value[asn_field] = _to_kind(kind, v)
        for name in _mandatory_members(asn_name):
            if name not in value:
                value[name] = _MISSING_DEFAULTS.get(name, ("notKnown", None))
        if event.global_call_id is not None:
            linkage = _linkage_to_asn1(event.global_call_id, event.thread_id)
            field_name = _LINKAGE_FIELD.get(asn_name, "callLinkageData")
            if field_name.endswith("List"):
                old_id = getattr(event, "old_global_call_id", None)
                old = (
                    linkage
                    if old_id is None
                    else _linkage_to_asn1(old_id, getattr(event, "old_thread_id", None))
                )
                value[field_name] = {"newCallLinkageData": linkage, "oldCallLinkageData": old}
            else:
                value[field_name] = linkage
        ext = _extensions_to_asn1(event)
        if ext:
            value["extensions"] = ext
        inner = s.encode("CallControlEvents", (asn_name, value))
        category = "callControlEvents"
    else:
        ext = _extensions_to_asn1(event)
        if isinstance(event, HookswitchEvent):
            value = {
                "device": role_device_to_asn1(event.device),
                "hookswitch": event.hookswitch_id,
                "hookswitchOnHook": event.on_hook,
            }
            category, type_name, alt = (
                "physicalDeviceFeatureEvents",
                "PhysicalDeviceFeatureEvents",
                "hookswitch",
            )
        elif isinstance(event, DoNotDisturbEvent):
            value = {
                "device": role_device_to_asn1(event.device),
                "doNotDisturbOn": event.do_not_disturb_on,
            }
            category, type_name, alt = (
                "logicalDeviceFeatureEvents",
                "LogicalDeviceFeatureEvents",
                "doNotDisturb",
            )
        elif isinstance(event, ForwardingEvent):
            value = {
                "device": role_device_to_asn1(event.device),
                "forwardStatus": event.forward_status,
            }
            if event.forwarding_type:
                value["forwardingType"] = event.forwarding_type
            if event.forward_to is not None:
                value["forwardTo"] = device_to_asn1(event.forward_to)
            category, type_name, alt = (
                "logicalDeviceFeatureEvents",
                "LogicalDeviceFeatureEvents",
                "forwarding",
            )
        elif isinstance(event, UnknownEvent):
            return {
                "crossRefIdentifier": event.cross_ref_id,
                "eventSpecificInfo": (event.category, event.raw),
            }
        else:
            raise EncodeError(f"cannot encode {event!r}")
        if ext:
            value["extensions"] = ext
        inner = s.encode(type_name, (alt, value))
    return {"crossRefIdentifier": event.cross_ref_id, "eventSpecificInfo": (category, bytes(inner))}


# APDUs -------------------------------------------------------------------------------------


def _err(exc: Exception, base: int = 0) -> DecodeError:
    offset = getattr(exc, "offset", None)
    msg = str(exc)
    return DecodeError(msg, None if offset is None else base + offset)


def decode_apdu(data: bytes) -> Apdu:
    """Decode one APDU (without the frame header).  Raises DecodeError and nothing else.

    An event report whose envelope can be read but whose event cannot be decoded is not an
    error: it is an EventReport holding an `UndecodableEvent` (what could be read of it), so
    that it is never lost on the way.
    """
    if not data:
        raise DecodeError("empty APDU", 0)
    data = bytes(data)
    try:
        check_structure(data)
        return _decode_apdu(data)
    except DecodeError as exc:
        error = exc
    except asn1tools.DecodeError as exc:
        error = _err(exc)
    except Exception as exc:  # noqa: BLE001 - asn1tools raises assorted errors on hostile input
        error = DecodeError(f"malformed APDU: {type(exc).__name__}: {exc}")
    report = undecodable_event_report(data, error)
    if report is None:
        raise error from None
    return report


#: EventSpecificInfo's alternatives by their context tag number.
_CATEGORIES = (
    "callControlEvents",
    "callAssociatedEvents",
    "mediaAttachmentEvents",
    "physicalDeviceFeatureEvents",
    "logicalDeviceFeatureEvents",
    "deviceMaintenanceEvents",
    "voiceUnitEvents",
    "vendorSpecEvents",
)
_EVENT_TYPES: dict[int, str] = {}


def _call_event_type(tag: int) -> str | None:
    """The snake_case name of the call-control event with context tag `tag`."""
    if not _EVENT_TYPES:
        for member in spec()._types["CallControlEvents"].type.members:
            _EVENT_TYPES[member.tag[0] & 0x1F] = _CALL_EVENTS[member.name][0]
    return _EVENT_TYPES.get(tag)


def undecodable_event_report(data: bytes, error: DecodeError | str) -> EventReport | None:
    """An EventReport with an `UndecodableEvent` for an event report invoke (operation 21)
    that could not be decoded: whatever its envelope and a scan of its elements give.  None
    when `data` cannot be read as an event report invoke at all."""
    end = len(data)
    top = _header(data, 0, end)
    if top is None or top[0] != 0xA1:
        return None
    _, pos, end = top
    iid = _header(data, pos, end)
    if iid is None or iid[0] != 0x02 or not 1 <= iid[2] - iid[1] <= 4:
        return None
    invoke_id = int.from_bytes(data[iid[1] : iid[2]], "big", signed=True)
    element = _header(data, iid[2], end)
    if element is not None and element[0] == 0x80:  # linked id
        element = _header(data, element[2], end)
    if (
        element is None
        or element[0] != 0x02
        or int.from_bytes(data[element[1] : element[2]], "big") != operations.EVENT_REPORT
    ):
        return None
    cross_ref, category, tag, event = b"", None, None, None
    argument = _header(data, element[2], end)
    if argument is not None and argument[0] == 0x30:
        for _, kind, pos, stop in _children(data, argument[1], argument[2]):
            if kind == 0x55 and not cross_ref and stop - pos <= MAX_STRING_LENGTH:
                cross_ref = data[pos:stop]
            elif kind & 0xE0 == 0xA0 and category is None and kind & 0x1F < len(_CATEGORIES):
                category = _CATEGORIES[kind & 0x1F]
                event = _header(data, pos, stop)
                if event is not None and event[0] & 0xC0 == 0x80:
                    tag = event[0] & 0x1F
    event_type = (
        _call_event_type(tag) if category == "callControlEvents" and tag is not None else None
    )
    connection = state = cause = None
    if event is not None:
        connection = _scan_connection(data, event)
        # The event's own local connection state (4E) and cause (0A), when readable.
        for start, kind, _, stop in _children(data, event[1], event[2]):
            if kind == 0x4E and state is None:
                state = _readable("LocalConnectionState", data[start:stop])
            elif kind == 0x0A and cause is None:
                value = _readable("EventCause", data[start:stop])
                cause = None if value is None else names.cause_name(value)
    return EventReport(
        invoke_id,
        UndecodableEvent(
            cross_ref_id=cross_ref,
            category=category,
            tag=tag,
            event_type=event_type,
            connection=connection,
            local_connection_state=state,
            cause=cause,
            reason=str(error.args[0] if isinstance(error, DecodeError) else error),
            raw=data,
        ),
    )


def _readable(type_name: str, element: bytes) -> Any:
    """`element` decoded as `type_name`, or None when it cannot be."""
    try:
        check_structure(element)
        return spec().decode(type_name, element)
    except Exception:  # noqa: BLE001 - hostile input: "cannot be read" is the answer
        return None


def _children(data: bytes, pos: int, end: int) -> list[tuple[int, int, int, int]]:
    """(start, tag byte, contents start, end) of each readable element from `pos` to `end`
    (stops at the first one `_header` cannot read)."""
    out: list[tuple[int, int, int, int]] = []
    while pos < end and len(out) < MAX_ELEMENTS:
        element = _header(data, pos, end)
        if element is None:
            break
        out.append((pos, *element))
        pos = element[2]
    return out


def _scan_connection(data: bytes, event: tuple[int, int, int]) -> ConnectionId | None:
    """The first ConnectionID (6B) among the event's elements that decodes: its own elements
    first, then those nested in them, in order."""
    level = [event[1:]]
    for _ in range(MAX_NESTING_DEPTH):
        nested: list[tuple[int, int]] = []
        for pos, end in level:
            for start, tag, contents, stop in _children(data, pos, end):
                if tag == 0x6B:
                    value = _readable("ConnectionID", data[start:stop])
                    if value is not None:
                        try:
                            return connection_from_asn1(value)
                        except DecodeError:  # beyond a bound: look further
                            pass
                elif tag & 0x20:
                    nested.append((contents, stop))
        if not nested:
            return None
        level = nested
    return None


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag byte, start, end of the contents) of the element at `pos`, which must lie within
    `end`; None for what the shortcut below leaves to asn1tools (a tag number above 30,
    an indefinite length, a length field of more than 2 bytes)."""
    if pos + 2 > end:
        return None
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        return None
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        if length == 0x81 and pos < end:
            length = data[pos]
            pos += 1
        elif length == 0x82 and pos + 1 < end:
            length = (data[pos] << 8) | data[pos + 1]
            pos += 2
        else:
            return None
    if pos + length > end:
        return None
    return tag, pos, pos + length


def _event_report_parts(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(invoke id, cross-ref id, the event's own element) of an APDU that is exactly an
    EventReport invoke in the form PBXs send it; None for anything else.

    The ROSE envelope around an event (invoke id, operation code 21, cross-ref id, the [0]
    wrapper) is four fixed elements, and taking it apart through asn1tools cost a tenth of
    the time of decoding an event.  So the envelope is read here, element by element, each
    tag and length checked; the event itself is decoded by asn1tools.  Whatever differs in
    the slightest (another order, a long invoke id, trailing bytes, an indefinite length)
    goes the general way, through asn1tools alone: the results are the same
    (test_fast_path_and_general_path_agree_for_every_call_control_event).
    """
    top = _header(data, 0, len(data))
    if top is None or top[0] != 0xA1 or top[2] != len(data):
        return None
    _, pos, end = top
    iid = _header(data, pos, end)
    if iid is None or iid[0] != 0x02 or not 1 <= iid[2] - iid[1] <= 4:
        return None
    invoke_id = int.from_bytes(data[iid[1] : iid[2]], "big", signed=True)
    pos = iid[2]
    if data[pos : pos + 3] != b"\x02\x01\x15":  # opcode 21: CSTA event report
        return None
    arg = _header(data, pos + 3, end)
    if arg is None or arg[0] != 0x30 or arg[2] != end:
        return None
    ref = _header(data, arg[1], end)
    if ref is None or ref[0] != 0x55 or ref[2] - ref[1] > MAX_STRING_LENGTH:
        return None
    wrapper = _header(data, ref[2], end)
    if wrapper is None or wrapper[0] != 0xA0 or wrapper[2] != end:
        return None
    event = _header(data, wrapper[1], end)
    if event is None or event[2] != end:
        return None
    return invoke_id, data[ref[1] : ref[2]], data[wrapper[1] : end]


def _decode_apdu(data: bytes) -> Apdu:
    s = spec()
    first = data[0]
    if first in _ACSE_TAGS:
        alt, v = s.decode("ACSEapdu", data)
        if alt == "aarq":
            user = password = ""
            auth = v.get("callingAuthenticationValue")
            if auth and auth[0] == "external":
                enc = auth[1]["encoding"]
                if enc[0] == "singleASN1Type" and enc[1][0] == "sender":
                    user = bytes(enc[1][1]["name"]).decode("latin-1")
                    password = bytes(enc[1][1]["password"]).decode("latin-1")
            return AssociationRequest(user, password, v["applicationContextName"])
        if alt == "aare":
            src, diag = v["resultSourceDiagnostic"]
            stamp = version = None
            auth = v.get("respondingAuthenticationValue")
            if auth and auth[0] == "external":
                enc = auth[1]["encoding"]
                if enc[0] == "singleASN1Type" and enc[1][0] == "receiver":
                    stamp = _bounded(bytes(enc[1][1]["apsStamp"]), "aps-stamp")
                    version = _bounded(bytes(enc[1][1]["systemVersion"]), "system version")
            csta_version = None
            for info in v.get("userInformation") or ():
                enc = info["encoding"]
                if enc[0] == "singleASN1Type":
                    bits = enc[1][1]["cSTAVersion"]
                    csta_version = (bytes(bits[0]), bits[1])
            return AssociationResponse(
                v["result"], diag, src, v["applicationContextName"], stamp, version, csta_version
            )
        if alt == "rlrq":
            return ReleaseRequest(v.get("reason"))
        if alt == "rlre":
            return ReleaseResponse(v.get("reason"))
        return Abort(v["abortSource"], v.get("abortDiagnostic"))
    if first not in _ROSE_TAGS:
        raise DecodeError(f"unknown APDU tag 0x{first:02x}", 0)
    if first == 0xA1:
        # The shortcut for the bulk of the traffic; anything it does not fit takes the
        # general path below, which also produces the precise error for bad input.
        parts = _event_report_parts(data)
        if parts is not None:
            invoke_id, cross_ref, inner = parts
            try:
                alt, value = s.decode("DecodeOrderedCallControlEvents", inner)
            except Exception:  # noqa: BLE001, S110 - the general path below gives the error
                pass
            else:
                return EventReport(invoke_id, _call_event(cross_ref, alt, value))
    alt, v = s.decode("ROSEapdu", data)
    iid = v["invokeId"]
    _rose_int(iid[1] if alt == "reject" else iid, "invoke id")
    for key in ("opcode", "linkedId", "errcode"):
        if key in v:
            _rose_int(v[key], key)
    if alt == "returnResult" and v.get("result") is not None:
        _rose_int(v["result"]["opcode"], "opcode")
    if alt == "invoke":
        op = v["opcode"]
        raw = v.get("argument")
        if op == operations.EVENT_REPORT:
            if raw is None:
                raise DecodeError("event report without an argument")
            arg = s.decode("CSTAEventReportArgument", raw)
            category, inner = arg["eventSpecificInfo"]
            event = event_from_asn1(bytes(arg["crossRefIdentifier"]), category, inner)
            return EventReport(v["invokeId"], event)
        argument = None
        if raw is not None:
            opdef = operations.BY_CODE.get(op)
            argument = s.decode(opdef.argument, raw) if opdef and opdef.argument else bytes(raw)
            _check_strings(argument)
        return Invoke(v["invokeId"], op, argument, v.get("linkedId"))
    if alt == "returnResult":
        res = v.get("result")
        if res is None:
            return ReturnResult(v["invokeId"])
        op = res["opcode"]
        opdef = operations.BY_CODE.get(op)
        raw = res["result"]
        result = s.decode(opdef.result, raw) if opdef and opdef.result else bytes(raw)
        _check_strings(result)
        return ReturnResult(v["invokeId"], op, result)
    if alt == "returnError":
        failure = None
        raw = v.get("parameter")
        if raw is not None and v["errcode"] == operations.UNIVERSAL_FAILURE:
            group, value = s.decode("UniversalFailure", raw)
            failure = UniversalFailure(_snake(group), value)
        return ReturnError(v["invokeId"], v["errcode"], failure)
    iid = v["invokeId"]
    problem_kind, problem = v["problem"]
    return Reject(iid[1] if iid[0] == "present" else None, problem_kind, problem)


def _snake(name: str) -> str:
    cached = _SNAKE_FIELDS.get(name)
    if cached is None:
        cached = "".join("_" + c.lower() if c.isupper() else c for c in name)
        _SNAKE_FIELDS[name] = cached
    return cached


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def encode_apdu(apdu: Apdu, tag_form: str = "hipath") -> bytes:
    """Encode one APDU (without the frame header), each tagged field in `tag_form`
    (TAG_FORMS: "hipath", the declared form, or "alternate", the other one)."""
    s = spec_for(tag_form)
    value: dict[str, Any]
    try:
        if isinstance(apdu, AssociationRequest):
            value = {
                "applicationContextName": apdu.application_context,
                "senderAcseRequirements": (b"\x80", 2),
                "callingAuthenticationValue": (
                    "external",
                    {
                        "encoding": (
                            "singleASN1Type",
                            (
                                "sender",
                                {
                                    "name": apdu.user.encode("latin-1"),
                                    "password": apdu.password.encode("latin-1"),
                                },
                            ),
                        )
                    },
                ),
                "userInformation": [
                    {
                        "encoding": (
                            "singleASN1Type",
                            ("newDefinition", {"cSTAVersion": CSTA_VERSION_FOUR}),
                        )
                    }
                ],
            }
            return s.encode("ACSEapdu", ("aarq", value))
        if isinstance(apdu, AssociationResponse):
            value = {
                "applicationContextName": apdu.application_context,
                "result": apdu.result,
                "resultSourceDiagnostic": (
                    apdu.diagnostic_source,
                    apdu.diagnostic if apdu.diagnostic is not None else 0,
                ),
            }
            if apdu.aps_stamp is not None or apdu.system_version is not None:
                # As a HiPath answers (protocol facts §2): authentication required, and the
                # receiver's aps-stamp and system version.
                value["responderAcseRequirements"] = (b"\x80", 2)
                value["respondingAuthenticationValue"] = (
                    "external",
                    {
                        "encoding": (
                            "singleASN1Type",
                            (
                                "receiver",
                                {
                                    "apsStamp": apdu.aps_stamp or b"",
                                    "systemVersion": apdu.system_version or b"",
                                },
                            ),
                        )
                    },
                )
            if apdu.csta_version is not None:
                value["userInformation"] = [
                    {
                        "encoding": (
                            "singleASN1Type",
                            ("newDefinition", {"cSTAVersion": apdu.csta_version}),
                        )
                    }
                ]
            return s.encode("ACSEapdu", ("aare", value))
        if isinstance(apdu, (ReleaseRequest, ReleaseResponse)):
            value = {} if apdu.reason is None else {"reason": apdu.reason}
            return s.encode("ACSEapdu", (apdu.kind, value))
        if isinstance(apdu, Abort):
            value = {"abortSource": apdu.source}
            if apdu.diagnostic is not None:
                value["abortDiagnostic"] = apdu.diagnostic
            return s.encode("ACSEapdu", ("abrt", value))
        if isinstance(apdu, EventReport):
            arg = s.encode("CSTAEventReportArgument", event_to_asn1(apdu.event, tag_form))
            return s.encode(
                "ROSEapdu",
                (
                    "invoke",
                    {
                        "invokeId": apdu.invoke_id,
                        "opcode": operations.EVENT_REPORT,
                        "argument": arg,
                    },
                ),
            )
        if isinstance(apdu, Invoke):
            value = {"invokeId": apdu.invoke_id, "opcode": apdu.operation}
            if apdu.linked_id is not None:
                value["linkedId"] = apdu.linked_id
            if apdu.argument is not None:
                value["argument"] = _encode_by_op(s, apdu.operation, apdu.argument, "argument")
            return s.encode("ROSEapdu", ("invoke", value))
        if isinstance(apdu, ReturnResult):
            value = {"invokeId": apdu.invoke_id}
            if apdu.operation is not None:
                result = apdu.result if apdu.result is not None else ("noData", None)
                value["result"] = {
                    "opcode": apdu.operation,
                    "result": _encode_by_op(s, apdu.operation, result, "result"),
                }
            return s.encode("ROSEapdu", ("returnResult", value))
        if isinstance(apdu, ReturnError):
            value = {"invokeId": apdu.invoke_id, "errcode": apdu.error_code}
            if apdu.failure is not None:
                group = _camel(apdu.failure.group)
                param = (group, None) if group == "unspecified" else (group, apdu.failure.value)
                value["parameter"] = s.encode("UniversalFailure", param)
            return s.encode("ROSEapdu", ("returnError", value))
        if isinstance(apdu, Reject):
            iid = ("absent", None) if apdu.invoke_id is None else ("present", apdu.invoke_id)
            return s.encode(
                "ROSEapdu",
                ("reject", {"invokeId": iid, "problem": (apdu.problem_kind, apdu.problem)}),
            )
    except EncodeError:
        raise
    except Exception as exc:
        raise EncodeError(f"cannot encode {type(apdu).__name__}: {exc}") from exc
    raise EncodeError(f"not an APDU: {apdu!r}")


def _encode_by_op(s: Any, op: int, value: Any, part: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    opdef = operations.BY_CODE.get(op)
    type_name = getattr(opdef, part, None) if opdef else None
    if type_name is None:
        raise EncodeError(f"no ASN.1 type known for the {part} of operation {op}")
    return s.encode(type_name, value)


# Builders for the arguments the client sends --------------------------------------------------


def monitor_start_argument(device: DeviceId | str) -> dict[str, Any]:
    return {
        "monitorObject": ("deviceObject", device_to_asn1(device)),
        "requestedMonitorFilter": dict(ALL_EVENTS_FILTER),
    }


def monitor_stop_argument(cross_ref: bytes) -> dict[str, Any]:
    return {"crossRefIdentifier": cross_ref}
