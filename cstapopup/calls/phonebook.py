"""The phonebook: contacts read from CSV and vCard files, looked up by caller number, and
found by name (`find`: the phone note's "for whom").

Owns reading those files (only regular files, within a size limit, streamed line by line, and
tolerantly: a bad file or line becomes a message, never an exception), the index from
normalised number key to contact, the small result cache, and noticing files that changed.
Number formats are `calls.numbers`' business.

Two ways to hold a phone book:

* `PhonebookService` for the app and `monitor --record`: files are read and re-read in a worker
  thread, off the start path and off the event path; a finished index is swapped in on the event
  loop's thread; lookups never wait for a load.
* `Phonebook`, the same reading and lookups done synchronously, for tools and tests.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import logging
import os
import quopri
import re
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cstapopup.calls.numbers import (
    INTERNAL_KEY_PREFIX,
    RAW_KEY_PREFIX,
    NumberingPlan,
    iter_lookup_keys,
)
from cstapopup.i18n import QT_TRANSLATE_NOOP, decimal, translate
from cstapopup.i18n import number as format_number

__all__ = [
    "CHECK_INTERVAL",
    "FIND_LIMIT",
    "MAX_FILE_BYTES",
    "Contact",
    "FileStatus",
    "Match",
    "Phonebook",
    "PhonebookService",
    "PhonebookStatus",
    "read_contacts",
    "start_phonebook",
]

log = logging.getLogger(__name__)

#: The largest phone-book file read, in bytes (64 MiB).  An Outlook-style export with twenty
#: columns takes about 650 bytes a contact (benchmarks/phonebook.py), so this is room for some
#: 100,000 contacts; a bigger file is more likely a wrong path (a disk image, a database, a log),
#: and every entry read costs memory (about 0.5 KB a number).  `max_file_bytes` changes it.
MAX_FILE_BYTES = 64 * 1024 * 1024

#: How often `start_phonebook` has the files' mtime, size and inode looked at, in seconds.
CHECK_INTERVAL = 2.0

# Per-line problems are useful for the first few lines; a thousand of them helps nobody.
MAX_MESSAGES_PER_FILE = 20

_VCARD_SUFFIXES = {".vcf", ".vcard"}

# Bytes read at a time: big enough that reading costs little per byte, small enough that closing
# the phone book stops a read quickly and that memory does not follow the file's size.
_CHUNK = 1 << 16
# The start of the file that decides between CSV and vCard and spots binary files.
_HEAD_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class Contact:
    """One phonebook entry.  `name` is the person and may be empty when only a company is known.
    `emails`: its e-mail addresses, the preferred one first (vCard EMAIL, a CSV e-mail column)."""

    name: str
    company: str
    numbers: tuple[str, ...]  # as written in the file
    source: str  # the file it came from
    emails: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        """The address to write to ("" when none is known)."""
        return self.emails[0] if self.emails else ""

    @property
    def label(self) -> str:
        """What to call the contact in one line: the person, else the company."""
        return self.name or self.company


@dataclass(frozen=True, slots=True)
class Match:
    """A lookup result: which contact, by which of its numbers, and why it matched."""

    contact: Contact
    number: str  # the contact's number as written in the phonebook
    key: str  # the normalised key both sides share
    source: str

    @property
    def reason(self) -> str:
        if self.key.startswith(INTERNAL_KEY_PREFIX):
            what = f"extension {self.key[len(INTERNAL_KEY_PREFIX) :]}"
        elif self.key.startswith(RAW_KEY_PREFIX):
            what = f"digits {self.key[len(RAW_KEY_PREFIX) :]}"
        else:
            what = self.key
        return f"matched {what} (from {self.number} in {Path(self.source).name})"


@dataclass(frozen=True)
class FileStatus:
    """What became of one phone-book file at its last reading."""

    path: Path
    error: str | None  # why none of the file is used (missing, too large, ...), or None
    contacts: int
    numbers: int  # numbers indexed from this file
    problems: tuple[str, ...]  # every message about the file, `error` included


@dataclass(frozen=True)
class PhonebookStatus:
    """The state of a phone book, for the UI to show."""

    ready: bool  # read once: a miss is a real miss, not "still loading"
    busy: bool  # a load, a check for changes or a reload is running
    files: tuple[FileStatus, ...]
    contacts: int
    numbers: int  # distinct number keys in the index
    conflicts: tuple[str, ...]

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(p for f in self.files for p in f.problems)


# --------------------------------------------------------------------------------------------
# Reading files


class _Cancelled(Exception):
    """The phone book was closed while one of its files was being read."""


class _TooLarge(Exception):
    """The file grew past the size limit while it was being read."""


class _Messages:
    """Collects one file's problems, capped so a broken 50,000-line file stays readable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []
        self.dropped = 0
        self.error: str | None = None

    def _where(self, line: int | None) -> str:
        if line is None:
            return f"{self.path}"
        return translate("Phonebook", "{file}, line {line}").format(file=self.path, line=line)

    def add(self, line: int | None, text: str) -> None:
        if len(self.items) >= MAX_MESSAGES_PER_FILE:
            self.dropped += 1
            return
        self.items.append(f"{self._where(line)}: {text}")

    def fail(self, line: int | None, text: str) -> None:
        """A problem that keeps the file from being used; never dropped by the cap."""
        message = f"{self._where(line)}: {text}"
        if self.error is None:
            self.error = message
        self.items.append(message)

    def result(self) -> list[str]:
        if self.dropped:
            return [
                *self.items,
                translate("Phonebook", "{file}: {count} more problems not listed").format(
                    file=self.path, count=format_number(self.dropped)
                ),
            ]
        return list(self.items)


