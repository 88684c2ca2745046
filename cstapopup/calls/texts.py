"""The words and formats the user reads, in one place and without Qt: counts (singular and
plural), durations, a call's outcome and other party, the avatar's initials, problems of the
PBX link in plain words, and what an empty history says.  The windows, the tray and the
`history` command all take their texts from here, so they say the same thing the same way.

Counts: every counted phrase is an entry of `COUNTED` (its singular and plural form), and
`count()` is the only place that picks a form.  A translation with Qt's plural forms
(``tr("%n call(s)", "", n)``) replaces that table and that function; no caller changes.

Durations keep their number and unit together with a no-break space (`NBSP`): "retrying in
8 s" must not wrap between the 8 and the s in a notification balloon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cstapopup.csta.client import ConnectError
from cstapopup.gateway.client import (
    BrokerRefusedError,
    BrokerSetupError,
    BrokerUnreachableError,
    GatewayGoneError,
    GatewayPbxDownError,
    NoGatewayError,
)

from .model import Call, Hop, Outcome

#: Between a number and its unit, so that a line never breaks between them.
NBSP = "\u00a0"

#: Every counted phrase the user sees: key -> (singular, plural).  ``{n}`` is the count
#: (with thousands separators); other fields are named by the caller.
COUNTED: dict[str, tuple[str, str]] = {
    "calls": ("{n} call", "{n} calls"),
    "calls shown": ("({shown} of {n} call shown; --limit 0 shows all)",
                    "({shown} of {n} calls shown; --limit 0 shows all)"),
    "missed calls": ("{n} missed call", "{n} missed calls"),
    "missed, not done": ("{n} missed, not done", "{n} missed, not done"),
    "history, missed": ("&History ({n} missed)", "&History ({n} missed)"),
    "more ringing": ("+{n} more ringing", "+{n} more ringing"),
    "more calls": ("+{n} more call", "+{n} more calls"),
    "more calls, ringing": ("+{n} more call ({ringing} ringing)",
                            "+{n} more calls ({ringing} ringing)"),
    "delete calls": ("Delete this call from the history?",
                     "Delete these {n} calls from the history?"),
    "copied": ("Copied {first}", "Copied {first} and {others} more"),
    "values need attention": ("One value needs attention", "{n} values need attention"),
    "too many popups": ("More than {n} call had a popup at once",
                        "More than {n} calls had a popup at once"),
    "minutes": ("{n}" + NBSP + "minute", "{n}" + NBSP + "minutes"),
    "times": ("once", "{n} times"),
    "calls there": ("{n} call there.", "{n} calls there."),
    "colleagues shown": ("Co&lleagues (the first {shown} of {n})",
                         "Co&lleagues (the first {shown} of {n})"),
    "callbacks skipped": ("{n} coroutine callback was skipped",
                          "{n} coroutine callbacks were skipped"),
}


def count(key: str, n: int, **fields: object) -> str:
    """The phrase `key` of COUNTED for `n` things, in the form `n` takes ("1 call", "2 calls")."""
    one, other = COUNTED[key]
    return (one if n == 1 else other).format(n=f"{n:,}", **fields)


# --- durations ---------------------------------------------------------------------------------

def seconds(value: float) -> str:
    """"8 s", "0.5 s" (a pause, a timeout), the unit kept on the number's line."""
    text = f"{value:.0f}" if value >= 1 else f"{value:.1f}"
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
    Outcome.IN_PROGRESS: "in progress",
    Outcome.ANSWERED: "answered",
    Outcome.MISSED: "missed",
    Outcome.ANSWERED_ELSEWHERE: "answered elsewhere",
    Outcome.BUSY: "busy",
    Outcome.FAILED: "failed",
    Outcome.ABANDONED: "not answered",
    Outcome.TRANSFERRED: "transferred",
    Outcome.DIVERTED: "forwarded",
    Outcome.UNKNOWN: "end unknown",
}


def _as_is(number: str) -> str:
    return number


def party(number: str | None, display: Display | None = None) -> str:
    """A device or number a call went to or came from, as shown: extensions as they are,
    outside numbers without the PBX's trunk digit."""
    if not number:
        return ""
    return (display or _as_is)(number)


