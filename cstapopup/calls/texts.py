"""The words and formats the user reads, in one place and without Qt: counts (singular and
plural), durations, a call's outcome and other party, the avatar's initials, problems of the
PBX link in plain words, and what an empty history says.  The windows, the tray and the
`history` command all take their texts from here, so they say the same thing the same way.

Every text goes through `translate` (cstapopup.i18n): English as written without a
translator (the command-line tools), the user's language in the desktop app.  Texts with
something filled in are templates with named fields (``{device}``), so that a translation
can put the field where its language wants it.

Counts: every counted phrase is an entry of `COUNTED`, declared once with Qt's plural marker
(``%Ln``, the count with the language's digit grouping), and `count()` is the only place that
picks a form: English from the table's two forms, other languages from their translation's
plural forms ("1 Anruf", "2 Anrufe").  Phrases only the command-line tools print
(`CLI_COUNTED`) stay English.

Durations keep their number and unit together with a no-break space (`NBSP`): "retrying in
8 s" must not wrap between the 8 and the s in a notification balloon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cstapopup.csta.client import ConnectError
from cstapopup.gateway.client import (
    BrokerRefusedError,
    BrokerSetupError,
    BrokerUnreachableError,
    GatewayGoneError,
    GatewayPbxDownError,
    NoGatewayError,
)
from cstapopup.i18n import QT_TRANSLATE_NOOP, decimal, fill_count, number, translate, translating

from .model import Call, Hop, Outcome, PhoneNote

#: Between a number and its unit, so that a line never breaks between them.
NBSP = "\u00a0"

#: Every counted phrase the windows, popups and notices show: key -> (English singular, the
#: source text, which is the English plural).  ``%Ln`` is the count; other fields are named by
#: the caller.  (The literal 2 makes lupdate mark the text as a plural; the "minutes" entry
#: holds a literal no-break space: lupdate reads no \u escapes.)
COUNTED: dict[str, tuple[str, str]] = {
    "calls": ("%Ln call", QT_TRANSLATE_NOOP("Counted", "%Ln calls", None, 2)),
    "missed calls": ("%Ln missed call", QT_TRANSLATE_NOOP("Counted", "%Ln missed calls", None, 2)),
    "missed, not done": (
        "%Ln missed, not done",
        QT_TRANSLATE_NOOP("Counted", "%Ln missed, not done", None, 2),
    ),
    "history, missed": (
        "&History (%Ln missed)",
        QT_TRANSLATE_NOOP("Counted", "&History (%Ln missed)", None, 2),
    ),
    "more ringing": (
        "+%Ln more ringing",
        QT_TRANSLATE_NOOP("Counted", "+%Ln more ringing", None, 2),
    ),
    "more calls": ("+%Ln more call", QT_TRANSLATE_NOOP("Counted", "+%Ln more calls", None, 2)),
    "more calls, ringing": (
        "+%Ln more call ({ringing} ringing)",
        QT_TRANSLATE_NOOP("Counted", "+%Ln more calls ({ringing} ringing)", None, 2),
    ),
    "delete calls": (
        "Delete this call from the history?",
        QT_TRANSLATE_NOOP("Counted", "Delete these %Ln calls from the history?", None, 2),
    ),
    "copied": (
        "Copied {first}",
        QT_TRANSLATE_NOOP("Counted", "Copied {first} and {others} more", None, 2),
    ),
    "values need attention": (
        "One value needs attention",
        QT_TRANSLATE_NOOP("Counted", "%Ln values need attention", None, 2),
    ),
    "too many popups": (
        "More than %Ln call had a popup at once",
        QT_TRANSLATE_NOOP("Counted", "More than %Ln calls had a popup at once", None, 2),
    ),
    "minutes": ("%Ln\u00a0minute", QT_TRANSLATE_NOOP("Counted", "%Ln minutes", None, 2)),
    "calls there": ("%Ln call there.", QT_TRANSLATE_NOOP("Counted", "%Ln calls there.", None, 2)),
    "colleagues shown": (
        "Co&lleagues (the first {shown} of %Ln)",
        QT_TRANSLATE_NOOP("Counted", "Co&lleagues (the first {shown} of %Ln)", None, 2),
    ),
    "waiting to be written": (
        "%Ln waiting to be written",
        QT_TRANSLATE_NOOP("Counted", "%Ln waiting to be written", None, 2),
    ),
    "lost": ("%Ln lost", QT_TRANSLATE_NOOP("Counted", "%Ln lost", None, 2)),
    "calls settled": (
        (
            "%Ln call that the last recording left in progress (it stopped without "
            "closing it) was closed as 'end unknown'."
        ),
        QT_TRANSLATE_NOOP(
            "Counted",
            "%Ln calls that the last recording left in "
            "progress (it stopped without closing them) were "
            "closed as 'end unknown'.",
            None,
            2,
        ),
    ),
    "calls not kept": (
        "%Ln call could not be kept",
        QT_TRANSLATE_NOOP("Counted", "%Ln calls could not be kept", None, 2),
    ),
    "gateway events missed": (
        "%Ln event of the office gateway never arrived here",
        QT_TRANSLATE_NOOP(
            "Counted", "%Ln events of the office gateway never arrived here", None, 2
        ),
    ),
}

#: Counted phrases of the command-line tools (English, as the tools are): key -> (singular,
#: plural).
CLI_COUNTED: dict[str, tuple[str, str]] = {
    "calls shown": (
        "({shown} of %Ln call shown; --limit 0 shows all)",
        "({shown} of %Ln calls shown; --limit 0 shows all)",
    ),
    "times": ("once", "%Ln times"),
    "callbacks skipped": (
        "%Ln coroutine callback was skipped",
        "%Ln coroutine callbacks were skipped",
    ),
}


def count(key: str, n: int, **fields: object) -> str:
    """The phrase `key` of COUNTED (or CLI_COUNTED) for `n` things, in the form `n` takes
    ("1 call", "2 calls"; "1 Anruf", "2 Anrufe")."""
    if key in COUNTED:
        one, other = COUNTED[key]
        if translating():
            return translate("Counted", other, None, n).format(**fields)
    else:
        one, other = CLI_COUNTED[key]
    return fill_count(one if n == 1 else other, n).format(**fields)


# --- durations ---------------------------------------------------------------------------------


def seconds(value: float) -> str:
    """ "8 s", "0.5 s" (a pause, a timeout), the unit kept on the number's line."""
    text = decimal(value, 0) if value >= 1 else decimal(value, 1)
    return text + NBSP + "s"