def _size(n: int) -> str:
    if n < 1024 * 1024:
        return translate("Phonebook", "{bytes} bytes").format(bytes=format_number(n))
    mb = n / (1024 * 1024)
    return translate("Phonebook", "{megabytes} MB ({bytes} bytes)").format(
        megabytes=decimal(mb, 0 if mb == int(mb) else 1), bytes=format_number(n)
    )


def _too_large(size: int | None, limit: int) -> str:
    if size is None:
        return translate(
            "Phonebook", "file grew past the phone-book limit of {limit}; not read"
        ).format(limit=_size(limit))
    return translate(
        "Phonebook", "file is {size}, more than the phone-book limit of {limit}; not read"
    ).format(size=_size(size), limit=_size(limit))


_KINDS = (
    (stat.S_ISDIR, QT_TRANSLATE_NOOP("Phonebook", "a directory")),
    (stat.S_ISFIFO, QT_TRANSLATE_NOOP("Phonebook", "a named pipe (FIFO)")),
    (stat.S_ISCHR, QT_TRANSLATE_NOOP("Phonebook", "a character device")),
    (stat.S_ISBLK, QT_TRANSLATE_NOOP("Phonebook", "a block device")),
    (stat.S_ISSOCK, QT_TRANSLATE_NOOP("Phonebook", "a socket")),
)

# O_NONBLOCK: should the path become a FIFO between the stat and the open, opening it for
# reading must not wait for a writer that never comes (the fstat after it refuses the FIFO).
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


_stat = os.stat  # the look before opening (a test stands in the race with the open)


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = next(
        (name for test, name in _KINDS if test(mode)),
        QT_TRANSLATE_NOOP("Phonebook", "a special file"),
    )
    return translate(
        "Phonebook",
        "cannot read it: it is {kind}, not a regular file (a phone "
        "book must be a CSV or vCard file)",
    ).format(kind=translate("Phonebook", kind))


def _open_regular(path: Path, limit: int, messages: _Messages) -> io.FileIO | None:
    """The file opened for reading if it is a regular file within `limit` bytes, else None with
    the reason in `messages`.  Never opens a FIFO or device in a way that blocks or streams."""
    try:
        st = _stat(path)
    except FileNotFoundError:
        messages.fail(None, translate("Phonebook", "file not found"))
        return None
    except OSError as exc:
        messages.fail(
            None,
            translate("Phonebook", "cannot read the file ({problem})").format(
                problem=exc.strerror or exc
            ),
        )
        return None
    reason = _not_regular(st.st_mode)
    if reason is None and st.st_size > limit:
        reason = _too_large(st.st_size, limit)
    if reason is not None:
        messages.fail(None, reason)
        return None
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        messages.fail(
            None,
            translate("Phonebook", "cannot read the file ({problem})").format(
                problem=exc.strerror or exc
            ),
        )
        return None
    raw = io.FileIO(fd, "rb", closefd=True)
    try:
        st = os.fstat(fd)
        reason = _not_regular(st.st_mode)
        if reason is None and st.st_size > limit:
            reason = _too_large(st.st_size, limit)
        if reason is None and hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
    except OSError as exc:
        reason = translate("Phonebook", "cannot read the file ({problem})").format(
            problem=exc.strerror or exc
        )
    if reason is not None:
        raw.close()
        messages.fail(None, reason)
        return None
    return raw


class _Limited(io.RawIOBase):
    """A file read within a byte budget, stoppable between chunks.  Leaves the file open."""

    def __init__(self, raw: io.FileIO, limit: int, stop: threading.Event | None) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._stop = stop
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]  # bytes-like, as read into
        if self._stop is not None and self._stop.is_set():
            raise _Cancelled
        n = self._raw.readinto(buffer) or 0
        self.count += n
        if self.count > self._limit:
            raise _TooLarge
        return n


_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def _detect_encoding(raw: io.FileIO, limit: int, stop: threading.Event | None) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows ANSI, else latin-1.

    Without a BOM the whole file decides (one UTF-8 error anywhere makes it ANSI), so the file
    is read once to decide, chunk by chunk, keeping nothing.
    """
    raw.seek(0)
    start = raw.read(3) or b""
    if start.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Outlook's "Unicode" CSV export
    raw.seek(0)
    reader = _Limited(raw, limit, stop)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    # Excel's "CSV" on German Windows is cp1252: latin-1 plus the euro sign and typographic
    # quotes in 0x80-0x9f.  Five bytes are undefined there; a file with them is latin-1.
    utf8_ok = cp1252_ok = True
    while utf8_ok or cp1252_ok:
        chunk = reader.read(1 << 20)
        if not chunk:
            if utf8_ok:
                try:
                    utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8_ok = False
            break
        if utf8_ok:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                utf8_ok = False
        if cp1252_ok and _CP1252_UNDEFINED.search(chunk):
            cp1252_ok = False
    return "utf-8" if utf8_ok else "cp1252" if cp1252_ok else "latin-1"


class _Lines:
    """The lines of a text stream with NULs dropped, one line read ahead so that the reader
    knows when the last line has been handed out; counts the quotes it hands out."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._lines = iter(stream)
        self._next = next(self._lines, None)
        self.quotes = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._next
        if line is None:
            raise StopIteration
        self._next = next(self._lines, None)
        if "\x00" in line:
            line = line.replace("\x00", "")  # a stray NUL far into the file is damage
        self.quotes += line.count('"')
        return line

    @property
    def at_end(self) -> bool:
        return self._next is None


