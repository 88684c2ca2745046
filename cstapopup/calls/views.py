"""What the user should see, as values: a call's popup, the colleagues' lamps, the user's
own line in the console, the link, the missed-call badge, the history's health, and messages
in words.

`calls.desk` decides and makes these; `ui/` only renders them (no Qt here, and no widget
computes a text of its own).  Every text is plain text: a caller's name from the PBX or a
phone book may hold anything, markup included, and the UI must show it as it is.  Every text
is in the user's language (`translate`, context "Views"), made when the view is made.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from cstapopup.i18n import QT_TRANSLATE_NOOP, translate
from cstapopup.settings import fill_url_template

from . import texts
from .colleagues import ColleagueState, ColleagueStatus
from .model import Call, Outcome
from .recorder import HistoryHealth  # the recorder makes it; the tray and the window show it


class PopupState(str, enum.Enum):
    """Where the call of a popup stands, as the popup's owner sees it."""

    RINGING = "ringing"
    ANSWERED_HERE = "answered_here"  # at the device the popup rang at
    ANSWERED_ELSEWHERE = "answered_elsewhere"  # another device took it (or it was sent on)
    ENDED = "ended"
    MISSED = "missed"  # nobody answered; also busy and failed
    STALE = "stale"  # rang for long without any news: given up


class Action(str, enum.Enum):
    """What the user can do from a popup (each one a button)."""

    ANSWER = "answer"  # only at the user's own device, only while it rings
    COPY_NUMBER = "copy_number"  # only when there is a number
    OPEN_CRM = "open_crm"  # only with a number and a CRM address template
    #: Put the call through to a colleague (chosen in the console): while it rings at a
    #: monitored device (deflect), or while the user's own phone has it (transfer).
    PUT_THROUGH = "put_through"
    #: Write a phone note about the call: once it was answered, or ended (missed too).
    NOTE = "note"


class CallAction(str, enum.Enum):
    """What the receptionist can do with the own phone's calls from the console (each one a
    button and a shortcut).  The desk says which are possible now (`OwnLineView.actions`)
    and decides which CSTA service each one takes."""

    ANSWER = "answer"  # the call ringing at the own phone (AnswerCall)
    PUT_THROUGH = "put_through"  # to the chosen colleague: blind (SingleStepTransfer),
    #                                    or while it rings (DeflectCall)
    CONSULT = "consult"  # hold, call the chosen colleague (ConsultationCall)
    COMPLETE = "complete"  # join the held caller and the colleague (TransferCall)
    BACK = "back"  # end the consultation, back to the caller (ReconnectCall)
    ALTERNATE = "alternate"  # switch between caller and colleague (AlternateCall)
    HOLD = "hold"  # hold, or take back from hold (HoldCall / RetrieveCall)
    HANG_UP = "hang_up"  # end the talking call (ClearConnection)
    PICK_UP = "pick_up"  # the chosen colleague's ringing call (DirectedPickupCall)