def clock(value: float) -> str:
    """A call's length as a clock: "2:31", or "1:02:03" past an hour."""
    total = max(0, round(value))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- calls -------------------------------------------------------------------------------------

#: A number as people read it (numbers.display_number with the site's plan).
Display = Callable[[str], str]

_OUTCOME_WORDS = {
    Outcome.IN_PROGRESS: QT_TRANSLATE_NOOP("Texts", "in progress"),
    Outcome.ANSWERED: QT_TRANSLATE_NOOP("Texts", "answered"),
    Outcome.MISSED: QT_TRANSLATE_NOOP("Texts", "missed"),
    Outcome.ANSWERED_ELSEWHERE: QT_TRANSLATE_NOOP("Texts", "answered elsewhere"),
    Outcome.BUSY: QT_TRANSLATE_NOOP("Texts", "busy"),
    Outcome.FAILED: QT_TRANSLATE_NOOP("Texts", "failed"),
    Outcome.ABANDONED: QT_TRANSLATE_NOOP("Texts", "not answered"),
    Outcome.TRANSFERRED: QT_TRANSLATE_NOOP("Texts", "transferred"),
    Outcome.DIVERTED: QT_TRANSLATE_NOOP("Texts", "forwarded"),
    Outcome.UNKNOWN: QT_TRANSLATE_NOOP("Texts", "end unknown"),
}

