"""A PBX that refuses the association: for good (wrong credentials: stop) or for now (all CSTA
links in use, or the socket closed after the AARQ: say so and retry), in the client, the
`monitor` command and the app's link service.  Real TCP on 127.0.0.1: the simulator (4 links at
most, as OpenScape Business) and raw fake PBXs that answer the AARQ with chosen AARE bytes."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from cstapopup.calls import link as link_module
from cstapopup.calls.link import LinkChange, LinkFault, LinkState, PbxLink
from cstapopup.csta import acse, codec
from cstapopup.csta.client import (
    AssociationError,
    AssociationRejectedError,
    AssociationTransientError,
    ConnectError,
    CstaClient,
)
from cstapopup.csta.framing import FrameReader, frame
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.settings import ConnectionParameters

from .client_helpers import Collector, fast_options, running
from .monitor_process import MonitorProcess

TIMEOUT = 15.0
IN_USE = "all CSTA links of the PBX are in use"


async def fill_links(server: SwitchServer, n: int = 4) -> list[CstaClient]:
    """Take `n` links of the simulator with clients that stay up."""
    clients = []
    for _ in range(n):
        c = CstaClient("127.0.0.1", server.port, options=fast_options(reconnect=False))
        await asyncio.wait_for(c.connect(), TIMEOUT)
        clients.append(c)
    assert len(server.associated_links) == n
    return clients


async def close_all(clients: list[CstaClient]) -> None:
    for c in clients:
        await asyncio.wait_for(c.close(timeout=1.0), TIMEOUT)


# The client against the simulator -------------------------------------------------------


async def test_a_fifth_link_is_told_all_links_are_in_use_not_a_wrong_password():
    async with running(SwitchServer(port=0, devices="100-101", max_links=4)) as server:
        held = await fill_links(server)
        try:
            fifth = CstaClient("127.0.0.1", server.port, options=fast_options())
            with pytest.raises(AssociationTransientError) as info:
                await asyncio.wait_for(fifth.connect(), TIMEOUT)
            err = info.value
            assert isinstance(err, ConnectError) and not isinstance(err, AssociationRejectedError)
            assert (err.result, err.diagnostic) == (acse.REJECTED_TRANSIENT, acse.DIAG_NO_REASON)
            assert err.diagnostic_name == "no-reason-given"
            assert IN_USE in str(err)
            assert "password" not in str(err)
        finally:
            await close_all(held)


async def test_a_fifth_link_keeps_retrying_and_comes_up_when_a_link_frees():
    async with running(SwitchServer(port=0, devices="100-101", max_links=4)) as server:
        held = await fill_links(server)
        fifth = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(fifth, TIMEOUT)
        try:
            await fifth.start()

            def refusals() -> list:
                return [s for s in col.states if s.state == "down"
                        and isinstance(s.error, AssociationTransientError)]

            await col.wait(lambda: len(refusals()) >= 3)
            assert all(IN_USE in s.reason and s.retry_in is not None for s in refusals())
            assert not any(s.state == "rejected" for s in col.states)
            await held.pop().close(timeout=1.0)
            await col.wait(lambda: any(s.state == "up" for s in col.states))
            handle = await asyncio.wait_for(fifth.monitor_start("100"), TIMEOUT)
            assert handle.active and fifth.last_error is None
        finally:
            await fifth.close(timeout=1.0)
            await col.stop()
            await close_all(held)


async def test_a_wrong_password_is_a_permanent_authentication_failure_and_not_retried():
    async with running(SwitchServer(port=0, devices="100-101", password="secret")) as server:
        client = CstaClient("127.0.0.1", server.port, "AMHOST", "wrong",
                            options=fast_options())  # reconnect on: it still must stop
        col = Collector(client, TIMEOUT)
        try:
            await client.start()
            await asyncio.wait_for(client.wait_finished(), TIMEOUT)
            await col.wait(lambda: any(s.state == "rejected" for s in col.states))
            assert client.state == "rejected"
            err = client.last_error
            assert isinstance(err, AssociationRejectedError)
            assert (err.result, err.diagnostic) == (acse.REJECTED_PERMANENT,
                                                    acse.DIAG_AUTHENTICATION_FAILURE)
            assert "password" in str(err) and "authentication-failure" in str(err)
            rejected = next(s for s in col.states if s.state == "rejected")
            assert rejected.error is err
            assert [s.state for s in col.states].count("connecting") == 1
        finally:
            await client.close(timeout=1.0)
            await col.stop()


# Every plausible form of refusal, from a raw PBX --------------------------------------------

def aare(result: int, diagnostic: int, provider: bool = False) -> bytes:
    """An AARE in the layout the Perl client expects (hipath-csta.md §2), written by hand:
    application context, result, result-source-diagnostic (service user [1] or provider [2])."""
    source = 0xA2 if provider else 0xA1
    body = (bytes.fromhex("A1 07 06 05 2B 0C 00 81 5A") + bytes((0xA2, 3, 2, 1, result))
            + bytes((0xA3, 5, source, 3, 2, 1, diagnostic)))
    return frame(bytes((0x61, len(body))) + body)


ABRT = bytes.fromhex("26 80 08 64 06 80 01 00 81 01 01")  # as the Perl client sends it


async def raw_pbx(answer: str | bytes):
    """A server that reads the AARQ and answers with `answer` (bytes), or closes ("close") or
    resets ("reset") the connection.  Counts the association requests it got."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = FrameReader()
        try:
            while data := await reader.read(4096):
                apdus = frames.feed(data)
                if not apdus:
                    continue
                seen.append(apdus[0])
                if answer == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if answer != "close":
                    writer.write(answer)
                    await writer.drain()
                break
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