def _split_cell_numbers(cell: str) -> list[str]:
    # Several numbers in one cell are separated by newlines, semicolons, commas or bars; never by
    # "/" or spaces, which are separators *inside* German numbers ("089 / 123 45").
    return [part.strip() for part in re.split(r"[\n\r;,|]+", cell) if part.strip()]


# ---- CSV


def _header_token(header: str) -> str:
    return re.sub(r"[\s_\-.:/()]+", "", header.strip().lower())


_NAME_HEADERS = {
    "name",
    "displayname",
    "fullname",
    "anzeigename",
    "contact",
    "contactname",
    "kontakt",
    "kontaktname",
}
_FIRST_HEADERS = {"firstname", "givenname", "first", "vorname"}
_LAST_HEADERS = {"lastname", "surname", "familyname", "last", "nachname", "familienname"}
_COMPANY_HEADERS = {
    "company",
    "companyname",
    "organisation",
    "organization",
    "org",
    "organisationname",
    "organizationname",
    "firma",
    "firmenname",
    "unternehmen",
}
_PHONE_WORDS = ("phone", "tel", "mobile", "number", "fax", "nummer", "telefon", "handy")
# E-mail columns: "E-Mail", "Email", "E-mail Address", "E-Mail-Adresse", "E-Mail 2: Adresse",
# "Primary Email", "E-mail 1 - Value" (Google), "Mail".  Not the ones that only describe an
# address ("E-mail Display Name", "E-Mail-Typ", "E-mail 1 - Type").
_MAIL_WORDS = ("mail",)
_NOT_MAIL_WORDS = ("display", "anzeige", "type", "typ", "name", "label")
# Columns that carry a phone word but hold other numbers; indexing a customer number would make
# extension 1234 pop up as a customer.
_NOT_PHONE_WORDS = (
    "customer",
    "kunden",
    "account",
    "konto",
    "hausnummer",
    "housenumber",
    "street",
    "strasse",
    "straße",
    "postal",
    "postleit",
    "zip",
    "order",
    "auftrag",
    "invoice",
    "rechnung",
    "steuer",
    "tax",
    "vat",
    "ustid",
    "serial",
    "member",
    "mitglied",
    "iban",
    "personalnummer",
    "artikel",
    "article",
    "ticket",
    "hotel",
    "stelle",
)


@dataclass
class _Columns:
    name: int | None = None
    first: int | None = None
    last: int | None = None
    company: int | None = None
    phones: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)


def _is_phone_header(token: str) -> bool:
    return any(w in token for w in _PHONE_WORDS) and not any(w in token for w in _NOT_PHONE_WORDS)


def _is_mail_header(token: str) -> bool:
    return any(w in token for w in _MAIL_WORDS) and not any(w in token for w in _NOT_MAIL_WORDS)


# An address as people write it: something@domain.tld, perhaps in "Name <...>" or "mailto:".
_ADDRESS = re.compile(r"[^\s<>\"(),;:@]+@[^\s<>\"(),;:@]+\.[^\s<>\"(),;:@]+")


def _addresses(cell: str) -> list[str]:
    """The e-mail addresses in a cell or a vCard value (several: split by ; , space or line);
    text that is no address (a note, "n/a") gives none."""
    return _ADDRESS.findall(cell.replace("mailto:", " ").replace("MAILTO:", " "))


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
        elif _is_mail_header(token):
            cols.emails.append(i)
        elif _is_phone_header(token):
            cols.phones.append(i)
    return cols