#: A call's direction as the history's column says it.
_DIRECTION_WORDS = {
    "incoming": QT_TRANSLATE_NOOP("Texts", "incoming"),
    "outgoing": QT_TRANSLATE_NOOP("Texts", "outgoing"),
    "internal": QT_TRANSLATE_NOOP("Texts", "internal"),
    "unknown": QT_TRANSLATE_NOOP("Texts", "unknown"),
}


def _as_is(number: str) -> str:
    return number


def party(number: str | None, display: Display | None = None) -> str:
    """A device or number a call went to or came from, as shown: extensions as they are,
    outside numbers without the PBX's trunk digit."""
    if not number:
        return ""
    return (display or _as_is)(number)


def direction_text(direction: str) -> str:
    """ "incoming", "outgoing", "internal", "unknown" in the user's language."""
    words = _DIRECTION_WORDS.get(direction)
    return translate("Texts", words) if words else direction


def outcome_text(call: Call, display: Display | None = None) -> str:
    """How the call went, in a few words: "answered at 100", "forwarded to 0171 2345678",
    "missed (done)"; every number in it shown as `display` shows numbers."""
    words = _OUTCOME_WORDS.get(call.outcome)
    text = translate("Texts", words) if words else call.outcome.value.replace("_", " ")
    if call.outcome is Outcome.UNKNOWN and not call.end_unknown:
        # It ended, but part of it went by while the link was down (or before monitoring).
        text = translate("Texts", "outcome unknown")
    if call.outcome is Outcome.ANSWERED and call.answered_by:
        text = translate("Texts", "answered at {device}").format(
            device=party(call.answered_by, display)
        )
    elif call.outcome is Outcome.ANSWERED_ELSEWHERE and call.answered_by:
        text = translate("Texts", "answered by {device}").format(
            device=party(call.answered_by, display)
        )
    elif call.outcome is Outcome.TRANSFERRED and call.transferred_to:
        text = translate("Texts", "transferred to {device}").format(
            device=party(call.transferred_to, display)
        )
    elif call.outcome is Outcome.DIVERTED and call.diverted_to:
        text = translate("Texts", "forwarded to {device}").format(
            device=party(call.diverted_to, display)
        )
    if call.is_missed and call.done:
        text = translate("Texts", "{outcome} (done)").format(outcome=text)
    return text


def remote_text(call: Call, display: Display | None = None) -> str:
    """The other party's number as shown, "withheld" or "unknown"."""
    if call.remote_kind == "restricted":
        return translate("Texts", "withheld")
    if call.remote_kind == "not_known" or not call.remote_number:
        return translate("Texts", "unknown")
    return party(call.remote_number, display)


def name_text(call: Call) -> str:
    """The other party's name and company: "Anna Schmidt (Schmidt & Partner)"."""
    name = call.remote_name or ""
    company = call.remote_company or ""
    if name and company:
        return f"{name} ({company})"
    return name or company


