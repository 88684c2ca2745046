"""The phonebook: contacts read from CSV and vCard files, looked up by caller number.

Owns reading those files (tolerantly: a bad file or line becomes a message in `Phonebook.errors`,
never an exception), the index from normalised number key to contact, the small result cache, and
reloading files that changed on disk.  Number formats are `calls.numbers`' business.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import quopri
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cstapopup.calls.numbers import (
    INTERNAL_KEY_PREFIX,
    RAW_KEY_PREFIX,
    NumberingPlan,
    iter_lookup_keys,
)

__all__ = ["Contact", "Match", "Phonebook", "read_contacts"]

log = logging.getLogger(__name__)

# A phonebook of a few hundred thousand entries is a few tens of MB; anything far beyond that is
# a wrong path (a disk image, a database), and reading it would stall the app.
MAX_FILE_BYTES = 64 * 1024 * 1024

# Per-line problems are useful for the first few lines; a thousand of them helps nobody.
MAX_MESSAGES_PER_FILE = 20

_VCARD_SUFFIXES = {".vcf", ".vcard"}


@dataclass(frozen=True)
class Contact:
    """One phonebook entry.  `name` is the person and may be empty when only a company is known."""

    name: str
    company: str
    numbers: tuple[str, ...]     # as written in the file
    source: str                  # the file it came from

    @property
    def label(self) -> str:
        """What to call the contact in one line: the person, else the company."""
        return self.name or self.company


@dataclass(frozen=True)
class Match:
    """A lookup result: which contact, by which of its numbers, and why it matched."""

    contact: Contact
    number: str                  # the contact's number as written in the phonebook
    key: str                     # the normalised key both sides share
    source: str

    @property
    def reason(self) -> str:
        if self.key.startswith(INTERNAL_KEY_PREFIX):
            what = f"extension {self.key[len(INTERNAL_KEY_PREFIX):]}"
        elif self.key.startswith(RAW_KEY_PREFIX):
            what = f"digits {self.key[len(RAW_KEY_PREFIX):]}"
        else:
            what = self.key
        return f"matched {what} (from {self.number} in {Path(self.source).name})"


# --------------------------------------------------------------------------------------------
# Reading files


class _Messages:
    """Collects one file's problems, capped so a broken 50,000-line file stays readable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []
        self.dropped = 0

    def add(self, line: int | None, text: str) -> None:
        if len(self.items) >= MAX_MESSAGES_PER_FILE:
            self.dropped += 1
            return
        where = f"{self.path}" if line is None else f"{self.path}, line {line}"
        self.items.append(f"{where}: {text}")

    def result(self) -> list[str]:
        if self.dropped:
            return [*self.items, f"{self.path}: {self.dropped} more problems not listed"]
        return list(self.items)


