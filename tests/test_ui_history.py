"""The history window over a real SQLite store (offscreen Qt): lazy loading, live updates,
search as you type, filters, and what can be done with a call."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from cstapopup.calls.model import Call, Direction, Outcome
from cstapopup.calls.numbers import NumberingPlan, display_number, lookup_keys
from cstapopup.calls.store import HistoryStore
from cstapopup.ui.history_window import LIVE_ROWS, PAGE, HistoryWindow

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
PEOPLE = [("Anna Schmidt", "Schmidt & Partner"), ("Bernd Bauer", "Bauer GmbH"),
          ("Clara Meier", None), (None, None)]


def make_call(i: int, **changes) -> Call:
    name, company = PEOPLE[i % len(PEOPLE)]
    missed = i % 5 == 0
    call = Call(
        key=f"c{i}", direction=Direction.OUTGOING if i % 7 == 0 else Direction.INCOMING,
        started_at=T0 + timedelta(minutes=i), remote_number=f"00891234{i:03d}",
        remote_name=name, remote_company=company, local_devices=("100",), called_number="100",
        answered_at=None if missed else T0 + timedelta(minutes=i, seconds=5),
        ended_at=T0 + timedelta(minutes=i, seconds=65),
        outcome=Outcome.MISSED if missed else Outcome.ANSWERED,
        answered_by=None if missed else "100")
    return call.evolve(**changes) if changes else call


@pytest.fixture
def store(tmp_path: Path):
    plan = NumberingPlan()
    with HistoryStore(tmp_path / "h.sqlite3",
                      normalise=lambda raw: lookup_keys(raw, plan, from_pbx=True)) as s:
        yield s


def display(number: str) -> str:
    return display_number(number, NumberingPlan(), from_pbx=True)   # as the app shows them


@pytest.fixture
def window(qtbot, store):
    w = HistoryWindow(store, display_number=display)   # as the app builds it
    qtbot.addWidget(w)
    w.confirm = lambda question: True      # no modal question in tests
    w.show()
    qtbot.waitExposed(w)
    return w


def test_lazy_loading_fetches_one_page_then_more_on_scrolling(qtbot, store):
    store.upsert_many(make_call(i) for i in range(1000))
    w = HistoryWindow(store)
    qtbot.addWidget(w)
    model = w.model
    assert model.total == 1000
    assert model.loaded == PAGE                 # one page, not the whole history
    assert model.call_at(0).key == "c999"       # newest first
    assert model.canFetchMore()
    w.show()
    qtbot.waitExposed(w)
    # Scrolling to the end makes the view ask for more.
    w.table.scrollToBottom()
    qtbot.waitUntil(lambda: model.loaded >= 2 * PAGE, timeout=3000)
    assert model.call_at(model.loaded - 1).key == f"c{999 - model.loaded + 1}"
    while model.canFetchMore():
        model.fetchMore()
    assert model.loaded == 1000
    assert len({model.call_at(r).key for r in range(1000)}) == 1000   # no row twice


def test_live_calls_go_on_top_and_update_in_place(window, store):
    store.upsert_many(make_call(i) for i in range(3))
    window.apply_filters()
    live = make_call(10, ended_at=None, answered_at=None, answered_by=None,
                     outcome=Outcome.IN_PROGRESS)
    store.upsert(live)
    window.call_changed(live)
    assert window.model.loaded == 4 and window.model.call_at(0).key == "c10"
    assert window.model.data(window.model.index(0, 6)) == "in progress"
    done = live.evolve(answered_at=T0, answered_by="100", outcome=Outcome.ANSWERED,
                       ended_at=live.started_at + timedelta(seconds=90))
    window.call_changed(done)
    assert window.model.loaded == 4
    assert window.model.data(window.model.index(0, 6)) == "answered at 100"
    window.call_deleted("c10")
    assert window.model.loaded == 3


def test_a_flood_of_live_calls_keeps_the_loaded_rows_bounded(window, store):
    # Every new call goes on top; the table lets go of the oldest loaded rows beyond
    # LIVE_ROWS (they stay in the store, and scrolling fetches them again).
    model = window.model
    extra = 30
    for i in range(LIVE_ROWS + extra):
        call = make_call(i)
        store.upsert(call)
        window.call_changed(call)
    assert model.loaded == LIVE_ROWS and model.total == LIVE_ROWS + extra
    assert model.call_at(0).key == f"c{LIVE_ROWS + extra - 1}"
    assert model.call_at(LIVE_ROWS - 1).key == f"c{extra}"
    assert model.canFetchMore()
    while model.canFetchMore():
        model.fetchMore()
    assert model.loaded == LIVE_ROWS + extra
    assert len({model.call_at(r).key for r in range(model.loaded)}) == LIVE_ROWS + extra


def test_search_filters_as_you_type(window, store, qtbot):
    store.upsert_many(make_call(i) for i in range(40))
    window.apply_filters()
    assert window.model.loaded == 40
    QTest.keyClicks(window.search, "Bauer")
    # Nothing happens per keystroke; after the debounce the table shows the matches only.
    qtbot.waitUntil(lambda: window.model.loaded == 10, timeout=3000)
    assert {window.model.call_at(r).remote_name for r in range(10)} == {"Bernd Bauer"}
    assert window.summary.text().startswith("10 calls")
    window.search.clear()
    qtbot.waitUntil(lambda: window.model.loaded == 40, timeout=3000)
    QTest.keyClicks(window.search, "1234017")       # part of a number
    qtbot.waitUntil(lambda: window.model.loaded == 1, timeout=3000)
    assert window.model.call_at(0).key == "c17"


def test_missed_filter_and_highlighting(window, store):
    store.upsert_many(make_call(i) for i in range(20))
    window.filter_group.button(1).click()           # "Missed"
    model = window.model
    assert model.loaded == 4 and all(model.call_at(r).is_missed for r in range(4))
    index = model.index(0, 2)
    assert model.data(index, Qt.ItemDataRole.FontRole).bold()
    assert model.data(index, Qt.ItemDataRole.ForegroundRole) is not None
    # A live call that does not match the filter does not appear.
    window.call_changed(make_call(21))
    assert model.loaded == 4


def test_mark_done_delete_and_copy(window, store, qtbot):
    store.upsert_many(make_call(i) for i in range(6))   # c0 and c5 are missed
    window.apply_filters()
    changed = []
    window.history_changed.connect(lambda: changed.append(True))
    assert store.badge_count() == 2
    window.table.selectRow(0)                            # c5, missed
    assert window.model.call_at(0).key == "c5"
    window.mark_done()
    assert store.get("c5").done and store.badge_count() == 1
    assert "(done)" in window.model.data(window.model.index(0, 6))
    assert changed == [True]

    assert window.model.data(window.model.index(1, 3)) == "089 1234004"   # shown formatted
    window.table.selectRow(1)
    window.copy_numbers()
    assert QGuiApplication.clipboard().text() == "0891234004"             # copied dialable

    asked = []
    window.confirm = lambda question: asked.append(question) or False
    window.delete_selected()                             # declined: nothing deleted
    assert store.get("c4") is not None and asked == ["Delete this call from the history?"]
    window.confirm = lambda question: True
    window.delete_selected()
    assert store.get("c4") is None and window.model.loaded == 5
    assert len(changed) == 2


def test_call_back_asks_for_the_number(window, store, qtbot):
    store.upsert_many([make_call(1), make_call(2, remote_number=None, remote_kind="restricted")])
    window.apply_filters()
    messages = []
    window.status_message.connect(messages.append)
    with qtbot.waitSignal(window.call_back_requested, timeout=1000) as blocker:
        window.call_back(1)                              # c1 (older row)
    assert blocker.args == ["00891234001"]
    window.call_back(0)                                  # withheld: nothing to call
    assert messages[-1] == "This call has no number to call back."
    assert window.statusBar().currentMessage() == messages[-1]


def test_export_csv_writes_what_the_filters_show(window, store, tmp_path):
    store.upsert_many(make_call(i) for i in range(12))
    window.filter_group.button(1).click()                # missed: c0, c5, c10
    target = tmp_path / "out.csv"
    assert window.export_csv(str(target)) == 0
    with open(target, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    assert {r["outcome"] for r in rows} == {"missed"}
    assert window.export_csv(str(tmp_path / "missing" / "x.csv")) == 1   # error shown, no crash
    assert "Export failed" in window.summary.text()


def test_closing_the_main_window_minimises_it_when_it_is_the_app(window, qtbot):
    window.minimize_on_close = True
    window.close()
    assert window.isVisible()
    window.minimize_on_close = False
    window.close()
    assert not window.isVisible()


def test_unknown_outcomes_say_which_part_is_unknown():
    from cstapopup.ui.history_window import outcome_text

    lost = make_call(1, outcome=Outcome.UNKNOWN, ended_at=None, end_unknown=True)
    assert outcome_text(lost) == "end unknown"
    # it ended after a link loss (or began before monitoring): its end is known, not how it went
    gap = make_call(2, outcome=Outcome.UNKNOWN)
    assert outcome_text(gap) == "outcome unknown"


def test_tooltips_and_the_link_line_show_outside_text_as_it_is(window, store):
    from cstapopup.calls.model import Hop
    from tests.test_ui_popup import rendered

    # A device name from the PBX with markup.
    store.upsert(make_call(1, hops=(Hop("delivered", "<b>100</b>", T0),
                                    Hop("answered", "100", T0))))
    window.apply_filters()
    tooltip = window.model.data(window.model.index(0, 0), Qt.ToolTipRole)
    assert rendered(tooltip).endswith("delivered <b>100</b> → answered 100")
    window.set_link_status("Connected to <h1>pbx</h1>")
    assert window.link_label.textFormat() == Qt.TextFormat.PlainText


# --- one number format, counts, empty tables, titles ------------------------------------------

def test_every_column_shows_numbers_as_the_number_column_does(window, store):
    """An outgoing call answered by the outside party: its number is in the Number column,
    the Outcome column and the tooltip, always the same way (no trunk digit, grouped)."""
    from cstapopup.calls.model import Hop

    outgoing = make_call(1, direction=Direction.OUTGOING, remote_number="003023125206",
                         answered_by="003023125206", remote_name=None, remote_company=None,
                         hops=(Hop("originated", "100", T0),
                               Hop("answered", "003023125206", T0)))
    odd = make_call(2, remote_number="001519375336", outcome=Outcome.TRANSFERRED,
                    transferred_to="001519375336", remote_name=None, remote_company=None)
    store.upsert_many([outgoing, odd])
    window.apply_filters()
    model = window.model
    texts = {model.call_at(r).key: [model.data(model.index(r, c)) for c in range(7)]
             for r in range(2)}
    assert texts["c1"][3] == "030 23125206" and texts["c1"][6] == "answered at 030 23125206"
    # A number the formatter rejects still loses the PBX's trunk digit, everywhere.
    assert texts["c2"][3] == "01519375336" and texts["c2"][6] == "transferred to 01519375336"
    row = next(r for r in range(2) if model.call_at(r).key == "c1")
    tooltip = model.data(model.index(row, 6), Qt.ToolTipRole)
    assert tooltip.startswith("answered at 030 23125206\n")
    assert tooltip.endswith("originated 100 → answered 030 23125206")
    assert "0030" not in tooltip and "0030" not in model.data(model.index(row, 0),
                                                            Qt.AccessibleTextRole)


def test_a_cut_name_has_its_whole_text_in_the_tooltip(window, store):
    company = "Aufschaltung Medienagentur für Beispielprojekte und ausgedachte Kampagnen GmbH"
    store.upsert(make_call(1, remote_name="Amalie Aufschaltung", remote_company=company))
    window.apply_filters()
    index = window.model.index(0, 2)
    shown = window.model.data(index)
    assert window.table.fontMetrics().horizontalAdvance(shown) > window.table.columnWidth(2)
    assert window.model.data(index, Qt.ToolTipRole).startswith(
        f"Amalie Aufschaltung ({company})\n")


def test_counts_are_singular_for_one(window, store):
    store.upsert(make_call(5))           # one call, missed
    window.apply_filters()
    assert window.summary.text() == "1 call · 1 missed, not done"
    store.upsert(make_call(6))
    window.apply_filters()
    assert window.summary.text() == "2 calls · 1 missed, not done"


def test_an_empty_table_says_why(window, store, qtbot):
    label = window.empty_label
    assert label.isVisible() and label.text() == "No calls in the history yet."
    store.upsert_many(make_call(i) for i in range(1, 5))   # answered incoming, no missed one
    window.apply_filters()
    assert not label.isVisible()
    QTest.keyClicks(window.search, "Zacharias")
    qtbot.waitUntil(lambda: label.isVisible(), timeout=3000)
    assert label.text() == "No calls match “Zacharias”."
    assert window.table.viewport().isAncestorOf(label)
    window.filter_group.button(1).click()                  # "Missed"
    assert label.text() == "No missed calls match “Zacharias”."
    window.search.clear()
    qtbot.waitUntil(lambda: label.text() == "No missed calls.", timeout=3000)
    window.filter_group.button(0).click()                  # "All": rows again
    assert not label.isVisible()
    window.call_deleted("nothing")                         # stays hidden while rows are there
    assert not label.isVisible()


def test_the_title_leaves_the_app_name_to_qt(window):
    # Qt appends the application's display name on desktops that show it
    # ("Call history — cstapopup"); a title with the name in it showed it twice.
    assert window.windowTitle() == "Call history"


@pytest.mark.parametrize("keys", [(Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
                                  (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)])
def test_escape_and_ctrl_w_close_the_window(window, qtbot, keys):
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.table.setFocus()
    QTest.keyClick(window.table, *keys)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2000)


def test_escape_in_the_search_clears_it_first(window, qtbot):
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.search.setFocus()
    QTest.keyClicks(window.search, "anna")
    QTest.keyClick(window.search, Qt.Key.Key_Escape)
    assert window.search.text() == "" and window.isVisible()
    QTest.keyClick(window.search, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2000)
