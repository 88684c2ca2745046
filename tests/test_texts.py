"""The words the user reads (calls/texts.py), without Qt: counts in their singular and plural,
durations that keep number and unit together, outcomes with numbers as the app shows them,
initials that never look like a control, and connection failures in plain words, from the
client's typed errors of real (or, where the network cannot be used, simulated) failures."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstapopup.calls import texts
from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.calls.numbers import NumberingPlan, display_number
from cstapopup.csta.client import ClientOptions, ConnectError, CstaClient

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def shown(number: str) -> str:
    return display_number(number, NumberingPlan())


# --- counts --------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(texts.COUNTED) + sorted(texts.CLI_COUNTED))
def test_one_of_a_thing_is_never_counted_in_the_plural(key: str) -> None:
    fields = {"shown": "1", "ringing": 1, "first": "089 1234567", "others": 0}
    one = texts.count(key, 1, **fields)
    two = texts.count(key, 2, **fields)
    assert not re.search(r"\b1\W\w+s\b", one), one       # no "1 calls", "1 minutes"
    assert "{" not in one and "{" not in two and "%" not in one + two
    singular, plural = {**texts.COUNTED, **texts.CLI_COUNTED}[key]
    assert one == singular.replace("%Ln", "1").format(**fields)
    assert two == plural.replace("%Ln", "2").format(**fields)


def test_counts_read_as_english() -> None:
    assert texts.count("calls", 0) == "0 calls"
    assert texts.count("calls", 1) == "1 call"
    assert texts.count("calls", 1234) == "1,234 calls"
    assert texts.count("missed calls", 1) == "1 missed call"
    assert texts.count("more calls", 1) == "+1 more call"
    assert texts.count("more calls, ringing", 3, ringing=1) == "+3 more calls (1 ringing)"
    assert texts.count("delete calls", 1) == "Delete this call from the history?"
    assert texts.count("delete calls", 4) == "Delete these 4 calls from the history?"
    assert texts.count("copied", 1, first="089 1", others=0) == "Copied 089 1"
    assert texts.count("copied", 3, first="089 1", others=2) == "Copied 089 1 and 2 more"
    assert texts.count("calls shown", 4, shown="2") == "(2 of 4 calls shown; --limit 0 shows all)"
    assert texts.count("calls shown", 1, shown="1") == "(1 of 1 call shown; --limit 0 shows all)"
    assert texts.count("values need attention", 1) == "One value needs attention"


# --- durations -----------------------------------------------------------------------------------

def test_durations_keep_number_and_unit_together() -> None:
    assert texts.seconds(8) == "8\u00a0s"
    assert texts.seconds(0.25) == "0.2\u00a0s" or texts.seconds(0.25) == "0.3\u00a0s"
    assert texts.count("minutes", 5) == "5\u00a0minutes"
    assert texts.count("minutes", 1) == "1\u00a0minute"
    assert texts.clock(151) == "2:31" and texts.clock(3723) == "1:02:03"


# --- calls ---------------------------------------------------------------------------------------

def call(**changes) -> Call:
    base = Call(key="k", direction=Direction.OUTGOING, started_at=T0,
                remote_number="003023125206", local_devices=("100",),
                answered_at=T0 + timedelta(seconds=3), ended_at=T0 + timedelta(seconds=60),
                outcome=Outcome.ANSWERED, answered_by="003023125206",
                hops=(Hop("originated", "100", T0),
                      Hop("answered", "003023125206", T0 + timedelta(seconds=3))))
    return base.evolve(**changes)


def test_every_number_in_an_outcome_is_shown_as_the_number_column_shows_it() -> None:
    outgoing = call()
    assert texts.remote_text(outgoing, shown) == "030 23125206"
    assert texts.outcome_text(outgoing, shown) == "answered at 030 23125206"
    assert texts.outcome_text(call(outcome=Outcome.TRANSFERRED, transferred_to="001519375336"),
                              shown) == "transferred to 01519375336"
    assert texts.outcome_text(call(outcome=Outcome.DIVERTED, diverted_to="00893414930"),
                              shown) == "forwarded to 089 3414930"
    assert texts.outcome_text(call(outcome=Outcome.ANSWERED, answered_by="101"),
                              shown) == "answered at 101"
    assert texts.hops_text(outgoing, shown) == "originated 100 → answered 030 23125206"
    missed = call(outcome=Outcome.MISSED, answered_by=None, answered_at=None, done=True)
    assert texts.outcome_text(missed, shown) == "missed (done)"


def test_consultations_and_calls_given_up_in_words() -> None:
    at = T0
    assert texts.hop_text(Hop("consulted", "100", at, "102")) == "consulted 102"
    assert texts.hop_text(Hop("consulted", "100", at, "004930123456"), shown) == \
        "consulted 030 123456"
    assert texts.hop_text(Hop("consulted", "100", at, None)) == "consultation by 100"
    assert texts.hop_text(Hop("consultation", "100", at, "00891234567"), shown) == \
        "consultation by 100 during the call with 089 1234567"
    assert texts.hop_text(Hop("consultation", "100", at, None)) == "consultation by 100"
    assert texts.hop_text(Hop("stale", None, at)) == "given up: no news for hours"
    assert texts.hop_text(Hop("overflow", None, at)) == "given up: too many calls at once"


def test_what_an_empty_history_says() -> None:
    assert texts.empty_history_text(history_empty=True) == "No calls in the history yet."
    assert texts.empty_history_text(history_empty=True, search="x") == \
        "No calls in the history yet."
    assert texts.empty_history_text(history_empty=False, search="müller") == \
        "No calls match “müller”."
    assert texts.empty_history_text(history_empty=False, search="müller", kind="missed") == \
        "No missed calls match “müller”."
    assert texts.empty_history_text(history_empty=False, kind="outgoing") == \
        "No outgoing calls."
    assert texts.empty_history_text(history_empty=False) == "No calls match."


# --- initials ------------------------------------------------------------------------------------

STROKES = set("Il|1!ǀ")


@pytest.mark.parametrize(("name", "expected"), [
    ("Anna Schmidt", "AS"),
    ("Dr. Anna Schmidt", "AS"),
    ("Mustermann, Erika", "ME"),
    ("Ingrid Internruf", "IN"),       # not "II", a pause button
    ("Ida Ilk", "ID"),
    ("Ingrid", "IN"),
    ("I", ""),                        # one letter alone: a person instead
    ("X", ""),
    ("I I", ""),
    ("|| ||", ""),
    ("", ""),
    (None, ""),
])
def test_initials(name: str | None, expected: str) -> None:
    assert texts.initials(name) == expected


@given(st.text(alphabet=st.sampled_from("IilL1|! .,-ÄabMxyzǀ"), max_size=20))
@settings(max_examples=500, deadline=None)
def test_initials_never_look_like_a_control(name: str) -> None:
    text = texts.initials(name)
    assert text == "" or (len(text) == 2 and not set(text) <= STROKES)


def test_every_demo_phonebook_name_gets_initials_that_read_as_letters() -> None:
    from cstapopup import resources
    from cstapopup.calls.phonebook import read_contacts

    names = [c.name for f in ("demo/phonebook.csv", "demo/phonebook.vcf")
             for c in read_contacts(resources.path(f))[0] if c.name]
    assert "Ingrid Internruf" in names
    for name in names:
        text = texts.initials(name)
        assert len(text) == 2 and not set(text) <= STROKES, name


# --- connection failures in words ----------------------------------------------------------------

async def failed_connect(host: str, port: int, **options) -> ConnectError:
    client = CstaClient(host, port, options=ClientOptions(**options))
    with pytest.raises(ConnectError) as info:
        await client.connect()
    return info.value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_refused_connection_in_words() -> None:
    port = free_port()
    error = await failed_connect("127.0.0.1", port, connect_timeout=3)
    assert error.cause == "refused" and (error.host, error.port) == ("127.0.0.1", port)
    problem = texts.link_problem(error)
    assert problem.words.startswith(f"the PBX at 127.0.0.1 does not accept connections on "
                                    f"port {port} — check the port in the settings")
    assert problem.detail == "Connection refused"


async def test_an_unknown_host_in_words(monkeypatch) -> None:
    # Name look-ups may not leave this machine: the resolver's failure is made here, with
    # the error getaddrinfo raises (EAI_NONAME) in the words the C library gives it.
    async def no_such_host(host, port, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio, "open_connection", no_such_host)
    error = await failed_connect("pbx.example", 7001, connect_timeout=3)
    assert error.cause == "unknown_host"
    problem = texts.link_problem(error)
    assert problem.words == ("the PBX address pbx.example is not known — check the PBX "
                             "address in the settings")
    assert "Name or service" not in problem.words
    assert problem.detail == "Name or service not known"


async def test_a_silent_pbx_in_words(monkeypatch) -> None:
    async def never(host, port, **kwargs):
        await asyncio.Event().wait()

    monkeypatch.setattr(asyncio, "open_connection", never)
    error = await failed_connect("192.0.2.10", 7001, connect_timeout=0.2)
    assert error.cause == "timeout"
    problem = texts.link_problem(error)
    assert problem.words.startswith("no answer from the PBX at 192.0.2.10 within 0.2\u00a0s")


async def test_a_port_that_takes_the_connection_but_never_the_login_in_words() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        error = await failed_connect("127.0.0.1", port, connect_timeout=0.3)
    finally:
        server.close()
    assert error.cause == "login_timeout"
    problem = texts.link_problem(error)
    assert "did not answer the login" in problem.words and "CSTA port" in problem.words
    assert "association" in problem.detail     # the technical account stays available


def test_the_pbx_own_refusals_keep_their_words() -> None:
    error = ConnectError("the PBX at 127.0.0.1:7001 refused the link for now: all CSTA links "
                         "of the PBX are in use", cause="association")
    assert texts.link_problem(error).words == str(error)


async def test_the_settings_connection_test_says_it_in_the_same_words() -> None:
    from cstapopup.calls.link import test_connection as try_login
    from cstapopup.settings import ConnectionParameters

    port = free_port()
    with pytest.raises(RuntimeError) as info:
        await try_login(ConnectionParameters("127.0.0.1", port, "AMHOST", None), timeout=3)
    assert str(info.value) == (f"the PBX at 127.0.0.1 does not accept connections on port "
                               f"{port} — check the port in the settings, and that CSTA is "
                               "switched on at the PBX\n(Details: Connection refused)")


def test_the_history_health_in_words_one_sentence_each_state() -> None:
    from cstapopup.calls.views import HistoryHealth  # the recorder's, as the UI gets it

    assert HistoryHealth().message is None and HistoryHealth().ok
    failing = HistoryHealth(saving=False, reason="the disk is full", waiting=1)
    assert failing.message == ("Calls are not being saved: the disk is full (1 waiting to be "
                               "written).")
    assert HistoryHealth(saving=False, reason="the disk is full", waiting=5000,
                         lost=12).message == ("Calls are not being saved: the disk is full "
                                              "(5,000 waiting to be written; 12 lost).")
    assert HistoryHealth(lost=1).message == ("Calls are being saved, but 1 call could not be "
                                             "kept while the history could not be written.")
    temporary = HistoryHealth(temporary="another program records into this history")
    assert not temporary.ok
    assert temporary.message == ("Calls are kept only until cstapopup ends: the call history "
                                 "cannot be used (another program records into this history).")
    assert texts.history_saved_again() == "Calls are being saved again."
    assert texts.history_saved_again(3) == "Calls are being saved again (3 lost meanwhile)."


def test_the_way_through_the_office_gateway_in_words() -> None:
    from cstapopup.gateway.broker import BrokerAuthError, BrokerConfigError, BrokerConnectError
    from cstapopup.gateway.client import (
        BrokerRefusedError,
        BrokerSetupError,
        BrokerUnreachableError,
        GatewayGoneError,
        GatewayPbxDownError,
        NoGatewayError,
    )

    where = {"broker": "mqtts://broker.office:8883", "user": "alice", "site": "office"}
    refused = texts.gateway_problem(
        BrokerRefusedError(BrokerAuthError("Not authorized (code 135)")), **where)
    assert refused == texts.LinkProblem(
        "the broker mqtts://broker.office:8883 refused the login of alice — check the broker "
        "user name and password in the settings", "Not authorized (code 135)")
    away = texts.gateway_problem(BrokerUnreachableError(BrokerConnectError(
        "broker mqtts://broker.office:8883: connection refused ([Errno 111])")), **where)
    assert away.words.startswith("the office's broker mqtts://broker.office:8883 cannot be "
                                 "reached — check the broker address")
    assert away.detail.endswith("connection refused ([Errno 111])")
    setup = texts.gateway_problem(BrokerSetupError(BrokerConfigError("ca.pem: no such file")),
                                  **where)
    assert setup == texts.LinkProblem("ca.pem: no such file")
    assert texts.gateway_problem(NoGatewayError("x"), **where).words == (
        "no office gateway answers for site “office” at the broker — check that it runs, and "
        "that the site in the settings is the gateway's")
    stopped = GatewayGoneError("x", reason="the office gateway was stopped", stopped=True)
    assert texts.gateway_problem(stopped, **where) == texts.LinkProblem(
        "the office gateway was stopped: no calls are shown until it runs again",
        "the office gateway was stopped")
    lost = GatewayGoneError("x", reason="the office gateway is gone", stopped=False)
    assert texts.gateway_problem(lost, **where).words.startswith(
        "the office gateway is gone: it lost its connection to the broker")
    pbx = GatewayPbxDownError("x", state="down", reason="connection to 192.0.2.1:7001 refused")
    assert texts.gateway_problem(pbx, **where) == texts.LinkProblem(
        "PBX down behind the office gateway: the gateway runs, but its link to the PBX is down",
        "connection to 192.0.2.1:7001 refused")


def test_link_notices_are_titled_by_what_went_wrong() -> None:
    assert texts.link_notice_title(None, lost=True) == "PBX link lost"
    assert texts.link_notice_title("unreachable", lost=False) == "Cannot connect to the PBX"
    assert texts.link_notice_title("pbx_down", lost=True) == "PBX down behind the office gateway"
    assert texts.link_notice_title("gateway_gone", lost=True) == "Office gateway gone"
    assert texts.link_notice_title("broker_unreachable", lost=False) == "Cannot reach the broker"
    assert texts.link_notice_title("no_gateway", lost=False) == "No office gateway"