def _decode(data: bytes) -> str:
    """Text of a phonebook file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows ANSI."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Outlook's "Unicode" CSV export.
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Excel's "CSV" on German Windows is cp1252: latin-1 plus the euro sign and typographic
        # quotes in 0x80-0x9f, which latin-1 would turn into control characters.
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")   # cannot fail: every byte is a character


def _split_cell_numbers(cell: str) -> list[str]:
    # Several numbers in one cell are separated by newlines, semicolons, commas or bars; never by
    # "/" or spaces, which are separators *inside* German numbers ("089 / 123 45").
    return [part.strip() for part in re.split(r"[\n\r;,|]+", cell) if part.strip()]


# ---- CSV

def _header_token(header: str) -> str:
    return re.sub(r"[\s_\-.:/()]+", "", header.strip().lower())


_NAME_HEADERS = {"name", "displayname", "fullname", "anzeigename", "contact", "contactname",
                 "kontakt", "kontaktname"}
_FIRST_HEADERS = {"firstname", "givenname", "first", "vorname"}
_LAST_HEADERS = {"lastname", "surname", "familyname", "last", "nachname", "familienname"}
_COMPANY_HEADERS = {"company", "companyname", "organisation", "organization", "org",
                    "organisationname", "organizationname", "firma", "firmenname", "unternehmen"}
_PHONE_WORDS = ("phone", "tel", "mobile", "number", "fax", "nummer", "telefon", "handy")
# Columns that carry a phone word but hold other numbers; indexing a customer number would make
# extension 1234 pop up as a customer.
_NOT_PHONE_WORDS = ("customer", "kunden", "account", "konto", "hausnummer", "housenumber",
                    "street", "strasse", "straße", "postal", "postleit", "zip", "order",
                    "auftrag", "invoice", "rechnung", "steuer", "tax", "vat", "ustid", "serial",
                    "member", "mitglied", "iban", "personalnummer", "artikel", "article", "ticket",
                    "hotel", "stelle")


@dataclass
class _Columns:
    name: int | None = None
    first: int | None = None
    last: int | None = None
    company: int | None = None
    phones: list[int] = field(default_factory=list)


def _is_phone_header(token: str) -> bool:
    return any(w in token for w in _PHONE_WORDS) and not any(w in token for w in _NOT_PHONE_WORDS)


def _map_columns(header: list[str]) -> _Columns:
    cols = _Columns()
    for i, raw in enumerate(header):
        token = _header_token(raw)
        if not token:
            continue
        # First column of each kind wins: exports repeat headers ("Name" for a second person).
        if token in _NAME_HEADERS:
            cols.name = i if cols.name is None else cols.name
        elif token in _FIRST_HEADERS:
            cols.first = i if cols.first is None else cols.first
        elif token in _LAST_HEADERS:
            cols.last = i if cols.last is None else cols.last
        elif token in _COMPANY_HEADERS:
            cols.company = i if cols.company is None else cols.company
        elif _is_phone_header(token):
            cols.phones.append(i)
    return cols


def _sniff_delimiter(text: str) -> str:
    """`;` (German Excel), `,` or tab, whichever the header line uses most; `,` if none."""
    first = next((line for line in io.StringIO(text) if line.strip()), "")
    # Quoted header cells may contain any of the candidates; count only outside quotes.
    unquoted = re.sub(r'"[^"]*"', "", first)
    counts = {d: unquoted.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


def _read_csv(text: str, path: Path, messages: _Messages) -> list[tuple[int, Contact]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    source = str(path)
    contacts: list[tuple[int, Contact]] = []
    cols: _Columns | None = None
    last_error_line = -1
    line = 0
    odd_quotes = text.count('"') % 2 == 1
    while True:
        previous_end = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if reader.line_num == last_error_line:
                break   # the reader cannot get past this point; stop rather than spin
            last_error_line = reader.line_num
            messages.add(reader.line_num, f"unreadable CSV ({exc}); line skipped")
            continue
        line = previous_end + 1     # where the record starts (quoted cells may span lines)
        if (odd_quotes and reader.line_num > line
                and reader.line_num == len(io.StringIO(text, newline="").readlines())):
            # An unbalanced quote makes the csv module swallow everything after it into one
            # cell; without this message the rest of the file would vanish silently.
            messages.add(line, f"a quote opened in this entry is never closed, so lines {line}"
                               f"-{reader.line_num} were read as one entry")
        if not any(cell.strip() for cell in row):
            continue
        if cols is None:
            cols = _map_columns(row)
            if not cols.phones:
                messages.add(line, "no phone column found in the header row "
                                   f"(columns: {', '.join(c.strip() for c in row)})")
                return []
            if (cols.name, cols.first, cols.last, cols.company) == (None, None, None, None):
                messages.add(line, "no name or company column found in the header row")
                return []
            continue
        name = _cell(row, cols.name) or " ".join(
            part for part in (_cell(row, cols.first), _cell(row, cols.last)) if part)
        company = _cell(row, cols.company)
        numbers: list[str] = []
        for i in cols.phones:
            for number in _split_cell_numbers(_cell(row, i)):
                if number not in numbers:
                    numbers.append(number)
        if not numbers:
            continue    # a contact without phone numbers (e-mail only) is of no use here
        if not name and not company:
            messages.add(line, "entry has numbers but neither a name nor a company; skipped")
            continue
        contacts.append((line, Contact(name, company, tuple(numbers), source)))
    if cols is None:
        messages.add(None, "the file is empty (no header row)")
    return contacts


# ---- vCard

def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split at `sep` outside double quotes (vCard parameter values may quote ':' and ';')."""
    parts, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split_components(value: str) -> list[str]:
    """Split a structured value (N, ORG) at unescaped ';' and unescape each part."""
    return [_unescape(part) for part in re.split(r"(?<!\\);", value)]