def _sniff_delimiter(head: str) -> str:
    """`;` (German Excel), `,` or tab, whichever the header line uses most; `,` if none."""
    first = next((line for line in io.StringIO(head) if line.strip()), "")
    # Quoted header cells may contain any of the candidates; count only outside quotes.
    unquoted = re.sub(r'"[^"]*"', "", first)
    counts = {d: unquoted.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


def _read_csv(
    lines: _Lines, head: str, path: Path, messages: _Messages
) -> Iterator[tuple[int, Contact]]:
    """The contacts of a CSV file, one row at a time, with the line each starts on."""
    reader = csv.reader(lines, delimiter=_sniff_delimiter(head))
    source = str(path)
    cols: _Columns | None = None
    last_error_line = -1
    line = 0
    while True:
        previous_end = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if reader.line_num == last_error_line:
                break  # the reader cannot get past this point; stop rather than spin
            last_error_line = reader.line_num
            messages.add(
                reader.line_num,
                translate("Phonebook", "unreadable CSV ({problem}); line skipped").format(
                    problem=exc
                ),
            )
            continue
        line = previous_end + 1  # where the record starts (quoted cells may span lines)
        if reader.line_num > line and lines.at_end and lines.quotes % 2 == 1:
            # An unbalanced quote makes the csv module swallow everything after it into one
            # cell; without this message the rest of the file would vanish silently.
            messages.add(
                line,
                translate(
                    "Phonebook",
                    "a quote opened in this entry is never closed, so lines "
                    "{first}-{last} were read as one entry",
                ).format(first=line, last=reader.line_num),
            )
        if not any(cell.strip() for cell in row):
            continue
        if cols is None:
            cols = _map_columns(row)
            if not cols.phones:
                messages.fail(
                    line,
                    translate(
                        "Phonebook", "no phone column found in the header row (columns: {columns})"
                    ).format(columns=", ".join(c.strip() for c in row)),
                )
                return
            if (cols.name, cols.first, cols.last, cols.company) == (None, None, None, None):
                messages.fail(
                    line,
                    translate("Phonebook", "no name or company column found in the header row"),
                )
                return
            continue
        name = _cell(row, cols.name) or " ".join(
            part for part in (_cell(row, cols.first), _cell(row, cols.last)) if part
        )
        company = _cell(row, cols.company)
        numbers: list[str] = []
        for i in cols.phones:
            for number in _split_cell_numbers(_cell(row, i)):
                if number not in numbers:
                    numbers.append(number)
        if not numbers:
            continue  # a contact without phone numbers (e-mail only) is of no use here
        if not name and not company:
            messages.add(
                line,
                translate(
                    "Phonebook", "entry has numbers but neither a name nor a company; skipped"
                ),
            )
            continue
        emails: list[str] = []
        for i in cols.emails:
            for address in _addresses(_cell(row, i)):
                if address not in emails:
                    emails.append(address)
        yield line, Contact(name, company, tuple(numbers), source, tuple(emails))
    if cols is None:
        messages.fail(None, translate("Phonebook", "the file is empty (no header row)"))


# ---- vCard


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split at `sep` outside double quotes (vCard parameter values may quote ':' and ';')."""
    if '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    current: list[str] = []
    quoted = False
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


def _partition_head(line: str) -> tuple[str, str, str]:
    """(head, ":", value) at the first ':' outside double quotes; (line, "", "") without one.

    Only parameter values in the head may be quoted, so the quick way is right whenever no quote
    comes before the first ':'.  Long values (a photo) are never walked character by character.
    """
    colon = line.find(":")
    if colon < 0:
        return line, "", ""
    if '"' not in line[:colon]:
        return line[:colon], ":", line[colon + 1 :]
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            return line[:i], ":", line[i + 1 :]
    return line, "", ""


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split_components(value: str) -> list[str]:
    """Split a structured value (N, ORG) at unescaped ';' and unescape each part."""
    return [_unescape(part) for part in re.split(r"(?<!\\);", value)]


# Where str.splitlines breaks lines.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _text_lines(text: io.TextIOBase, chunk: int = _CHUNK) -> Iterator[str]:
    """The lines of `text` as `str.splitlines` would give them for the whole text, without the
    whole text: split a chunk at a time (in C, not line by line in Python), NULs dropped."""
    carry = ""
    while True:
        block = text.read(chunk)
        if not block:
            break
        block = block.replace("\x00", "")  # a stray NUL far into the file is damage
        while block.endswith("\r"):
            more = text.read(1)  # a "\r\n" split between two chunks is one line break
            if not more:
                break
            block += more.replace("\x00", "")
        block = carry + block
        end = max(block.rfind(c) for c in _LINE_BREAKS)
        if end < 0:
            carry = block
            continue
        carry = block[end + 1 :]
        yield from block[: end + 1].splitlines()
    if carry:
        yield from carry.splitlines()


def _vcard_lines(physical: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Logical vCard lines with the number of the physical line each starts on.

    Unfolds RFC 6350 continuation lines (leading space or tab) and vCard 2.1 quoted-printable
    soft line breaks (a trailing '='), which Android and older Outlook exports still write.
    """
    current: str | None = None
    start = 0
    for number, line in enumerate(physical, start=1):
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
    return "QUOTED-PRINTABLE" in _partition_head(line)[0].upper()


@dataclass
class _CardDraft:
    line: int
    fn: str = ""
    n: str = ""
    org: str = ""
    tels: list[str] = field(default_factory=list)
    #: (preferred, order seen, address): the preferred first, else in the card's order.
    emails: list[tuple[int, int, str]] = field(default_factory=list)


def _property_value(params: list[str], value: str) -> str:
    upper = [p.upper() for p in params]
    if any("QUOTED-PRINTABLE" in p for p in upper):
        charset = next(
            (p.split("=", 1)[1].strip('"') for p in params if p.upper().startswith("CHARSET=")),
            "utf-8",
        )
        raw = quopri.decodestring(value.encode("latin-1", errors="replace"))
        try:
            return raw.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name in the file
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
        messages.add(
            card.line, translate("Phonebook", "card has numbers but neither FN, N nor ORG; skipped")
        )
        return None
    emails = tuple(dict.fromkeys(address for _, _, address in sorted(card.emails)))
    return Contact(name, company, tuple(card.tels), source, emails)


def _email_rank(params: list[str]) -> int:
    """How preferred an EMAIL is by its parameters (lower first): vCard 4.0 PREF=1..100,
    3.0 TYPE=PREF (also in a list: TYPE=INTERNET,PREF), 2.1 a bare PREF."""
    rank = 101
    for param in params:
        name, eq, value = param.partition("=")
        name, value = name.strip().upper(), value.strip().strip('"')
        if not eq and name == "PREF":
            rank = min(rank, 1)
        elif name == "PREF" and value.isdigit():
            rank = min(rank, int(value))
        elif name == "TYPE" and "PREF" in (v.strip().upper() for v in value.split(",")):
            rank = min(rank, 1)
    return rank


_VCARD_WANTED = {"BEGIN", "END", "FN", "N", "ORG", "TEL", "EMAIL"}


def _read_vcard(
    lines: Iterable[str], path: Path, messages: _Messages
) -> Iterator[tuple[int, Contact]]:
    """The contacts of a vCard file, one card at a time, with the line each starts on."""
    source = str(path)
    card: _CardDraft | None = None
    cards_seen = 0
    for line, logical in _vcard_lines(lines):
        if not logical.strip():
            continue
        if '"' in logical:
            head, sep, value = _partition_head(logical)
        else:
            head, sep, value = logical.partition(":")
        if not sep:
            if card is not None:
                messages.add(
                    line,
                    translate("Phonebook", "not a vCard property line: {line}").format(
                        line=repr(logical[:40])
                    ),
                )
            continue
        # The name never holds quotes, so it ends at the first ';' whatever the parameters say.
        name, _, rest = head.partition(";")
        prop = name.strip().upper().rsplit(".", 1)[-1]  # drop Apple's "item1." groups
        if prop not in _VCARD_WANTED:
            continue
        params = _split_unquoted(rest, ";") if rest else []
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            if card is not None:
                messages.add(
                    card.line,
                    translate(
                        "Phonebook",
                        "card has no END:VCARD before the next BEGIN:VCARD; read anyway",
                    ),
                )
                contact = _finish_card(card, source, messages)
                if contact:
                    yield card.line, contact
            card = _CardDraft(line)
            cards_seen += 1
        elif prop == "END" and value.strip().upper() == "VCARD":
            if card is None:
                messages.add(line, translate("Phonebook", "END:VCARD without BEGIN:VCARD"))
                continue
            contact = _finish_card(card, source, messages)
            if contact:
                yield card.line, contact
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
        elif prop == "EMAIL":
            rank = _email_rank(params)
            for address in _addresses(_unescape(_property_value(params, value))):
                card.emails.append((rank, len(card.emails), address))
    if card is not None:
        messages.add(
            card.line,
            translate("Phonebook", "card has no END:VCARD at the end of the file; read anyway"),
        )
        contact = _finish_card(card, source, messages)
        if contact:
            yield card.line, contact
    if cards_seen == 0:
        messages.fail(None, translate("Phonebook", "no vCard found (no BEGIN:VCARD line)"))


# ---- files


def _is_vcard(path: Path, head: str) -> bool:
    if path.suffix.lower() in _VCARD_SUFFIXES:
        return True
    if path.suffix.lower() in {".csv", ".txt", ".tsv"}:
        return False
    return head.lstrip()[:11].upper() == "BEGIN:VCARD"


_Signature = tuple[int, int, int]


def _signature(path: Path) -> _Signature | None:
    try:
        st = path.stat()
    except OSError:
        return None
    # Size and inode catch saves within the mtime granularity and atomic replace-by-rename.
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_file(
    path: Path,
    messages: _Messages,
    limit: int = MAX_FILE_BYTES,
    stop: threading.Event | None = None,
) -> Iterator[tuple[int, Contact]]:
    """Contacts of one file, one at a time, with the line each starts on; problems go to
    `messages`.  Memory follows the entries handed out, not the file's size.

    Never raises, except `_Cancelled` once `stop` is set.
    """
    raw = _open_regular(path, limit, messages)
    if raw is None:
        return
    with raw:
        try:
            encoding = _detect_encoding(raw, limit, stop)
            raw.seek(0)
            head = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
                raw.read(_HEAD_BYTES) or b""
            )
            if "\x00" in head[:4096]:
                # Text exports have no NUL bytes; a spreadsheet, image or database near the
                # start does.
                messages.fail(
                    None,
                    translate("Phonebook", "binary file, not a CSV or vCard phonebook; skipped"),
                )
                return
            raw.seek(0)
            text = io.TextIOWrapper(
                io.BufferedReader(_Limited(raw, limit, stop), _CHUNK),
                encoding=encoding,
                errors="replace",
                newline="",
            )
            if _is_vcard(path, head):
                yield from _read_vcard(_text_lines(text), path, messages)
            else:
                yield from _read_csv(_Lines(text), head, path, messages)
        except _TooLarge:
            messages.fail(None, _too_large(None, limit))
        except OSError as exc:
            messages.fail(
                None,
                translate("Phonebook", "cannot read the file ({problem})").format(
                    problem=exc.strerror or exc
                ),
            )
        except (_Cancelled, GeneratorExit):
            raise
        except Exception as exc:  # a reader bug must not take the popup down with it
            log.exception("reading phonebook %s failed", path)
            messages.fail(
                None,
                translate("Phonebook", "cannot parse the file ({problem}); skipped").format(
                    problem=f"{type(exc).__name__}: {exc}"
                ),
            )