#: One step of a call's way in words, by the hop's kind; {device} is where it happened.
_HOP_WORDS = {
    "originated": QT_TRANSLATE_NOOP("Texts", "originated {device}"),
    "delivered": QT_TRANSLATE_NOOP("Texts", "delivered {device}"),
    "offered": QT_TRANSLATE_NOOP("Texts", "offered {device}"),
    "queued": QT_TRANSLATE_NOOP("Texts", "queued {device}"),
    "answered": QT_TRANSLATE_NOOP("Texts", "answered {device}"),
    "held": QT_TRANSLATE_NOOP("Texts", "held {device}"),
    "retrieved": QT_TRANSLATE_NOOP("Texts", "retrieved {device}"),
    "transferred": QT_TRANSLATE_NOOP("Texts", "transferred {device}"),
    "diverted": QT_TRANSLATE_NOOP("Texts", "diverted {device}"),
    "conferenced": QT_TRANSLATE_NOOP("Texts", "conferenced {device}"),
    "cleared": QT_TRANSLATE_NOOP("Texts", "cleared {device}"),
    "failed": QT_TRANSLATE_NOOP("Texts", "failed {device}"),
    "under_way": QT_TRANSLATE_NOOP("Texts", "under way {device}"),
    "undecodable": QT_TRANSLATE_NOOP("Texts", "undecodable {device}"),
    "link_lost": QT_TRANSLATE_NOOP("Texts", "link lost {device}"),
    # A consultation whose target (or held call's party) the PBX did not name.
    "consulted": QT_TRANSLATE_NOOP("Texts", "consultation by {device}"),
    "consultation": QT_TRANSLATE_NOOP("Texts", "consultation by {device}"),
    # Calls whose end was not seen, given up by the tracker (calls/tracker.py).
    "stale": QT_TRANSLATE_NOOP("Texts", "given up: no news for hours"),
    "overflow": QT_TRANSLATE_NOOP("Texts", "given up: too many calls at once"),
}
#: A step with the party it went to: {device} from, {target} to (for "consultation": the
#: other party of the call the consultation was made from).
_HOP_TO_WORDS = {
    "transferred": QT_TRANSLATE_NOOP("Texts", "transferred {device} to {target}"),
    "diverted": QT_TRANSLATE_NOOP("Texts", "diverted {device} to {target}"),
    "consulted": QT_TRANSLATE_NOOP("Texts", "consulted {target}"),
    "consultation": QT_TRANSLATE_NOOP(
        "Texts", "consultation by {device} during the call with {target}"
    ),
}


def hop_text(hop: Hop, display: Display | None = None) -> str:
    """One step of a call's way: "answered 100", "transferred 100 to 102" (where a transfer
    or a forwarding went, when the PBX said), "consulted 102" (the call was held and 102
    called), "consultation by 100 during the call with 089 1234567" (the call is that)."""
    device = party(hop.device, display)
    if (
        hop.kind in _HOP_TO_WORDS
        and hop.detail
        and hop.detail.isdigit()
        and hop.detail != hop.device
    ):
        return (
            translate("Texts", _HOP_TO_WORDS[hop.kind])
            .format(device=device, target=party(hop.detail, display))
            .strip()
        )
    words = _HOP_WORDS.get(hop.kind)
    if words is None:
        return f"{hop.kind.replace('_', ' ')} {device}".strip()
    return translate("Texts", words).format(device=device).strip()


def hops_text(call: Call, display: Display | None = None) -> str:
    """The way a call went, for people: "delivered 100 → answered 100 → transferred 100 to
    102"."""
    return " → ".join(hop_text(h, display) for h in call.hops)


#: What an empty history says, by the filter's kind of call: (nothing at all, none match the
#: search "{search}").
_EMPTY = {
    None: (
        QT_TRANSLATE_NOOP("Texts", "No calls match."),
        QT_TRANSLATE_NOOP("Texts", "No calls match “{search}”."),
    ),
    "missed": (
        QT_TRANSLATE_NOOP("Texts", "No missed calls."),
        QT_TRANSLATE_NOOP("Texts", "No missed calls match “{search}”."),
    ),
    "incoming": (
        QT_TRANSLATE_NOOP("Texts", "No incoming calls."),
        QT_TRANSLATE_NOOP("Texts", "No incoming calls match “{search}”."),
    ),
    "outgoing": (
        QT_TRANSLATE_NOOP("Texts", "No outgoing calls."),
        QT_TRANSLATE_NOOP("Texts", "No outgoing calls match “{search}”."),
    ),
    "internal": (
        QT_TRANSLATE_NOOP("Texts", "No internal calls."),
        QT_TRANSLATE_NOOP("Texts", "No internal calls match “{search}”."),
    ),
    "noted": (
        QT_TRANSLATE_NOOP("Texts", "No calls with a phone note."),
        QT_TRANSLATE_NOOP("Texts", "No calls with a phone note match “{search}”."),
    ),
}


def empty_history_text(
    *, history_empty: bool, search: str | None = None, kind: str | None = None
) -> str:
    """What an empty list of calls says: that the history has no calls at all, or that none
    match the search (and the filter, e.g. kind "missed")."""
    if history_empty:
        return translate("Texts", "No calls in the history yet.")
    if kind not in _EMPTY:  # a kind without words of its own
        none, matching = f"No {kind} calls.", f"No {kind} calls match “{{search}}”."
    else:
        none, matching = (translate("Texts", t) for t in _EMPTY[kind])
    return matching.format(search=search) if search else none