def _vcard_lines(text: str) -> Iterable[tuple[int, str]]:
    """Logical vCard lines with the number of the physical line each starts on.

    Unfolds RFC 6350 continuation lines (leading space or tab) and vCard 2.1 quoted-printable
    soft line breaks (a trailing '='), which Android and older Outlook exports still write.
    """
    current: str | None = None
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if current is not None and line[:1] in (" ", "\t"):
            current += line[1:]
            continue
        if current is not None and current.endswith("=") and _is_quoted_printable(current):
            current = current[:-1] + line
            continue
        if current is not None:
            yield start, current
        current, start = line, number
    if current is not None:
        yield start, current


def _is_quoted_printable(line: str) -> bool:
    head = _split_unquoted(line, ":")[0].upper()
    return "QUOTED-PRINTABLE" in head


@dataclass
class _CardDraft:
    line: int
    fn: str = ""
    n: str = ""
    org: str = ""
    tels: list[str] = field(default_factory=list)


def _property_value(params: list[str], value: str) -> str:
    upper = [p.upper() for p in params]
    if any("QUOTED-PRINTABLE" in p for p in upper):
        charset = next((p.split("=", 1)[1].strip('"') for p in params
                        if p.upper().startswith("CHARSET=")), "utf-8")
        raw = quopri.decodestring(value.encode("latin-1", errors="replace"))
        try:
            return raw.decode(charset, errors="replace")
        except LookupError:     # an unknown charset name in the file
            return raw.decode("utf-8", errors="replace")
    return value


def _finish_card(card: _CardDraft, source: str, messages: _Messages) -> Contact | None:
    name = card.fn
    if not name and card.n:
        parts = _split_components(card.n) + [""] * 5
        family, given, additional = parts[0], parts[1], parts[2]
        name = " ".join(p.strip() for p in (given, additional, family) if p.strip())
    company = _split_components(card.org)[0].strip() if card.org else ""
    if not card.tels:
        return None
    if not name and not company:
        messages.add(card.line, "card has numbers but neither FN, N nor ORG; skipped")
        return None
    return Contact(name, company, tuple(card.tels), source)


def _read_vcard(text: str, path: Path, messages: _Messages) -> list[tuple[int, Contact]]:
    source = str(path)
    contacts: list[tuple[int, Contact]] = []
    card: _CardDraft | None = None
    cards_seen = 0
    for line, logical in _vcard_lines(text):
        if not logical.strip():
            continue
        # Only parameter values may be quoted; without quotes the first ':' ends the head.
        if '"' in logical:
            head, sep, value = _partition_unquoted(logical)
        else:
            head, sep, value = logical.partition(":")
        if not sep:
            if card is not None:
                messages.add(line, f"not a vCard property line: {logical[:40]!r}")
            continue
        params = _split_unquoted(head, ";")
        prop = params[0].strip().upper().rsplit(".", 1)[-1]    # drop Apple's "item1." groups
        params = params[1:]
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            if card is not None:
                messages.add(card.line,
                             "card has no END:VCARD before the next BEGIN:VCARD; read anyway")
                contact = _finish_card(card, source, messages)
                if contact:
                    contacts.append((card.line, contact))
            card = _CardDraft(line)
            cards_seen += 1
        elif prop == "END" and value.strip().upper() == "VCARD":
            if card is None:
                messages.add(line, "END:VCARD without BEGIN:VCARD")
                continue
            contact = _finish_card(card, source, messages)
            if contact:
                contacts.append((card.line, contact))
            card = None
        elif card is None:
            continue
        elif prop == "FN":
            card.fn = _unescape(_property_value(params, value)).strip()
        elif prop == "N":
            card.n = _property_value(params, value)
        elif prop == "ORG":
            card.org = _property_value(params, value)
        elif prop == "TEL":
            number = _unescape(_property_value(params, value)).strip()
            if number.lower().startswith("tel:"):
                number = number[4:].split(";", 1)[0]
            if number and number not in card.tels:
                card.tels.append(number)
    if card is not None:
        messages.add(card.line, "card has no END:VCARD at the end of the file; read anyway")
        contact = _finish_card(card, source, messages)
        if contact:
            contacts.append((card.line, contact))
    if cards_seen == 0:
        messages.add(None, "no vCard found (no BEGIN:VCARD line)")
    return contacts