def outcome_text(call: Call, display: Display | None = None) -> str:
    """How the call went, in a few words: "answered at 100", "forwarded to 0171 2345678",
    "missed (done)"; every number in it shown as `display` shows numbers."""
    text = _OUTCOME_WORDS.get(call.outcome, call.outcome.value.replace("_", " "))
    if call.outcome is Outcome.UNKNOWN and not call.end_unknown:
        # It ended, but part of it went by while the link was down (or before monitoring).
        text = "outcome unknown"
    if call.outcome is Outcome.ANSWERED and call.answered_by:
        text = f"answered at {party(call.answered_by, display)}"
    elif call.outcome is Outcome.ANSWERED_ELSEWHERE and call.answered_by:
        text = f"answered by {party(call.answered_by, display)}"
    elif call.outcome is Outcome.TRANSFERRED and call.transferred_to:
        text = f"transferred to {party(call.transferred_to, display)}"
    elif call.outcome is Outcome.DIVERTED and call.diverted_to:
        text = f"forwarded to {party(call.diverted_to, display)}"
    if call.is_missed and call.done:
        text += " (done)"
    return text


def remote_text(call: Call, display: Display | None = None) -> str:
    """The other party's number as shown, "withheld" or "unknown"."""
    if call.remote_kind == "restricted":
        return "withheld"
    if call.remote_kind == "not_known" or not call.remote_number:
        return "unknown"
    return party(call.remote_number, display)


def name_text(call: Call) -> str:
    """The other party's name and company: "Anna Schmidt (Schmidt & Partner)"."""
    name = call.remote_name or ""
    company = call.remote_company or ""
    if name and company:
        return f"{name} ({company})"
    return name or company


def hop_text(hop: Hop, display: Display | None = None) -> str:
    """One step of a call's way: "answered 100", "transferred 100 to 102" (where a transfer
    or a forwarding went, when the PBX said)."""
    text = f"{hop.kind.replace('_', ' ')} {party(hop.device, display)}".strip()
    if hop.kind in ("transferred", "diverted") and hop.detail and hop.detail.isdigit() \
            and hop.detail != hop.device:
        text += f" to {party(hop.detail, display)}"
    return text


def hops_text(call: Call, display: Display | None = None) -> str:
    """The way a call went, for people: "delivered 100 → answered 100 → transferred 100 to
    102"."""
    return " → ".join(hop_text(h, display) for h in call.hops)


def empty_history_text(*, history_empty: bool, search: str | None = None,
                       kind: str | None = None) -> str:
    """What an empty list of calls says: that the history has no calls at all, or that none
    match the search (and the filter, e.g. kind "missed")."""
    if history_empty:
        return "No calls in the history yet."
    calls = f"{kind} calls" if kind else "calls"
    if search:
        return f"No {calls} match “{search}”."
    if kind:
        return f"No {calls}."
    return "No calls match."


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
    words = ["".join(c for c in w if c.isalnum())
             for w in (name or "").replace(",", " ").split()
             if w[:1].isalnum() and not w.endswith(".")]
    words = [w for w in words if w]
    if not words:
        return ""
    first, last = words[0], words[-1]
    candidates = [first[:2]] if len(words) == 1 else [first[0] + last[0], first[:2],
                                                      first[0] + last[1:2]]
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
    host = error.host or "the PBX"
    at = f"the PBX at {host}" if error.host else "the PBX"
    detail = error.detail
    cause = error.cause
    if cause == "unknown_host":
        words = (f"the PBX address {host} is not known — check the PBX address in the "
                 "settings")
    elif cause == "lookup_failed":
        words = (f"the PBX address {host} could not be looked up — is this computer "
                 "connected to the network?")
    elif cause == "refused":
        port = f"port {error.port}" if error.port is not None else "its CSTA port"
        words = (f"{at} does not accept connections on {port} — check the port in the "
                 "settings, and that CSTA is switched on at the PBX")
    elif cause == "timeout":
        within = f" within {seconds(error.timeout)}" if error.timeout is not None else ""
        words = (f"no answer from {at}{within} — check that it is switched on and that the "
                 "address in the settings is right")
        detail = detail or str(error)
    elif cause == "login_timeout":
        words = (f"{at} took the connection but did not answer the login — check that the "
                 "port in the settings is the PBX's CSTA port")
        detail = detail or str(error)
    elif cause == "unreachable":
        words = f"{at} cannot be reached from this computer — check the network connection"
    elif cause == "no_network":
        words = "this computer is not connected to a network"
    else:   # TLS, certificates, the PBX's own refusals: their messages are words already
        return LinkProblem(str(error), detail)
    return LinkProblem(words, detail)