# --- phone notes -------------------------------------------------------------------------------


def note_heading(note: PhoneNote) -> str:
    """A note's first line: "Phone note for Tom Keller (102) · callback wanted"."""
    who = note.for_text
    heading = (
        translate("Texts", "Phone note for {who}").format(who=who)
        if who
        else translate("Texts", "Phone note")
    )
    if note.callback:
        heading = translate("Texts", "{heading} · callback wanted").format(heading=heading)
    return heading


def note_cell(note: PhoneNote) -> str:
    """The history's Note column, short: "Tom Keller (102), callback", "Tom Keller (102)",
    "callback wanted", or the note's first words."""
    who = note.for_text
    if who and note.callback:
        return translate("Texts", "{who}, callback").format(who=who)
    if who:
        return who
    if note.callback:
        return translate("Texts", "callback wanted")
    first = note.text.strip().splitlines()[0] if note.text.strip() else ""
    return first if len(first) <= 40 else first[:39] + "…"


def note_summary(note: PhoneNote) -> str:
    """A note in a few lines (a tooltip, the `history` command): the heading, then the text."""
    return "\n".join(t for t in (note_heading(note), note.text.strip()) if t)


def note_date(moment: datetime) -> str:
    """A day as the language writes it in a letter ("2026-03-02"; German "02.03.2026"), in
    local time."""
    return moment.astimezone().strftime(translate("Texts", "%Y-%m-%d"))


def note_time(moment: datetime) -> str:
    """A time of day, local ("10:42")."""
    return moment.astimezone().strftime(translate("Texts", "%H:%M"))


def note_mail_subject(caller: str, callback: bool) -> str:
    """The subject of a phone note sent by e-mail: "Phone note: Anna Schmidt", with "please
    call back" when a callback is wanted."""
    if callback:
        return translate("Texts", "Phone note: {caller} – please call back").format(caller=caller)
    return translate("Texts", "Phone note: {caller}").format(caller=caller)


def note_mail_body(
    note: PhoneNote, *, caller: str, number: str, started_at: datetime, to_name: str = ""
) -> str:
    """The ready text of a phone note sent by e-mail: who called when (their number as people
    read it), whether a callback is wanted, the note's text, who wrote it when.  Lines end in
    "\\n" (the mailto link turns them into CRLF)."""
    greeting = (
        translate("Texts", "Hello {name},").format(name=to_name)
        if to_name
        else translate("Texts", "Hello,")
    )
    lines = [
        greeting,
        "",
        translate("Texts", "{caller} called on {date} at {time}.").format(
            caller=caller, date=note_date(started_at), time=note_time(started_at)
        ),
    ]
    if number:
        lines.append(translate("Texts", "Number: {number}").format(number=number))
    lines.append(
        translate("Texts", "Callback wanted: yes")
        if note.callback
        else translate("Texts", "Callback wanted: no")
    )
    text = note.text.strip()
    if text:
        lines += ["", text]
    if note.written_at is not None:
        lines.append("")
        when = f"{note_date(note.written_at)} {note_time(note.written_at)}"
        lines.append(
            translate("Texts", "Phone note by {who}, {when}").format(who=note.written_by, when=when)
            if note.written_by
            else translate("Texts", "Phone note of {when}").format(when=when)
        )
    return "\n".join(lines)


# --- the avatar --------------------------------------------------------------------------------

# Letters drawn as one upright stroke: two of them ("II", "ll", "Il") look like a pause button,
# one alone like a bar.  Initials made only of these are never shown.
_STROKES = frozenset("Il|1!ǀ")


def _looks_like_a_glyph(text: str) -> bool:
    return len(text) < 2 or all(c in _STROKES for c in text)