def read_contacts(
    path: Path | str,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> tuple[list[Contact], list[str]]:
    """All contacts of one CSV or vCard file, and the problems found.  Never raises.

    Also what the simulator can use to pick demo callers.
    """
    messages = _Messages(Path(path))
    contacts = [contact for _, contact in _read_file(Path(path), messages, max_file_bytes)]
    return contacts, messages.result()


# --------------------------------------------------------------------------------------------
# The index


_UNSETTLED = (-1, -1, -1)  # the file changed while it was read: read it again on the next check


@dataclass(frozen=True)
class _LoadedFile:
    path: Path
    signature: _Signature | None
    entries: tuple[tuple[str, Match, int], ...]  # (key, match, line) in file order
    contacts: int
    problems: tuple[str, ...]
    error: str | None

    def status(self) -> FileStatus:
        return FileStatus(self.path, self.error, self.contacts, len(self.entries), self.problems)


def _load_file(
    path: Path, plan: NumberingPlan, limit: int, stop: threading.Event | None
) -> _LoadedFile:
    """One file read and its numbers normalised.  Never raises, except `_Cancelled`."""
    before = _signature(path)
    messages = _Messages(path)
    entries: list[tuple[str, Match, int]] = []
    contacts = 0
    try:
        for line, contact in _read_file(path, messages, limit, stop):
            contacts += 1
            if stop is not None and not contacts % 1000 and stop.is_set():
                raise _Cancelled
            for number in contact.numbers:
                key = next(iter_lookup_keys(number, plan, from_pbx=False), None)
                if key is None:
                    messages.add(
                        line,
                        translate(
                            "Phonebook", "cannot read {number} as a phone number ({contact})"
                        ).format(number=repr(number), contact=contact.label),
                    )
                    continue
                entries.append((key, Match(contact, number, key, contact.source), line))
    except MemoryError:
        entries, contacts = [], 0
        messages.fail(None, translate("Phonebook", "not enough memory to read the file; not used"))
    after = _signature(path)
    # Signature taken on both sides of the read: a file saved while we read it is half old,
    # half new, so make the next check read it again.
    signature = before if before == after else _UNSETTLED
    problems = tuple(messages.result())
    if messages.error is not None:
        log.warning("phone book not used: %s", messages.error)
    log.info(
        "phonebook %s: %d contacts, %d numbers, %d problems",
        path,
        contacts,
        len(entries),
        len(problems),
    )
    return _LoadedFile(path, signature, tuple(entries), contacts, problems, messages.error)


@dataclass(frozen=True)
class _Index:
    """One complete state of a phone book; never changed once built, only replaced (the
    search text of `find` is made at its first use and kept with it)."""

    files: tuple[_LoadedFile, ...]
    matches: Mapping[str, Match]
    conflicts: tuple[str, ...]
    _found: dict[str, list[tuple[str, Contact]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def searchable(self) -> list[tuple[str, Contact]]:
        """(what `find` matches, lower case; the contact) for each contact, in file order."""
        cached = self._found.get("all")
        if cached is None:
            seen: set[int] = set()
            cached = []
            for loaded in self.files:
                for _key, match, _line in loaded.entries:
                    contact = match.contact
                    if id(contact) in seen:
                        continue
                    seen.add(id(contact))
                    digits = ["".join(c for c in n if c.isdigit()) for n in contact.numbers]
                    hay = " ".join(
                        [contact.name, contact.company, *contact.numbers, *digits, *contact.emails]
                    ).casefold()
                    cached.append((hay, contact))
            self._found["all"] = cached
        return cached

    @property
    def errors(self) -> list[str]:
        return [p for f in self.files for p in f.problems]

    @property
    def contacts(self) -> int:
        return sum(f.contacts for f in self.files)


#: How many conflicts (a number two contacts share) are described one by one; the rest are
#: counted in one last line, so a book of one number repeated a million times stays small.
CONFLICTS_LISTED = 100


def _build_index(files: tuple[_LoadedFile, ...]) -> _Index:
    """Files in order of priority: the first file wins a number two contacts share."""
    index: dict[str, Match] = {}
    lines: dict[str, tuple[Path, int]] = {}
    conflicts: list[str] = []
    unlisted = 0
    for loaded in files:
        for key, match, line in loaded.entries:
            first = index.get(key)
            if first is None:
                index[key] = match
                lines[key] = (loaded.path, line)
            elif first.contact != match.contact:
                if len(conflicts) >= CONFLICTS_LISTED:
                    unlisted += 1
                    continue
                first_path, first_line = lines[key]
                conflicts.append(
                    f"{loaded.path}, line {line}: {match.number} of {match.contact.label!r} "
                    f"is also the number of {first.contact.label!r} "
                    f"({first_path.name}, line {first_line}); showing {first.contact.label!r}"
                )
    if unlisted:
        conflicts.append(
            f"... and {unlisted} more number{'s' if unlisted != 1 else ''} that another "
            "contact has too (each shown as the first contact's)"
        )
    return _Index(files, index, tuple(conflicts))


def _refresh(
    paths: list[Path],
    plan: NumberingPlan,
    previous: _Index | None,
    limit: int,
    stop: threading.Event | None,
    force: bool,
) -> _Index | None:
    """A new index if a file changed (mtime, size, inode) or `force`, else None.

    Only changed files are read again; the others are taken over from `previous`.
    """
    known = {f.path: f for f in previous.files} if previous is not None else {}
    files: list[_LoadedFile] = []
    changed = previous is None
    for path in paths:
        loaded = known.get(path)
        if force or loaded is None or loaded.signature != _signature(path):
            loaded = _load_file(path, plan, limit, stop)
            changed = True
        files.append(loaded)
    return _build_index(tuple(files)) if changed else None


#: Contacts `find` returns at most.
FIND_LIMIT = 20


def _find(index: _Index, text: str, limit: int) -> list[Contact]:
    """Contacts with every word of `text` in their name, company, numbers (as written or as
    digits) or e-mail addresses; those whose name starts with the text first, then in file
    order."""
    words = text.casefold().split()
    if not words:
        return []
    first = text.strip().casefold()
    starts: list[Contact] = []
    others: list[Contact] = []
    for hay, contact in index.searchable():
        if all(word in hay for word in words):
            if contact.name.casefold().startswith(first):
                starts.append(contact)
                if len(starts) >= limit:
                    break
            elif len(others) < limit:
                others.append(contact)
    return (starts + others)[:limit]


def _lookup(
    index: _Index,
    plan: NumberingPlan,
    cache: OrderedDict[tuple[str, bool], Match | None],
    cache_size: int,
    raw: str,
    from_pbx: bool,
) -> Match | None:
    if not isinstance(raw, str):
        return None
    cache_key = (raw, from_pbx)
    if cache_key in cache:
        cache.move_to_end(cache_key)
        return cache[cache_key]
    match = None
    matches = index.matches
    # Keys come lazily, best first: a hit on the usual reading parses the number once.
    for key in iter_lookup_keys(raw, plan, from_pbx):
        match = matches.get(key)
        if match is not None:
            break
    cache[cache_key] = match
    if len(cache) > cache_size:
        cache.popitem(last=False)
    return match


# --------------------------------------------------------------------------------------------
# The phonebook, read synchronously


class Phonebook:
    """Contacts from several files, read when it is made, looked up by caller number.

    Files are read in order and the first file wins a number two contacts share (noted in
    `conflicts`).  Problems are listed in `errors`; nothing here raises for a bad file.

    Everything here happens on the caller's thread, and reading 50,000 contacts takes seconds
    (benchmarks/phonebook.py): the app and `monitor --record` use `PhonebookService`.
    """

    def __init__(
        self,
        paths: Iterable[Path | str],
        plan: NumberingPlan,
        *,
        cache_size: int = 256,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.paths: list[Path] = list(dict.fromkeys(Path(p) for p in paths))
        self.plan = plan
        self.max_file_bytes = max_file_bytes
        self._cache_size = cache_size
        self._check_interval = check_interval
        self._clock = clock
        self._cache: OrderedDict[tuple[str, bool], Match | None] = OrderedDict()
        self._last_check = clock()
        index = _refresh(self.paths, plan, None, max_file_bytes, None, force=True)
        assert index is not None
        self._index = index

    # ---- queries

    def lookup(self, raw: str, from_pbx: bool = True) -> Match | None:
        """The contact with number `raw`, or None.  `from_pbx` as in `numbers.normalise`."""
        return _lookup(self._index, self.plan, self._cache, self._cache_size, raw, from_pbx)

    def find(self, text: str, limit: int = FIND_LIMIT) -> list[Contact]:
        """Contacts matching what was typed (name, company, number, e-mail; every word)."""
        return _find(self._index, text, limit)

    @property
    def ready(self) -> bool:
        """Always True: the files are read when the phone book is made."""
        return True

    @property
    def errors(self) -> list[str]:
        return self._index.errors

    @property
    def conflicts(self) -> list[str]:
        return list(self._index.conflicts)

    @property
    def contact_count(self) -> int:
        return self._index.contacts

    @property
    def number_count(self) -> int:
        """Distinct number keys in the index."""
        return len(self._index.matches)

    def status(self) -> PhonebookStatus:
        return _status(self._index, busy=False)

    # ---- reloading

    def reload_if_changed(self) -> bool:
        """Re-read files whose mtime, size or inode changed; True if anything was reloaded.

        Looks at the disk at most once per `check_interval` seconds (one stat per file) and
        reads only the files that changed -- but reading is slow, so not on an event path.
        """
        now = self._clock()
        if now - self._last_check < self._check_interval:
            return False
        self._last_check = now
        return self._swap(
            _refresh(self.paths, self.plan, self._index, self.max_file_bytes, None, force=False)
        )

    def reload(self) -> None:
        """Re-read every file now, whether it changed or not."""
        self._swap(
            _refresh(self.paths, self.plan, self._index, self.max_file_bytes, None, force=True)
        )

    def close(self) -> None:
        """Nothing to stop; here so that both kinds of phone book can be closed alike."""

    def _swap(self, index: _Index | None) -> bool:
        if index is None:
            return False
        # Whole objects are swapped, so a lookup never sees a half-built index.
        self._index = index
        self._cache = OrderedDict()
        return True


def _status(index: _Index | None, busy: bool) -> PhonebookStatus:
    if index is None:
        return PhonebookStatus(
            ready=False, busy=busy, files=(), contacts=0, numbers=0, conflicts=()
        )
    return PhonebookStatus(
        ready=True,
        busy=busy,
        files=tuple(f.status() for f in index.files),
        contacts=index.contacts,
        numbers=len(index.matches),
        conflicts=index.conflicts,
    )


# --------------------------------------------------------------------------------------------
# The phonebook, read in a worker thread


class PhonebookService:
    """A phone book loaded and reloaded in a worker thread, looked up on the event loop.

    `start()` (on the running asyncio loop, qasync's in the app) returns at once; the files are
    read in the service's own worker thread into a new index, which is swapped in on the loop's
    thread when it is complete.  Until the first load is done `ready` is False and every lookup
    misses; listeners (`add_listener`) hear of every index swapped in, with the files' status, so
    the app can name calls already shown and report bad files.  Changes on disk are noticed when
    the caller asks (`check_for_changes`, from its own timer) or every `check_interval` seconds
    given to `start()`; the stat calls and reading happen in the worker, never in a lookup.

    Lookups, `start`, `check_for_changes`, `reload` and `close` belong to the loop's thread.
    """

    def __init__(
        self,
        paths: Iterable[Path | str],
        plan: NumberingPlan,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        cache_size: int = 256,
    ) -> None:
        self.paths: list[Path] = list(dict.fromkeys(Path(p) for p in paths))
        self.plan = plan
        self.max_file_bytes = max_file_bytes
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, bool], Match | None] = OrderedDict()
        self._index: _Index | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._job: asyncio.Future[_Index | None] | None = None
        self._again = False
        self._stop = threading.Event()
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._interval: float | None = None
        self._listeners: list[Callable[[PhonebookStatus], None]] = []

    # ---- life cycle

    def start(
        self, *, loop: asyncio.AbstractEventLoop | None = None, check_interval: float | None = None
    ) -> None:
        """Begin the first load in the worker and return.  `loop` defaults to the running loop
        (RuntimeError without one).  With `check_interval`, the files are checked for changes
        that often, by a timer on the loop."""
        if self._closed or self._loop is not None:
            return
        self._loop = loop or asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phonebook")
        self._submit(force=True)
        if check_interval is not None and check_interval > 0:
            self._interval = check_interval
            self._timer = self._loop.call_later(check_interval, self._tick)

    def close(self) -> None:
        """Stop: a file being read is abandoned within one chunk, no more checks or listeners."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        job, self._job = self._job, None
        if job is not None:
            try:
                job.cancel()
            except RuntimeError:  # the loop is closed already; nobody waits for the job
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._listeners.clear()

    def add_listener(self, listener: Callable[[PhonebookStatus], None]) -> None:
        """Call `listener(status)` on the loop's thread whenever a new index is in use."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[PhonebookStatus], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def wait_idle(self, timeout: float | None = None) -> PhonebookStatus:
        """Wait until no load, check or reload is running (TimeoutError after `timeout` s)."""
        async with asyncio.timeout(timeout):
            while self._job is not None:
                await asyncio.wait({self._job})
        return self.status()

    # ---- queries (never block)

    def lookup(self, raw: str, from_pbx: bool = True) -> Match | None:
        """The contact with number `raw`, or None -- also while the first load runs (`ready`
        tells the two apart).  `from_pbx` as in `numbers.normalise`."""
        index = self._index
        if index is None:
            return None
        return _lookup(index, self.plan, self._cache, self._cache_size, raw, from_pbx)

    def find(self, text: str, limit: int = FIND_LIMIT) -> list[Contact]:
        """Contacts matching what was typed (name, company, number, e-mail; every word); none
        while the first load runs."""
        index = self._index
        return _find(index, text, limit) if index is not None else []

    @property
    def ready(self) -> bool:
        """The files have been read once: a miss means the number is not in them."""
        return self._index is not None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def status(self) -> PhonebookStatus:
        return _status(self._index, busy=self._job is not None)

    @property
    def errors(self) -> list[str]:
        return self._index.errors if self._index is not None else []

    @property
    def conflicts(self) -> list[str]:
        return list(self._index.conflicts) if self._index is not None else []

    @property
    def contact_count(self) -> int:
        return self._index.contacts if self._index is not None else 0

    @property
    def number_count(self) -> int:
        return len(self._index.matches) if self._index is not None else 0

    # ---- changes

    def check_for_changes(self) -> bool:
        """Have the worker look at the files' mtime, size and inode and read the changed ones.
        Returns at once; False when no check was started (not started, closed, or a load is
        still running -- the next call will look)."""
        if self._closed or self._loop is None or self._job is not None:
            return False
        self._submit(force=False)
        return True

    def reload(self) -> None:
        """Re-read every file in the worker, whether it changed or not."""
        if self._closed or self._loop is None:
            return
        if self._job is not None:
            self._again = True
            return
        self._submit(force=True)

    # ---- internals (on the loop's thread)

    def _tick(self) -> None:
        self._timer = None
        if self._closed or self._loop is None or self._interval is None:
            return
        self.check_for_changes()
        self._timer = self._loop.call_later(self._interval, self._tick)

    def _submit(self, force: bool) -> None:
        assert self._loop is not None and self._executor is not None
        self._job = self._loop.run_in_executor(
            self._executor,
            _refresh,
            self.paths,
            self.plan,
            self._index,
            self.max_file_bytes,
            self._stop,
            force,
        )
        self._job.add_done_callback(self._finished)

    def _finished(self, job: asyncio.Future[_Index | None]) -> None:
        if job is not self._job:
            return  # closed meanwhile
        self._job = None
        if job.cancelled() or self._closed:
            return
        error = job.exception()
        if error is not None:
            # `_refresh` reports bad files as data; this is a bug or the machine running dry.
            log.error("phone book: loading failed", exc_info=error)
            if self._index is None:
                self._use(_Index((), {}, ()))
        else:
            index = job.result()
            if index is not None:
                self._use(index)
        if self._again and not self._closed:
            self._again = False
            self._submit(force=True)

    def _use(self, index: _Index) -> None:
        # One assignment: a lookup sees the old index or the new one, never a mixture.
        self._index = index
        self._cache = OrderedDict()
        status = self.status()
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("phone book listener %r failed", listener)


def start_phonebook(
    paths: Iterable[Path | str],
    plan: NumberingPlan,
    *,
    check_interval: float | None = CHECK_INTERVAL,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> PhonebookService | None:
    """A `PhonebookService` over `paths`, started on the running loop and checking for changes
    every `check_interval` seconds; None when there are no paths."""
    paths = list(paths)
    if not paths:
        return None
    service = PhonebookService(paths, plan, max_file_bytes=max_file_bytes)
    service.start(check_interval=check_interval)
    return service
