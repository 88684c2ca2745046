"""Faults between the PBX, the gateway, the broker and the desktops: a broker restart, a
gateway restart, a PBX link loss, in a stream of random calls.  After recovery every
desktop's history (its events fed into a Recorder on a temporary SQLite file) must have every
call that was clear of the fault, as the simulator did it, and no call twice."""

from __future__ import annotations

import pytest

from cstapopup.csta.client import LinkStateChanged, MonitorSnapshot
from cstapopup.csta.switch.server import SwitchServer

from . import mosquitto_helpers
from .gateway_helpers import USERS, Desktop, RunningGateway, rows_by_gid
from .mosquitto_helpers import Mosquitto, wait_until

pytestmark = pytest.mark.skipif(not mosquitto_helpers.available(),
                                reason="mosquitto is not installed (apt-get install mosquitto)")

DEVICES = [str(d) for d in range(100, 106)]


def recovered_since(desk: Desktop, mark: int) -> bool:
    """Since item `mark` the link went down (the recorder closed what was in progress) and,
    after the last time it was not up, every device had its snapshot; it is up now."""
    items = desk.items[mark:]
    downs = [i for i, it in enumerate(items)
             if isinstance(it, LinkStateChanged) and it.state != "up"]
    if not downs or desk.client.state != "up":
        return False
    seen = {it.device for it in items[downs[-1]:] if isinstance(it, MonitorSnapshot)}
    return seen >= set(desk.devices)


def check(desk: Desktop, truth: dict, must: set[str]) -> list[str]:
    problems = []
    rows = rows_by_gid(desk.recorder)
    for gid, calls in rows.items():
        if gid is None or len(calls) != 1:
            problems.append(f"{gid}: {len(calls)} rows")
    for gid in must:
        calls = rows.get(gid, [])
        if len(calls) != 1:
            problems.append(f"{gid} ({truth[gid].outcome}): {len(calls)} rows")
            continue
        c, r = calls[0], truth[gid]
        got = (c.outcome.value, c.answered_by, c.transferred_to, c.diverted_to, c.direction.value)
        want = (r.outcome, r.answered_by, r.transferred_to, r.diverted_to, r.direction)
        if got != want or c.ended_at is None or c.end_unknown:
            problems.append(f"{gid}: history {got} != truth {want} (ended {c.ended_at})")
    return problems


def has_all(desk: Desktop, gids: set[str]) -> bool:
    rows = rows_by_gid(desk.recorder)
    return all(g in rows and all(c.ended_at is not None for c in rows[g]) for g in gids)


@pytest.mark.parametrize("fault", ["broker_restart", "gateway_restart", "pbx_link_loss"])
async def test_after_a_fault_every_desktop_has_every_call_clear_of_it_once(fault, tmp_path):
    broker = Mosquitto(tmp_path / "broker", users=dict(USERS))
    broker.start()
    server = SwitchServer(port=0, devices=DEVICES, demo=True, rate=30, speed=15, seed=11,
                          phonebook=None)
    await server.start()
    gw = RunningGateway(broker, server.port, DEVICES)
    desks = [Desktop(broker, DEVICES, tmp_path / f"desk{i}.sqlite3") for i in range(2)]
    try:
        await gw.start()
        await server.wait_for(lambda: all(server.monitors_of(d) == 1 for d in DEVICES), 10)
        for d in desks:
            await d.start()
        # Calls under way (or over) before the desktops were there are not theirs to have.
        seen_before = {r.global_call_id.hex() for r in server.records} | {
            c.global_call_id.hex() for c in server.model.calls.values()}
        await server.wait_for(lambda: len([r for r in server.records if r.global_call_id.hex()
                                           not in seen_before and not r.consultation]) >= 10, 90)
        truth = {r.global_call_id.hex(): r for r in server.records}
        before = {g for g, r in truth.items() if not r.consultation and g not in seen_before}
        for d in desks:
            await wait_until(lambda d=d: has_all(d, before), 20, "the calls before the fault")
        marks = [len(d.items) for d in desks]

        if fault == "broker_restart":
            broker.restart()
        elif fault == "gateway_restart":
            await gw.stop()
            gw = RunningGateway(broker, server.port, DEVICES)
            await gw.start()
        else:
            server.drop_link()

        for d, mark in zip(desks, marks):
            try:
                await wait_until(lambda d=d, mark=mark: recovered_since(d, mark), 30, "recovery")
            except TimeoutError:
                seen = [(type(i).__name__, getattr(i, "state", getattr(i, "device", "")))
                        for i in d.items[mark:] if not hasattr(i, "event")]
                raise AssertionError(f"no recovery: {d.client.state} {d.client.state_reason}; "
                                     f"since the fault: {seen}") from None
        at_recovery = {r.global_call_id.hex() for r in server.records} | {
            c.global_call_id.hex() for c in server.model.calls.values()}
        await server.wait_for(lambda: len([r for r in server.records if r.global_call_id.hex()
                                           not in at_recovery and not r.consultation]) >= 12, 90)
        truth = {r.global_call_id.hex(): r for r in server.records}
        after = {g for g, r in truth.items() if not r.consultation and g not in at_recovery}
        for d in desks:
            await wait_until(lambda d=d: has_all(d, after), 20, "the calls after the fault")
        assert len(before) >= 10 and len(after) >= 12
        for d in desks:
            assert check(d, truth, before | after) == []
        assert gw.gateway.stats.dropped == 0
    finally:
        for d in desks:
            await d.stop()
        await gw.stop()
        await server.stop()
        broker.stop()