def gateway_problem(error: BaseException, *, broker: str, user: str = "",
                    site: str = "default") -> LinkProblem:
    """Why the way to the PBX through the office gateway is not up (the gateway client's
    typed reason) in plain words; the broker's or the gateway's own words go to `detail`."""
    if isinstance(error, BrokerRefusedError):
        who = user or "this computer (no user name set)"
        return LinkProblem(f"the broker {broker} refused the login of {who} — check the broker "
                           "user name and password in the settings", str(error.cause))
    if isinstance(error, BrokerSetupError):
        return LinkProblem(str(error.cause))
    if isinstance(error, BrokerUnreachableError):
        return LinkProblem(f"the office's broker {broker} cannot be reached — check the broker "
                           "address in the settings, and that this computer is on the office "
                           "network", str(error.cause))
    if isinstance(error, NoGatewayError):
        return LinkProblem(f"no office gateway answers for site “{site}” at the broker — check "
                           "that it runs, and that the site in the settings is the gateway's")
    if isinstance(error, GatewayGoneError):
        if error.stopped:
            return LinkProblem("the office gateway was stopped: no calls are shown until it "
                               "runs again", error.reason)
        return LinkProblem("the office gateway is gone: it lost its connection to the broker "
                           "(stopped, crashed or cut off)", error.reason)
    if isinstance(error, GatewayPbxDownError):
        return LinkProblem("PBX down behind the office gateway: the gateway runs, but its link "
                           "to the PBX is down", error.reason)
    return LinkProblem(str(error))


#: Titles of the notices about a link that went down or could not be made, by its fault
#: (calls.link.LinkFault values); the link of our own's are the defaults.
_LOST_TITLES = {
    "broker_unreachable": "Connection to the broker lost",
    "no_gateway": "Office gateway gone",
    "gateway_gone": "Office gateway gone",
    "pbx_down": "PBX down behind the office gateway",
}
_CONNECT_TITLES = {
    "broker_unreachable": "Cannot reach the broker",
    "no_gateway": "No office gateway",
    "gateway_gone": "Office gateway gone",
    "pbx_down": "PBX down behind the office gateway",
}


def link_notice_title(fault: str | None, *, lost: bool) -> str:
    """The title of the notice that the link was lost (`lost`) or could not be made."""
    if lost:
        return _LOST_TITLES.get(fault or "", "PBX link lost")
    return _CONNECT_TITLES.get(fault or "", "Cannot connect to the PBX")


def link_details(note: str = "", detail: str = "") -> str:
    """The lines under a link state (a window's link line's tooltip): what the user should
    know besides (`LinkStatus.note`), then the system's own words ("Details: ..."); "" when
    there are neither."""
    lines = [note[:1].upper() + note[1:]] if note else []
    if detail:
        lines.append(f"Details: {detail}")
    return "\n".join(lines)


def no_broker_password_note() -> str:
    """What the app says while it logs in to the broker without a password (none stored)."""
    return "logging in to the broker without a password because none is stored"


def factory_password_note(password: str) -> str:
    """What the app says while it logs in with the factory password because none is stored."""
    return f"using the HiPath factory password {password} because none is stored"


__all__ = [
    "COUNTED", "NBSP", "Display", "LinkProblem", "clock", "count", "empty_history_text",
    "factory_password_note", "gateway_problem", "hop_text", "hops_text", "initials",
    "link_details", "link_notice_title", "link_problem", "name_text",
    "no_broker_password_note", "outcome_text", "party", "remote_text", "seconds",
]