def _partition_unquoted(line: str) -> tuple[str, str, str]:
    parts = _split_unquoted(line, ":")
    if len(parts) == 1:
        return line, "", ""
    return parts[0], ":", line[len(parts[0]) + 1:]


# ---- files

def _is_vcard(path: Path, text: str) -> bool:
    if path.suffix.lower() in _VCARD_SUFFIXES:
        return True
    if path.suffix.lower() in {".csv", ".txt", ".tsv"}:
        return False
    return text.lstrip()[:11].upper() == "BEGIN:VCARD"


_Signature = tuple[int, int, int]


def _signature(path: Path) -> _Signature | None:
    try:
        st = path.stat()
    except OSError:
        return None
    # Size and inode catch saves within the mtime granularity and atomic replace-by-rename.
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_file(path: Path, messages: _Messages) -> list[tuple[int, Contact]]:
    """Contacts of one file with the line each starts on; problems go to `messages`.

    Never raises.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            messages.add(None, f"file is too large for a phonebook ({size} bytes); skipped")
            return []
        data = path.read_bytes()
    except FileNotFoundError:
        messages.add(None, "file not found")
        return []
    except OSError as exc:
        messages.add(None, f"cannot read the file ({exc.strerror or exc})")
        return []
    text = _decode(data)
    if "\x00" in text[:4096]:
        # Text exports have no NUL bytes; a spreadsheet, image or database near the start does.
        messages.add(None, "binary file, not a CSV or vCard phonebook; skipped")
        return []
    text = text.replace("\x00", "")    # a stray NUL further down is damage, not content
    try:
        if _is_vcard(path, text):
            return _read_vcard(text, path, messages)
        return _read_csv(text, path, messages)
    except Exception as exc:   # a reader bug must not take the popup down with it
        log.exception("reading phonebook %s failed", path)
        messages.add(None, f"cannot parse the file ({type(exc).__name__}: {exc}); skipped")
        return []


def read_contacts(path: Path | str) -> tuple[list[Contact], list[str]]:
    """All contacts of one CSV or vCard file, and the problems found.  Never raises.

    Also what the simulator can use to pick demo callers.
    """
    messages = _Messages(Path(path))
    contacts = _read_file(Path(path), messages)
    return [contact for _, contact in contacts], messages.result()


# --------------------------------------------------------------------------------------------
# The phonebook


@dataclass(frozen=True)
class _Entry:
    """One number of one contact, normalised, with where it was written."""

    contact: Contact
    number: str
    key: str
    line: int


_UNSETTLED = (-1, -1, -1)   # the file changed while it was read: read it again on the next check


@dataclass
class _LoadedFile:
    signature: _Signature | None
    entries: list[_Entry]
    contacts: int
    errors: list[str]


class Phonebook:
    """Contacts from several files, looked up by caller number.

    Files are read in order and the first file wins a number two contacts share (noted in
    `conflicts`).  Problems are listed in `errors`; nothing here raises for a bad file.

    Lookups belong to one thread (the app's event loop).  Reading a large file takes a while
    (about 3 s for 50,000 contacts, see benchmarks/phonebook.py), so construction and
    `reload_if_changed` may run in one worker thread instead: a reload builds a new index and
    swaps it in whole, so lookups running meanwhile see the old index or the new one.
    """

    def __init__(
        self,
        paths: Iterable[Path | str],
        plan: NumberingPlan,
        *,
        cache_size: int = 256,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths: list[Path] = list(dict.fromkeys(Path(p) for p in paths))
        self.plan = plan
        self.errors: list[str] = []
        self.conflicts: list[str] = []
        self._cache_size = cache_size
        self._check_interval = check_interval
        self._clock = clock
        self._files: dict[Path, _LoadedFile] = {}
        self._index: dict[str, Match] = {}
        self._cache: OrderedDict[tuple[str, bool], Match | None] = OrderedDict()
        self._last_check = clock()
        for path in self.paths:
            self._files[path] = self._load(path)
        self._rebuild()

    # ---- queries

    def lookup(self, raw: str, from_pbx: bool = True) -> Match | None:
        """The contact with number `raw`, or None.  `from_pbx` as in `numbers.normalise`."""
        if not isinstance(raw, str):
            return None
        cache_key = (raw, from_pbx)
        cache = self._cache
        if cache_key in cache:
            cache.move_to_end(cache_key)
            return cache[cache_key]
        match = None
        index = self._index
        # Keys come lazily, best first: a hit on the usual reading parses the number once.
        for key in iter_lookup_keys(raw, self.plan, from_pbx):
            match = index.get(key)
            if match is not None:
                break
        cache[cache_key] = match
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return match

    @property
    def contact_count(self) -> int:
        return sum(f.contacts for f in self._files.values())

    @property
    def number_count(self) -> int:
        """Distinct number keys in the index."""
        return len(self._index)

    # ---- reloading

    def reload_if_changed(self) -> bool:
        """Re-read files whose mtime, size or inode changed; True if anything was reloaded.

        Cheap enough to call before every lookup: it looks at the disk at most once per
        `check_interval` seconds (one stat per file) and reads only the files that changed.
        """
        now = self._clock()
        if now - self._last_check < self._check_interval:
            return False
        self._last_check = now
        changed = False
        for path in self.paths:
            loaded = self._files.get(path)
            if loaded is None or loaded.signature != _signature(path):
                self._files[path] = self._load(path)
                changed = True
        if changed:
            self._rebuild()
        return changed

    def reload(self) -> None:
        """Re-read every file now, whether it changed or not."""
        for path in self.paths:
            self._files[path] = self._load(path)
        self._rebuild()

    # ---- internals

    def _load(self, path: Path) -> _LoadedFile:
        before = _signature(path)
        messages = _Messages(path)
        contacts = _read_file(path, messages)
        after = _signature(path)
        # Signature taken on both sides of the read: a file saved while we read it is half old,
        # half new, so make the next check read it again.
        signature = before if before == after else _UNSETTLED
        entries: list[_Entry] = []
        for line, contact in contacts:
            for number in contact.numbers:
                key = next(iter_lookup_keys(number, self.plan, from_pbx=False), None)
                if key is None:
                    messages.add(line, f"cannot read {number!r} as a phone number "
                                       f"({contact.label})")
                    continue
                entries.append(_Entry(contact, number, key, line))
        errors = messages.result()
        log.info("phonebook %s: %d contacts, %d numbers, %d problems",
                 path, len(contacts), len(entries), len(errors))
        return _LoadedFile(signature, entries, len(contacts), errors)

    def _rebuild(self) -> None:
        index: dict[str, Match] = {}
        lines: dict[str, tuple[Path, int]] = {}
        errors: list[str] = []
        conflicts: list[str] = []
        for path in self.paths:
            loaded = self._files[path]
            errors.extend(loaded.errors)
            for entry in loaded.entries:
                first = index.get(entry.key)
                if first is None:
                    index[entry.key] = Match(entry.contact, entry.number, entry.key,
                                             entry.contact.source)
                    lines[entry.key] = (path, entry.line)
                elif first.contact != entry.contact:
                    first_path, first_line = lines[entry.key]
                    conflicts.append(
                        f"{path}, line {entry.line}: {entry.number} of {entry.contact.label!r} "
                        f"is also the number of {first.contact.label!r} "
                        f"({first_path.name}, line {first_line}); showing {first.contact.label!r}")
        # Swap whole objects so a lookup never sees a half-built index.
        self._index = index
        self.errors = errors
        self.conflicts = conflicts
        self._cache = OrderedDict()