PERMANENT = [
    pytest.param(aare(1, 13), 13, "authentication-failure", id="permanent-authentication-failure"),
    pytest.param(aare(1, 1), 1, "no-reason-given", id="permanent-no-reason"),
    pytest.param(aare(1, 14), 14, "authentication-required", id="permanent-auth-required"),
    pytest.param(aare(1, 2), 2, "application-context-name-not-supported", id="permanent-context"),
]


@pytest.mark.parametrize(("answer", "diagnostic", "name"), PERMANENT)
async def test_a_permanent_refusal_stops_with_its_diagnostic_in_words(answer, diagnostic, name):
    server, port, seen = await raw_pbx(answer)
    client = CstaClient("127.0.0.1", port, options=fast_options())
    col = Collector(client, TIMEOUT)
    try:
        await client.start()
        await asyncio.wait_for(client.wait_finished(), TIMEOUT)
        err = client.last_error
        assert client.state == "rejected" and isinstance(err, AssociationRejectedError)
        assert (err.result, err.diagnostic, err.diagnostic_name) == (1, diagnostic, name)
        assert name in str(err)
        if diagnostic == 2:
            assert "check the host and port" in str(err)
        else:
            assert "password" in str(err) and "links" not in str(err)
        assert len(seen) == 1  # one attempt only
        assert isinstance(codec.decode_apdu(seen[0]), codec.AssociationRequest)
    finally:
        await client.close(timeout=1.0)
        await col.stop()
        server.close()
        await server.wait_closed()


TRANSIENT = [
    pytest.param(aare(2, 1), IN_USE, id="transient-no-reason"),
    pytest.param(aare(2, 0), IN_USE, id="transient-null"),
    pytest.param(aare(2, 1, provider=True), IN_USE, id="transient-provider-no-reason"),
    pytest.param(aare(2, 14), "requires a user name and password", id="transient-auth-required"),
    pytest.param("close", "all CSTA links of the PBX are probably in use", id="closed-after-aarq"),
    pytest.param("reset", "all CSTA links of the PBX are probably in use", id="reset-after-aarq"),
    pytest.param(ABRT, "all CSTA links of the PBX are probably in use", id="abort-after-aarq"),
]


@pytest.mark.parametrize(("answer", "words"), TRANSIENT)
async def test_a_transient_refusal_is_said_in_words_and_retried(answer, words):
    server, port, seen = await raw_pbx(answer)
    client = CstaClient("127.0.0.1", port, options=fast_options())
    col = Collector(client, TIMEOUT)
    try:
        await client.start()
        await col.wait(lambda: sum(s.state == "down" for s in col.states) >= 3)
        downs = [s for s in col.states if s.state == "down"]
        for s in downs:
            assert isinstance(s.error, AssociationTransientError), s
            assert words in s.reason and s.retry_in is not None
            assert "password" not in s.reason or "requires" in words
        assert client.state != "rejected" and len(seen) >= 3
        if isinstance(answer, bytes) and answer[3] == 0x61:
            assert downs[0].error.result == 2
        else:
            assert downs[0].error.result is None  # no AARE at all
    finally:
        await client.close(timeout=1.0)
        await col.stop()
        server.close()
        await server.wait_closed()


def test_rejection_errors_are_typed():
    assert issubclass(AssociationRejectedError, AssociationError)
    assert issubclass(AssociationTransientError, AssociationError)
    assert issubclass(AssociationTransientError, ConnectError)
    assert not issubclass(AssociationTransientError, AssociationRejectedError)
    assert not issubclass(AssociationRejectedError, ConnectError)


# `cstapopup monitor` ---------------------------------------------------------------------