class Level(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls, as far as known: the phone book's name and company, the number as shown."""

    name: str | None = None
    company: str | None = None
    #: The number formatted for reading ("089 1234567"); "" when withheld or not known.
    display_number: str = ""


@dataclass(frozen=True, slots=True)
class PopupView:
    """One call's popup: every text it shows, its state, and the actions it offers."""

    key: str
    #: The name, else the number, else "Withheld number" / "Unknown number".
    title: str
    #: The caller's name (the avatar's initials), None when the phone book does not know it.
    name: str | None
    company: str | None
    #: The number under a name ("" when the title is the number, or there is none).
    number: str
    #: "Ringing at 100 · line 0891234567" / "Rang at 100".
    where: str
    #: Why it rings here: "Forwarded from 101 · Transferred by 102" ("" for a direct call).
    redirect: str
    forwarded_from: str | None
    transferred_by: str | None
    #: The trunk an outside call came in on (None: internal, or not said).
    trunk: str | None
    state: PopupState
    #: The device that answered (ours or another), None while nobody has.
    answered_by: str | None
    #: "Ringing", "Answered at 100", "Answered by 102 · ended (2:31)", "Missed", ...
    state_text: str
    #: The colour family: "ringing", "answered", "ended" or "missed".
    accent: str
    #: The device the popup is about (where it rings or rang).
    ringing_device: str
    actions: frozenset[Action]
    #: The number as it is dialled ("+49891234567"), "" when there is none.
    copy_text: str
    #: The CRM address with number and name filled in, "" when there is none.
    crm_url: str
    #: Seconds until the popup closes by itself (counted from when it first says so); None:
    #: it stays (ringing, or the user's own phone has the call, or closing is turned off).
    closes_in: float | None

    def allows(self, action: Action) -> bool:
        return action in self.actions


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """The PBX link as the tray shows it: "connecting", "up", "down" or "demo", and why.
    `note`: what the user should know about the link besides ("using the HiPath factory
    password ..."); `detail`: the system's own words behind `text`, for whoever fixes it
    ("Name or service not known"); "" when there is none."""

    state: str
    text: str
    note: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for the user, in words.  `opens_settings`: clicking it opens the settings
    (the fix is there)."""

    title: str
    text: str
    level: Level = Level.INFO
    opens_settings: bool = False


class LineState(str, enum.Enum):
    """The user's own phone as the console shows it."""

    NO_PHONE = "no_phone"  # no own phone set in the settings
    UNKNOWN = "unknown"  # no link, or not monitored
    IDLE = "idle"
    RINGING = "ringing"  # a call rings (and none talks)
    TALKING = "talking"  # one call talks (others may be held)
    HELD = "held"  # only held calls
    CONSULTING = "consulting"  # one held, one talking: the caller waits while you consult


@dataclass(frozen=True, slots=True)
class OwnLineView:
    """The user's own phone in the console: what it is doing in words, since when, the
    history key of the call that matters (the caller's, for dragging it onto a colleague),
    and the actions possible now (those that need a colleague need one chosen, too)."""

    device: str | None
    state: LineState
    #: "Anna Schmidt is ringing", "On a call with Anna Schmidt", "Consulting Tom Keller (102)"
    text: str
    #: "Anna Schmidt waits on hold" / "" .
    detail: str
    since: datetime | None
    key: str | None
    actions: frozenset[CallAction]

    def allows(self, action: CallAction) -> bool:
        return action in self.actions


@dataclass(frozen=True, slots=True)
class ColleagueView:
    """One colleague's line in the panel: who, the lamp, what they do, with whom, since
    when (the UI shows the time passed, `elapsed_text`), and what can be done with them."""

    device: str
    #: The name given in the settings or found in the phone book; "" when none.
    name: str
    state: ColleagueState
    #: "Free", "Ringing", "On a call", "On hold", "Do not disturb", "Forwarded to 105",
    #: "Not monitored", "Not known".
    state_text: str
    #: Who they talk to (or who calls them): a name, a number, "Withheld number"; "".
    party: str
    since: datetime | None
    #: The colour family of the lamp: free, ringing, busy, held, away, off.
    lamp: str
    #: One or two sentences for a tooltip (with why it is not monitored, DND, forwarding).
    detail: str
    #: A call rings there that the user could pick up.
    can_pick_up: bool
    #: It is the user's own phone.
    is_you: bool
    #: What the type-ahead filter matches: name, number and party, lower case.
    search_text: str

    @property
    def title(self) -> str:
        """The name, else the number."""
        return self.name or self.device

    def matches(self, text: str) -> bool:
        """The type-ahead filter: every word typed is in the name, number or party."""
        return all(word in self.search_text for word in text.lower().split())


# --- texts -----------------------------------------------------------------------------------

#: A number from the PBX as people read it (`Desk.display_number`).
Display = texts.Display


def format_duration(seconds: float) -> str:
    """2:31, or 1:02:03 past an hour."""
    return texts.clock(seconds)


def dialable(display_number: str) -> str:
    """The number without the spaces and punctuation used to make it readable."""
    return "".join(c for c in display_number if c.isdigit() or c in "+*#")


def is_ringing(call: Call) -> bool:
    return call.is_live and call.answered_at is None and call.outcome == Outcome.IN_PROGRESS


def state_text(call: Call, ringing_device: str, display: Display | None = None) -> str:
    """The line that follows the call: Ringing, Answered by 102, Ended (2:31), Missed, ...
    (numbers in it shown as `display` shows them)."""
    if call.end_unknown:
        return translate("Views", "Link to the PBX lost: the end of this call is not known")
    by = call.answered_by
    answered = ""
    if call.answered_at is not None or call.outcome == Outcome.ANSWERED_ELSEWHERE:
        if by is None:
            answered = translate("Views", "Answered")
        elif by == ringing_device:
            answered = translate("Views", "Answered at {device}").format(
                device=texts.party(by, display)
            )
        else:
            answered = translate("Views", "Answered by {device}").format(
                device=texts.party(by, display)
            )
    outcome = call.outcome
    if outcome == Outcome.TRANSFERRED and call.transferred_to:
        return translate("Views", "Transferred to {device}").format(
            device=texts.party(call.transferred_to, display)
        )
    if outcome == Outcome.DIVERTED:
        return (
            translate("Views", "Forwarded to {device}").format(
                device=texts.party(call.diverted_to, display)
            )
            if call.diverted_to
            else translate("Views", "Forwarded")
        )
    if outcome == Outcome.MISSED:
        return translate("Views", "Missed")
    if outcome == Outcome.BUSY:
        return translate("Views", "Busy")
    if outcome == Outcome.FAILED:
        return translate("Views", "Failed")
    if call.ended_at is not None:
        talk = call.talk_seconds
        if talk is not None:
            duration = format_duration(talk)
            if answered:
                return translate("Views", "{answered} · ended ({duration})").format(
                    answered=answered, duration=duration
                )
            return translate("Views", "Ended ({duration})").format(duration=duration)
        return answered or translate("Views", "Ended")
    if answered:
        return answered
    return translate("Views", "Ringing")


def redirection(call: Call, ringing_device: str) -> tuple[str | None, str | None]:
    """(forwarded from, transferred by) as told by the call's hops, for the ringing device."""
    forwarded_from = transferred_by = None
    for hop in call.hops:
        if hop.device and hop.device != ringing_device:
            if hop.kind == "diverted":
                forwarded_from = hop.device
            elif hop.kind == "transferred":
                transferred_by = hop.device
    return forwarded_from, transferred_by


def popup_state(call: Call, ringing_device: str) -> PopupState:
    if is_ringing(call):
        return PopupState.RINGING
    if call.outcome in (Outcome.MISSED, Outcome.BUSY, Outcome.FAILED):
        return PopupState.MISSED
    if call.outcome is Outcome.ANSWERED_ELSEWHERE:
        return PopupState.ANSWERED_ELSEWHERE  # (over for us, or still going on there)
    if call.is_live:
        if call.outcome in (Outcome.ANSWERED_ELSEWHERE, Outcome.DIVERTED, Outcome.TRANSFERRED) or (
            call.answered_by is not None and call.answered_by != ringing_device
        ):
            return PopupState.ANSWERED_ELSEWHERE
        return PopupState.ANSWERED_HERE
    return PopupState.ENDED


def _accent(call: Call, state: PopupState) -> str:
    if state is PopupState.RINGING:
        return "ringing"
    if state is PopupState.MISSED:
        return "missed"
    if state is PopupState.STALE:
        return "ended"
    return "answered" if call.is_live else "ended"


def _stays(call: Call, state: PopupState, own_device: str | None) -> bool:
    """Whether the popup stays open: while it rings, and while the user's own phone has the
    call (the popup is their notes about the caller); it goes when someone else took it."""
    if state is PopupState.RINGING:
        return True
    if not call.is_live or state is PopupState.STALE:
        return False
    if call.outcome in (Outcome.ANSWERED_ELSEWHERE, Outcome.DIVERTED, Outcome.TRANSFERRED):
        return False
    return call.answered_by is not None and call.answered_by == own_device


def popup_view(
    call: Call,
    *,
    caller: Caller,
    ringing_device: str,
    own_device: str | None,
    crm_template: str = "",
    close_after: float = 8.0,
    forwarded_from: str | None = None,
    transferred_by: str | None = None,
    stale_after: float | None = None,
    display: Display | None = None,
) -> PopupView:
    """The popup of `call` ringing (or having rung) at `ringing_device`.

    `forwarded_from` / `transferred_by`: what the Delivered event said about how the call
    came here (they win over what the call's hops tell).  `close_after`: the user's setting
    (0: popups stay until dismissed).  `stale_after`: set when the popup was given up after
    ringing that many seconds without news (it then closes whatever the setting).
    `display`: how numbers from the PBX are shown (the caller's is in `caller` already)."""
    name = caller.name or None
    company = caller.company or None
    shown_number = caller.display_number
    if name:
        title, number = name, shown_number
    elif call.remote_kind == "restricted":
        title, number = translate("Views", "Withheld number"), ""
    elif not shown_number:
        title, number = translate("Views", "Unknown number"), ""
    else:
        title, number = shown_number, ""
    copy_text = dialable(shown_number) if call.remote_kind == "number" else ""

    state = popup_state(call, ringing_device)
    if stale_after is not None and state is PopupState.RINGING:
        state = PopupState.STALE
    ringing = state is PopupState.RINGING
    where = (
        translate("Views", "Ringing at {device}")
        if ringing
        else translate("Views", "Rang at {device}")
    ).format(device=ringing_device)
    if call.called_number and call.called_number != ringing_device:
        where = translate("Views", "{where} · line {number}").format(
            where=where, number=texts.party(call.called_number, display)
        )

    derived_from, derived_by = redirection(call, ringing_device)
    forwarded_from = forwarded_from or derived_from
    transferred_by = transferred_by or derived_by
    parts = []
    if forwarded_from:
        parts.append(
            translate("Views", "Forwarded from {device}").format(
                device=texts.party(forwarded_from, display)
            )
        )
    if transferred_by:
        parts.append(
            translate("Views", "Transferred by {device}").format(
                device=texts.party(transferred_by, display)
            )
        )

    if state is PopupState.STALE:
        minutes = round((stale_after or 0) / 60)
        text = (
            translate("Views", "No news from the PBX for {minutes}").format(
                minutes=texts.count("minutes", minutes)
            )
            if minutes >= 2
            else translate("Views", "No news from the PBX")
        )
    else:
        text = state_text(call, ringing_device, display)

    actions = set()
    if ringing and own_device and ringing_device == own_device:
        actions.add(Action.ANSWER)
    if ringing or state is PopupState.ANSWERED_HERE and ringing_device == own_device:
        actions.add(Action.PUT_THROUGH)
    if copy_text:
        actions.add(Action.COPY_NUMBER)
    if not ringing and state is not PopupState.STALE:
        actions.add(Action.NOTE)
    crm_url = ""
    if copy_text and crm_template:
        crm_url = fill_url_template(crm_template, number=copy_text, name=name)
        actions.add(Action.OPEN_CRM)

    closes_in: float | None = None
    if not _stays(call, state, own_device):
        if close_after > 0:
            closes_in = float(close_after)
        elif state is PopupState.STALE:
            closes_in = STALE_CLOSE_SECONDS  # given up: it goes even when popups stay
    return PopupView(
        key=call.key,
        title=title,
        name=name,
        company=company,
        number=number,
        where=where,
        redirect=" · ".join(parts),
        forwarded_from=forwarded_from,
        transferred_by=transferred_by,
        trunk=call.trunk,
        state=state,
        answered_by=call.answered_by,
        state_text=text,
        accent=_accent(call, state),
        ringing_device=ringing_device,
        actions=frozenset(actions),
        copy_text=copy_text,
        crm_url=crm_url,
        closes_in=closes_in,
    )


_COLLEAGUE_STATE_TEXT = {
    ColleagueState.FREE: QT_TRANSLATE_NOOP("Views", "Free"),
    ColleagueState.RINGING: QT_TRANSLATE_NOOP("Views", "Ringing"),
    ColleagueState.BUSY: QT_TRANSLATE_NOOP("Views", "On a call"),
    ColleagueState.HELD: QT_TRANSLATE_NOOP("Views", "On hold"),
    ColleagueState.DO_NOT_DISTURB: QT_TRANSLATE_NOOP("Views", "Do not disturb"),
    ColleagueState.FORWARDED: QT_TRANSLATE_NOOP("Views", "Forwarded"),
    ColleagueState.NOT_MONITORED: QT_TRANSLATE_NOOP("Views", "Not monitored"),
    ColleagueState.UNKNOWN: QT_TRANSLATE_NOOP("Views", "Not known"),
}
#: The tooltip's first sentence for the states that need no one to talk to ({who}: the name,
#: else the number).
_COLLEAGUE_SENTENCE = {
    ColleagueState.FREE: QT_TRANSLATE_NOOP("Views", "{who}: free."),
    ColleagueState.DO_NOT_DISTURB: QT_TRANSLATE_NOOP("Views", "{who}: do not disturb."),
    ColleagueState.FORWARDED: QT_TRANSLATE_NOOP("Views", "{who}: forwarded."),
}
_LAMPS = {
    ColleagueState.FREE: "free",
    ColleagueState.RINGING: "ringing",
    ColleagueState.BUSY: "busy",
    ColleagueState.HELD: "held",
    ColleagueState.DO_NOT_DISTURB: "away",
    ColleagueState.FORWARDED: "away",
    ColleagueState.NOT_MONITORED: "off",
    ColleagueState.UNKNOWN: "off",
}


def party_text(name: str | None, display_number: str, kind: str = "number") -> str:
    """A party as a short text: the name, else the number, else "Withheld number"."""
    if name:
        return name
    if kind == "restricted":
        return translate("Views", "Withheld number")
    return display_number


def colleague_view(
    status: ColleagueStatus,
    *,
    name: str | None,
    party: str,
    own_device: str | None,
    display: Display | None = None,
) -> ColleagueView:
    """The panel's line for `status`; `name` the colleague's, `party` who they talk to
    (`party_text`), both as the desk found them; `display`: how the number a phone is
    forwarded to is shown."""
    state = status.state
    text = translate("Views", _COLLEAGUE_STATE_TEXT[state])
    forwarded_to = texts.party(status.forwarded_to, display)
    if state is ColleagueState.FORWARDED and forwarded_to:
        text = translate("Views", "Forwarded to {device}").format(device=forwarded_to)
    sentences = []
    who = name or status.device
    if state is ColleagueState.BUSY:
        sentences.append(
            (
                translate("Views", "{who} is on a call with {party}.")
                if party
                else translate("Views", "{who} is on a call.")
            ).format(who=who, party=party)
        )
    elif state is ColleagueState.RINGING:
        sentences.append(
            (
                translate("Views", "A call rings at {who}: {party}.")
                if party
                else translate("Views", "A call rings at {who}.")
            ).format(who=who, party=party)
        )
    elif state is ColleagueState.HELD:
        sentences.append(
            (
                translate("Views", "{who} holds a call with {party}.")
                if party
                else translate("Views", "{who} holds a call.")
            ).format(who=who, party=party)
        )
    elif state in (ColleagueState.NOT_MONITORED, ColleagueState.UNKNOWN):
        sentences.append(
            translate("Views", "{state}: {why}.").format(state=text, why=status.why)
            if status.why
            else translate("Views", "{state}.").format(state=text)
        )
    elif state is ColleagueState.FORWARDED and forwarded_to:
        sentences.append(
            translate("Views", "{who}: forwarded to {device}.").format(who=who, device=forwarded_to)
        )
    else:
        sentences.append(translate("Views", _COLLEAGUE_SENTENCE[state]).format(who=who))
    if status.calls > 1:
        sentences.append(texts.count("calls there", status.calls))
    if status.ringing and state is not ColleagueState.RINGING:
        sentences.append(translate("Views", "Another call rings there."))
    if status.do_not_disturb and state is not ColleagueState.DO_NOT_DISTURB:
        sentences.append(translate("Views", "Do not disturb is on."))
    if forwarded_to and state is not ColleagueState.FORWARDED:
        sentences.append(translate("Views", "Forwarded to {device}.").format(device=forwarded_to))
    return ColleagueView(
        device=status.device,
        name=name or "",
        state=state,
        state_text=text,
        party=party,
        since=status.since,
        lamp=_LAMPS[state],
        detail=" ".join(sentences),
        can_pick_up=status.ringing and status.device != own_device,
        is_you=status.device == own_device,
        search_text=" ".join(x for x in (name or "", status.device, party) if x).lower(),
    )


def elapsed_text(since: datetime | None, now: datetime) -> str:
    """The time passed since `since` as "2:31" ("" when not known)."""
    if since is None:
        return ""
    return format_duration((now - since).total_seconds())


#: How long a given-up (stale) popup stays when the user's setting keeps popups forever.
STALE_CLOSE_SECONDS = 10.0


__all__ = [
    "Action",
    "CallAction",
    "Caller",
    "ColleagueView",
    "Display",
    "HistoryHealth",
    "Level",
    "LineState",
    "LinkStatus",
    "Notice",
    "OwnLineView",
    "PopupState",
    "PopupView",
    "colleague_view",
    "dialable",
    "elapsed_text",
    "format_duration",
    "is_ringing",
    "party_text",
    "popup_view",
    "redirection",
    "state_text",
]