def initials(name: str | None) -> str:
    """Two letters for the caller's avatar, "" when none would read as a name (the avatar
    then shows a person).  First letters of the first and last word ("Anna Schmidt": AS);
    titles and abbreviations ("Dr.", "Prof.") are skipped.  Never a pair that looks like a
    control ("II" for "Ingrid Internruf" would read as a pause button): then the first word's
    first two letters ("IN"), or the first letter and the last word's second ("IN"), else "".
    """
    words = [
        "".join(c for c in w if c.isalnum())
        for w in (name or "").replace(",", " ").split()
        if w[:1].isalnum() and not w.endswith(".")
    ]
    words = [w for w in words if w]
    if not words:
        return ""
    first, last = words[0], words[-1]
    candidates = (
        [first[:2]] if len(words) == 1 else [first[0] + last[0], first[:2], first[0] + last[1:2]]
    )
    for candidate in candidates:
        text = candidate.upper()
        if not _looks_like_a_glyph(text):
            return text
    return ""


# --- the PBX link ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkProblem:
    """Why the PBX cannot be reached, in words for whoever sits at the phone (`words`), and
    the system's own words for whoever fixes it (`detail`, "" when there are none)."""

    words: str
    detail: str = ""


def link_problem(error: BaseException) -> LinkProblem:
    """A failed connection attempt (the client's typed error) in plain words."""
    if not isinstance(error, ConnectError):
        return LinkProblem(str(error))
    host = error.host
    detail = error.detail
    cause = error.cause
    if cause == "unknown_host":
        words = (
            translate(
                "Texts",
                "the PBX address {host} is not known — check the PBX address in the settings",
            ).format(host=host)
            if host
            else translate(
                "Texts", "the PBX address is not known — check the PBX address in the settings"
            )
        )
    elif cause == "lookup_failed":
        words = (
            translate(
                "Texts",
                "the PBX address {host} could not be looked up — is this "
                "computer connected to the network?",
            ).format(host=host)
            if host
            else translate(
                "Texts",
                "the PBX address could not be looked up — is this computer "
                "connected to the network?",
            )
        )
    elif cause == "refused":
        if error.port is not None:
            words = translate(
                "Texts",
                "{pbx} does not accept connections on port {port} — "
                "check the port in the settings, and that CSTA is switched on at "
                "the PBX",
            ).format(pbx=_pbx_at(host), port=error.port)
        else:
            words = translate(
                "Texts",
                "{pbx} does not accept connections on its CSTA port — "
                "check the port in the settings, and that CSTA is switched on at "
                "the PBX",
            ).format(pbx=_pbx_at(host))
    elif cause == "timeout":
        if error.timeout is not None:
            words = translate(
                "Texts",
                "no answer from {pbx} within {seconds} — check that it "
                "is switched on and that the address in the settings is "
                "right",
            ).format(pbx=_pbx_at(host), seconds=seconds(error.timeout))
        else:
            words = translate(
                "Texts",
                "no answer from {pbx} — check that it is switched on "
                "and that the address in the settings is right",
            ).format(pbx=_pbx_at(host))
        detail = detail or str(error)
    elif cause == "login_timeout":
        words = translate(
            "Texts",
            "{pbx} took the connection but did not answer the login — check that the "
            "port in the settings is the PBX's CSTA port",
        ).format(pbx=_pbx_at(host))
        detail = detail or str(error)
    elif cause == "unreachable":
        words = translate(
            "Texts", "{pbx} cannot be reached from this computer — check the network connection"
        ).format(pbx=_pbx_at(host))
    elif cause == "no_network":
        words = translate("Texts", "this computer is not connected to a network")
    else:  # TLS, certificates, the PBX's own refusals: their messages are words already
        return LinkProblem(str(error), detail)
    return LinkProblem(words, detail)


def _pbx_at(host: str | None) -> str:
    """ "the PBX at 192.0.2.1", or "the PBX" when its address is not known."""
    if host:
        return translate("Texts", "the PBX at {host}").format(host=host)
    return translate("Texts", "the PBX")