async def test_monitor_once_on_a_full_pbx_says_so_and_exits_4():
    async with running(SwitchServer(port=0, devices="100-101", max_links=4)) as server:
        held = await fill_links(server)
        try:
            proc = await MonitorProcess.start("--port", str(server.port), "-d", "100", "--once")
            try:
                rc = await proc.exit_code()
            finally:
                await proc.kill()
        finally:
            await close_all(held)
    assert rc == 4, proc.stderr
    assert IN_USE in proc.stderr and "password" not in proc.stderr


async def test_monitor_with_a_wrong_password_exits_3_even_without_once():
    async with running(SwitchServer(port=0, devices="100-101", password="secret")) as server:
        proc = await MonitorProcess.start("--port", str(server.port), "-d", "100",
                                          "--password", "wrong")
        try:
            rc = await proc.exit_code()
        finally:
            await proc.kill()
    assert rc == 3, proc.stderr
    assert "authentication-failure" in proc.stderr and "password" in proc.stderr
    assert proc.count("link connecting") == 1  # no second attempt


async def test_monitor_on_a_full_pbx_keeps_retrying_and_connects_when_a_link_frees():
    async with running(SwitchServer(port=0, devices="100-101", max_links=4)) as server:
        held = await fill_links(server)
        proc = await MonitorProcess.start("--port", str(server.port), "-d", "100")
        try:
            await proc.wait_line(IN_USE, times=2)
            assert proc.proc.returncode is None
            await held.pop().close(timeout=1.0)
            await proc.wait_line("monitoring 100")
            await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=TIMEOUT)
            rc, _ = await proc.stop()
        finally:
            await proc.kill()
            await close_all(held)
    assert rc == 0, proc.stderr
    assert "link up" in proc.stderr and "password" not in proc.stderr


# The app's link service ------------------------------------------------------------------


def params(port: int, password: str = "77777") -> ConnectionParameters:
    return ConnectionParameters(host="127.0.0.1", port=port, user="AMHOST", password=password)


class States:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.changes: list[LinkChange] = []
        self.changed = asyncio.Event()

    def __call__(self, change: LinkChange) -> None:
        self.seen.append((change.state, change.text))
        self.changes.append(change)
        self.changed.set()

    async def wait(self, predicate) -> None:
        async def loop() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), TIMEOUT)


async def test_the_app_link_says_all_links_are_in_use_retries_and_comes_up():
    async with running(SwitchServer(port=0, devices="100-101", max_links=4)) as server:
        held = await fill_links(server)
        states = States()
        link = PbxLink(params(server.port), ["100"], on_state=states,
                       on_event=lambda d, e: None, options=fast_options())
        try:
            await link.start()
            await states.wait(lambda: sum(s == "down" and IN_USE in r
                                          for s, r in states.seen) >= 2)
            assert all("retrying in" in r for s, r in states.seen if s == "down")
            assert "rejected" not in [s for s, _ in states.seen]
            # Typed, not parsed: the PBX turned the link down for now.
            assert {c.fault for c in states.changes if c.state == "down"} == {LinkFault.BUSY}
            await held.pop().close(timeout=1.0)
            await states.wait(lambda: link.state == "up")
            assert "monitoring 100" in link.reason
            await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=TIMEOUT)
        finally:
            await link.stop(timeout=1.0)
            await close_all(held)


async def test_the_app_link_stops_on_a_wrong_password_and_says_why():
    async with running(SwitchServer(port=0, devices="100-101", password="secret")) as server:
        states = States()
        link = PbxLink(params(server.port, "wrong"), ["100"], on_state=states,
                       on_event=lambda d, e: None, options=fast_options())
        try:
            await link.start()
            await states.wait(lambda: link.state == "rejected")
            assert link._task is not None and link._task.done()
            assert "refused the login of AMHOST" in link.reason
            assert "password" in link.reason and "authentication-failure" in link.reason
            assert [s for s, _ in states.seen].count("connecting") == 1
            assert states.changes[-1].state is LinkState.REJECTED
            assert states.changes[-1].fault is LinkFault.REJECTED
            assert link.client.state == "rejected"
        finally:
            await link.stop(timeout=1.0)


async def test_the_settings_test_connection_says_all_links_are_in_use():
    async with running(SwitchServer(port=0, devices="100-101", max_links=4)) as server:
        held = await fill_links(server)
        try:
            with pytest.raises(RuntimeError, match=IN_USE):
                await link_module.test_connection(params(server.port), timeout=5.0)
        finally:
            await close_all(held)


async def test_the_settings_test_connection_says_wrong_password():
    async with running(SwitchServer(port=0, devices="100-101", password="secret")) as server:
        with pytest.raises(RuntimeError, match="refused the login.*password"):
            await link_module.test_connection(params(server.port, "wrong"), timeout=5.0)

