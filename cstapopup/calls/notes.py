"""Phone notes, without Qt: whom a note can be for (colleagues and phone-book contacts, found
as the user types), and the note sent by e-mail as a ready `mailto:` link (RFC 6068).

The note itself (`PhoneNote`) is part of the call record (`calls.model`) and kept by the
history store; the words of the e-mail are in `calls.texts` (the user's language); the desk
(`Desk.note_context`, `Desk.save_note`, `Desk.note_mail_url`) puts them together, and the UI
only shows the dialog and opens the link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

from cstapopup.i18n import translate

from . import texts
from .model import Call, PhoneNote
from .phonebook import Contact

#: Suggestions the "for whom" field offers at most.
MAX_SUGGESTIONS = 12


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone a note can be for: a name and/or a number (a colleague's extension), and the
    e-mail address the phone book has for them ("" when none)."""

    name: str
    number: str = ""
    email: str = ""
    #: "colleague" (the console's panel) or "phonebook".
    source: str = "colleague"

    @property
    def label(self) -> str:
        """How the suggestion reads: "Tom Keller (102)", else the name or the number."""
        if self.name and self.number:
            return f"{self.name} ({self.number})"
        return self.name or self.number

    def matches(self, text: str) -> bool:
        """Every word typed is in the name, the number or the address (case ignored)."""
        hay = f"{self.name} {self.number} {self.email}".casefold()
        return all(word in hay for word in text.casefold().split())


class ContactFinder(Protocol):
    """What `recipients` needs of a phone book (`Phonebook`, `PhonebookService`)."""

    def find(self, text: str, limit: int = ...) -> list[Contact]: ...


def recipient_of(contact: Contact) -> Recipient:
    """A phone-book contact as someone a note can be for (its first number)."""
    return Recipient(
        contact.name or contact.company,
        contact.numbers[0] if contact.numbers else "",
        contact.email,
        "phonebook",
    )


def recipients(
    text: str,
    colleagues: Sequence[Recipient],
    book: ContactFinder | None,
    limit: int = MAX_SUGGESTIONS,
) -> list[Recipient]:
    """Whom a note can be for, given what was typed: the matching colleagues first (all of
    them, in the panel's order, when nothing is typed), then phone-book contacts; one entry
    per person (a colleague found in the book too is listed once)."""
    text = text.strip()
    found = [c for c in colleagues if not text or c.matches(text)]
    if text and book is not None and len(found) < limit:
        found += [recipient_of(c) for c in book.find(text, limit)]
    out: list[Recipient] = []
    seen: set[tuple[str, str]] = set()
    for recipient in found:
        key = (recipient.name.casefold(), recipient.number)
        if key in seen or not recipient.label:
            continue
        seen.add(key)
        out.append(recipient)
        if len(out) >= limit:
            break
    return out


def recipient_for(text: str, candidates: Iterable[Recipient]) -> Recipient | None:
    """The candidate whose label (or name, or number) is exactly what the field says."""
    text = text.strip().casefold()
    if not text:
        return None
    for candidate in candidates:
        if text in (candidate.label.casefold(), candidate.name.casefold(), candidate.number):
            return candidate
    return None


# --- e-mail -----------------------------------------------------------------------------------

# RFC 6068: an address may keep "@" and the few delimiters the RFC allows unencoded ("+" of
# plus-addressing among them); header values (subject, body) are encoded but for RFC 3986's
# unreserved characters, so "&", "=", "?", "#", "%" and every non-ASCII byte (UTF-8) are
# percent-encoded, spaces as %20 (never "+", which some clients read as itself).
_ADDRESS_SAFE = "@!$'*+;:"


def mailto_url(to: str, subject: str = "", body: str = "") -> str:
    """A `mailto:` link (RFC 6068) that opens the user's mail program with `to`, `subject`
    and `body` filled in.  Line breaks in the body become %0D%0A, as the RFC asks."""
    url = "mailto:" + quote(to.strip(), safe=_ADDRESS_SAFE)
    fields = []
    if subject:
        fields.append("subject=" + quote(" ".join(subject.split()), safe=""))
    if body:
        lines = body.replace("\r\n", "\n").replace("\r", "\n")
        fields.append("body=" + quote(lines.replace("\n", "\r\n"), safe=""))
    if fields:
        url += "?" + "&".join(fields)
    return url


@dataclass(frozen=True, slots=True)
class NoteContext:
    """What the note dialog shows about its call: who called (`caller`: the name with the
    company, else the number as people read it, else "Withheld number"), their number as
    people read it, when, the note the history has, and the colleagues to choose from."""

    key: str
    caller: str
    number: str
    started_at: datetime
    note: PhoneNote | None
    colleagues: tuple[Recipient, ...] = ()
    #: Who writes it (the desk's phone: "Reception (100)"), None when not known.
    written_by: str | None = None

    @property
    def detail(self) -> str:
        """The line under the caller: "089 1234567 · 2026-03-02 10:42" (the number only when
        the caller's words are not the number already)."""
        when = f"{texts.note_date(self.started_at)} {texts.note_time(self.started_at)}"
        if self.number and self.number not in self.caller:
            return f"{self.number} · {when}"
        return when

    @property
    def title(self) -> str:
        """The call in one line: "Anna Schmidt (Muster GmbH) · 089 1234567 · 2026-03-02
        10:42"."""
        return f"{self.caller} · {self.detail}" if self.caller else self.detail


def note_mail(context: NoteContext, note: PhoneNote, to: str, to_name: str = "") -> str:
    """The `mailto:` link of a note about the call of `context`: to `to` (may be empty: the
    mail program asks), with the subject and the ready text in the user's language."""
    subject = texts.note_mail_subject(context.caller, note.callback)
    body = texts.note_mail_body(
        note,
        caller=context.caller,
        number=context.number,
        started_at=context.started_at,
        to_name=to_name or note.for_name or "",
    )
    return mailto_url(to, subject, body)


def caller_text(call: Call, display_number: str, name: str | None = None) -> str:
    """Who called, in a mail's words: "Anna Schmidt (Muster GmbH)", else the number as shown,
    else "Withheld number" / "Unknown number".  `name` overrides the call's (a colleague)."""
    name = name or call.remote_name
    company = call.remote_company if not name or name == call.remote_name else None
    if name and company:
        return f"{name} ({company})"
    if name or company:
        return name or company or ""
    if call.remote_kind == "restricted":
        return translate("Views", "Withheld number")
    return display_number or translate("Views", "Unknown number")


__all__ = [
    "MAX_SUGGESTIONS",
    "ContactFinder",
    "NoteContext",
    "Recipient",
    "caller_text",
    "mailto_url",
    "note_mail",
    "recipient_for",
    "recipient_of",
    "recipients",
]