def gateway_problem(
    error: BaseException, *, broker: str, user: str = "", site: str = "default"
) -> LinkProblem:
    """Why the way to the PBX through the office gateway is not up (the gateway client's
    typed reason) in plain words; the broker's or the gateway's own words go to `detail`."""
    if isinstance(error, BrokerRefusedError):
        words = (
            translate(
                "Texts",
                "the broker {broker} refused the login of {user} — check "
                "the broker user name and password in the settings",
            )
            if user
            else translate(
                "Texts",
                "the broker {broker} refused the login of this computer "
                "(no user name set) — check the broker user name and password in "
                "the settings",
            )
        )
        return LinkProblem(words.format(broker=broker, user=user), str(error.cause))
    if isinstance(error, BrokerSetupError):
        # A broker address or TLS file that cannot be used: its message says which and why.
        return LinkProblem(str(error.cause))
    if isinstance(error, BrokerUnreachableError):
        return LinkProblem(
            translate(
                "Texts",
                "the office's broker {broker} cannot be reached — check the broker address "
                "in the settings, and that this computer is on the office network",
            ).format(broker=broker),
            str(error.cause),
        )
    if isinstance(error, NoGatewayError):
        return LinkProblem(
            translate(
                "Texts",
                "no office gateway answers for site “{site}” at the broker — check that it "
                "runs, and that the site in the settings is the gateway's",
            ).format(site=site)
        )
    if isinstance(error, GatewayGoneError):
        if error.stopped:
            return LinkProblem(
                translate(
                    "Texts",
                    "the office gateway was stopped: no calls are shown until it runs again",
                ),
                error.reason,
            )
        return LinkProblem(
            translate(
                "Texts",
                "the office gateway is gone: it lost its "
                "connection to the broker (stopped, crashed or cut off)",
            ),
            error.reason,
        )
    if isinstance(error, GatewayPbxDownError):
        return LinkProblem(
            translate(
                "Texts",
                "PBX down behind the office gateway: the gateway "
                "runs, but its link to the PBX is down",
            ),
            error.reason,
        )
    return LinkProblem(str(error))


#: Titles of the notices about a link that went down or could not be made, by its fault
#: (calls.link.LinkFault values); the link of our own's are the defaults.
_LOST_TITLES = {
    "broker_unreachable": QT_TRANSLATE_NOOP("Desk", "Connection to the broker lost"),
    "no_gateway": QT_TRANSLATE_NOOP("Desk", "Office gateway gone"),
    "gateway_gone": QT_TRANSLATE_NOOP("Desk", "Office gateway gone"),
    "pbx_down": QT_TRANSLATE_NOOP("Desk", "PBX down behind the office gateway"),
}
_CONNECT_TITLES = {
    "broker_unreachable": QT_TRANSLATE_NOOP("Desk", "Cannot reach the broker"),
    "no_gateway": QT_TRANSLATE_NOOP("Desk", "No office gateway"),
    "gateway_gone": QT_TRANSLATE_NOOP("Desk", "Office gateway gone"),
    "pbx_down": QT_TRANSLATE_NOOP("Desk", "PBX down behind the office gateway"),
}
_LOST_DEFAULT = QT_TRANSLATE_NOOP("Desk", "PBX link lost")
_CONNECT_DEFAULT = QT_TRANSLATE_NOOP("Desk", "Cannot connect to the PBX")


def link_notice_title(fault: str | None, *, lost: bool) -> str:
    """The title of the notice that the link was lost (`lost`) or could not be made."""
    if lost:
        return translate("Desk", _LOST_TITLES.get(fault or "", _LOST_DEFAULT))
    return translate("Desk", _CONNECT_TITLES.get(fault or "", _CONNECT_DEFAULT))


def link_details(note: str = "", detail: str = "") -> str:
    """The lines under a link state (a window's link line's tooltip): what the user should
    know besides (`LinkStatus.note`), then the system's own words ("Details: ..."); "" when
    there are neither."""
    lines = [note[:1].upper() + note[1:]] if note else []
    if detail:
        lines.append(translate("Texts", "Details: {detail}").format(detail=detail))
    return "\n".join(lines)


def no_broker_password_note() -> str:
    """What the app says while it logs in to the broker without a password (none stored)."""
    return translate("Texts", "logging in to the broker without a password because none is stored")


def factory_password_note(password: str) -> str:
    """What the app says while it logs in with the factory password because none is stored."""
    return translate(
        "Texts", "using the HiPath factory password {password} because none is stored"
    ).format(password=password)


# --- the call history's health -----------------------------------------------------------------


def history_not_saved(reason: str | None, waiting: int, lost: int) -> str:
    """The history cannot be written: "Calls are not being saved: the disk is full (12 waiting
    to be written; 3 lost)."  `reason` is one of the store's reasons (translated here) or
    other words, shown as they are."""
    extra = count("waiting to be written", waiting)
    if lost:
        extra = translate("Texts", "{waiting}; {lost}").format(
            waiting=extra, lost=count("lost", lost)
        )
    shown = (
        translate("HistoryReason", reason)
        if reason
        else translate("Texts", "the history cannot be written")
    )
    return translate("Texts", "Calls are not being saved: {reason} ({extra}).").format(
        reason=shown, extra=extra
    )


def history_lost(lost: int) -> str:
    """Saving works (again), but calls were dropped meanwhile (the queue was full)."""
    return translate(
        "Texts", "Calls are being saved, but {not_kept} while the history could not be written."
    ).format(not_kept=count("calls not kept", lost))


def history_saved_again(lost: int = 0) -> str:
    """Said once when saving works again after a failure."""
    if lost:
        return translate("Texts", "Calls are being saved again ({lost} meanwhile).").format(
            lost=count("lost", lost)
        )
    return translate("Texts", "Calls are being saved again.")


#: What happened to the history file under a recording program (`HistoryStore.file_problem`).
_FILE_PROBLEMS = {
    "deleted": QT_TRANSLATE_NOOP("Texts", "deleted"),
    "replaced": QT_TRANSLATE_NOOP("Texts", "replaced"),
}


def history_file_restarted(path: str, problem: str) -> str:
    """The file was deleted or replaced while recording, and a new one was started there."""
    return translate(
        "Texts",
        "The call history file {path} was {problem} while calls were being "
        "recorded; a new one was started there (calls recorded before are not in "
        "it).",
    ).format(path=path, problem=_file_problem(problem))


def history_file_not_recreated(problem: str, reason: str | None) -> str:
    """The file was deleted or replaced and cannot be made again: why."""
    return translate(
        "Texts", "the history file was {problem} and cannot be created again: {reason}"
    ).format(problem=_file_problem(problem), reason=translate("HistoryReason", reason or ""))


def _file_problem(problem: str) -> str:
    return translate("Texts", _FILE_PROBLEMS[problem]) if problem in _FILE_PROBLEMS else problem


def calls_settled_at_start(n: int) -> str:
    """Calls a killed recording left in progress, closed when the history is opened again."""
    return count("calls settled", n)


def history_temporary(problem: str) -> str:
    """The history file could not be used and a throw-away one stands in."""
    return translate(
        "Texts",
        "Calls are kept only until cstapopup ends: the call history cannot be used ({problem}).",
    ).format(problem=translate("HistoryReason", problem))


__all__ = [
    "CLI_COUNTED",
    "COUNTED",
    "NBSP",
    "Display",
    "LinkProblem",
    "calls_settled_at_start",
    "clock",
    "count",
    "direction_text",
    "empty_history_text",
    "factory_password_note",
    "gateway_problem",
    "history_file_not_recreated",
    "history_file_restarted",
    "history_lost",
    "history_not_saved",
    "history_saved_again",
    "history_temporary",
    "hop_text",
    "hops_text",
    "initials",
    "link_details",
    "link_notice_title",
    "link_problem",
    "name_text",
    "no_broker_password_note",
    "note_cell",
    "note_date",
    "note_heading",
    "note_mail_body",
    "note_mail_subject",
    "note_summary",
    "note_time",
    "number",
    "outcome_text",
    "party",
    "remote_text",
    "seconds",
    "translate",
]
