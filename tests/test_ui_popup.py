"""The call popup and the popup stack (offscreen Qt).

A note on focus: Qt's offscreen platform activates every window it shows except tooltips
(qoffscreenwindow.cpp, setVisible), whatever the window's flags say; a real window system
honours WindowDoesNotAcceptFocus / WA_ShowWithoutActivating. So the focus test checks both
the flags and the end result: the window that had the focus still has it after the popup
appeared (the popup hands back an activation it did not ask for).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QObject, QPoint, QPointF, Qt, QUrl, Slot
from PySide6.QtGui import QCursor, QDesktopServices, QEnterEvent, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

from cstapopup.calls.model import Call, Direction, Hop, Outcome
from cstapopup.calls.views import Caller, PopupView, format_duration, popup_view, state_text
from cstapopup.ui import popup as popup_module
from cstapopup.ui.popup import CallPopup, PopupStack, RingSound

T0 = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def ringing_call(key: str = "c1", **changes) -> Call:
    call = Call(key, Direction.INCOMING, T0, remote_number="00891234567",
                local_devices=("100",), called_number="100")
    return call.evolve(**changes) if changes else call


def answered(call: Call, by: str, after: float = 5) -> Call:
    outcome = Outcome.ANSWERED if by == "100" else Outcome.ANSWERED_ELSEWHERE
    return call.evolve(answered_at=T0 + timedelta(seconds=after), answered_by=by, outcome=outcome)


def ended(call: Call, after: float = 156) -> Call:
    return call.evolve(ended_at=T0 + timedelta(seconds=after))


def view(call: Call | None = None, **overrides) -> PopupView:
    """The desk's view of `call` (calls.views.popup_view), with these test defaults."""
    kwargs = {"name": "Anna Schmidt", "company": "Schmidt & Partner",
              "display_number": "+49 89 1234567", "ringing_device": "100", "own_device": "100",
              "crm_template": "", "close_after": 8}
    kwargs.update(overrides)
    caller = Caller(kwargs.pop("name"), kwargs.pop("company"), kwargs.pop("display_number"))
    return popup_view(call or ringing_call(), caller=caller, **kwargs)


@pytest.fixture
def make_popup(qtbot):
    def make(call: Call | None = None, url_opener=None, **overrides) -> CallPopup:
        p = CallPopup(view(call, **overrides), url_opener=url_opener)
        qtbot.addWidget(p)
        return p
    return make


@pytest.fixture
def stack(qtbot):
    s = PopupStack(spacing=8, margin=12)
    yield s
    s.close_all()


@pytest.fixture
def focused_window(qtbot):
    """A normal window whose line edit has the keyboard focus (what the user is typing in)."""
    window = QWidget()
    window.setWindowTitle("the user's work")
    edit = QLineEdit(window)
    QVBoxLayout(window).addWidget(edit)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is edit, timeout=3000)
    return window, edit


def visible(widget: QWidget, parent: QWidget) -> bool:
    return widget.isVisibleTo(parent)


# --- pure texts ----------------------------------------------------------------------------

def test_state_texts_follow_the_call():
    call = ringing_call()
    assert state_text(call, "100") == "Ringing"
    assert state_text(answered(call, "100"), "100") == "Answered at 100"
    assert state_text(answered(call, "102"), "100") == "Answered by 102"
    assert state_text(ended(answered(call, "100", after=5)), "100") == \
        "Answered at 100 · ended (2:31)"
    assert state_text(ended(call).evolve(outcome=Outcome.MISSED), "100") == "Missed"
    assert state_text(call.evolve(outcome=Outcome.DIVERTED, diverted_to="104"), "100") \
        == "Forwarded to 104"
    assert state_text(call.evolve(outcome=Outcome.TRANSFERRED, transferred_to="103",
                                  answered_at=T0), "100") == "Transferred to 103"
    assert state_text(call.evolve(end_unknown=True), "100").startswith("Link to the PBX lost")
    assert format_duration(151) == "2:31" and format_duration(3723) == "1:02:03"


# --- content -------------------------------------------------------------------------------

def test_name_and_company_when_known(make_popup):
    p = make_popup()
    assert p.findChild(QWidget, "title").full_text() == "Anna Schmidt"
    assert p.findChild(QWidget, "company").full_text() == "Schmidt & Partner"
    number = p.findChild(QWidget, "number")
    assert visible(number, p) and number.text() == "+49 89 1234567"
    assert p.findChild(QWidget, "where").full_text() == "Ringing at 100"
    assert p.findChild(QWidget, "state").full_text() == "Ringing"


def test_the_number_is_the_title_without_a_name(make_popup):
    p = make_popup(name=None, company=None)
    assert p.findChild(QWidget, "title").full_text() == "+49 89 1234567"
    assert not visible(p.findChild(QWidget, "company"), p)
    assert not visible(p.findChild(QWidget, "number"), p)   # not twice
    assert visible(p.findChild(QWidget, "copy"), p)


def test_withheld_caller_has_nothing_to_copy(make_popup):
    p = make_popup(Call("c9", Direction.INCOMING, T0, remote_kind="restricted"),
                   name=None, company=None, display_number="",
                   crm_template="https://crm/?q={number}")
    assert p.findChild(QWidget, "title").full_text() == "Withheld number"
    assert not visible(p.findChild(QWidget, "copy"), p)
    assert not visible(p.findChild(QWidget, "crm"), p)


def test_line_forwarded_and_transferred(make_popup):
    call = ringing_call(called_number="0891234567",
                        hops=(Hop("diverted", "101", T0, "100"),
                              Hop("transferred", "102", T0, "100")))
    p = make_popup(call)
    assert p.findChild(QWidget, "where").full_text() == "Ringing at 100 · line 0891234567"
    assert p.findChild(QWidget, "redirect").full_text() == \
        "Forwarded from 101 · Transferred by 102"
    # Explicit values win over the hops.
    p2 = make_popup(ringing_call("c2"), forwarded_from="109")
    assert p2.findChild(QWidget, "redirect").full_text() == "Forwarded from 109"
    assert not visible(make_popup(ringing_call("c3")).findChild(QWidget, "redirect"), p)


def test_state_line_follows_updates(make_popup):
    call = ringing_call()
    p = make_popup(call, own_device="105")
    state = p.findChild(QWidget, "state")
    p.show_view(view(answered(call, "102"), own_device="105"))
    assert state.full_text() == "Answered by 102"
    assert p.findChild(QWidget, "where").full_text() == "Rang at 100"
    p.show_view(view(ended(answered(call, "102")), own_device="105"))
    assert state.full_text() == "Answered by 102 · ended (2:31)"
    with pytest.raises(ValueError):
        p.show_view(view(ringing_call("other")))


# --- actions -------------------------------------------------------------------------------

def test_answer_only_for_the_users_own_device(make_popup, qtbot):
    own = make_popup(ringing_device="100", own_device="100")
    button = own.findChild(QWidget, "answer")
    assert visible(button, own)
    with qtbot.waitSignal(own.answer_requested, timeout=1000) as blocker:
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["c1", "100"]
    assert not button.isEnabled()   # one request per click is enough
    own.show_view(view(answered(ringing_call(), "100"), ringing_device="100", own_device="100"))
    assert not visible(button, own)

    other = make_popup(ringing_device="101", own_device="100")
    assert not visible(other.findChild(QWidget, "answer"), other)
    nobody = make_popup(own_device=None)
    assert not visible(nobody.findChild(QWidget, "answer"), nobody)


def test_copy_number(make_popup):
    p = make_popup()
    QTest.mouseClick(p.findChild(QWidget, "copy"), Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "+49891234567"


def test_crm_url_is_filled_url_encoded(make_popup, qtbot):
    opened: list[QUrl] = []
    p = make_popup(name="Müller & Söhne", crm_template="https://crm.example.com/s?q={number}&n={name}",
                   url_opener=lambda url: opened.append(url) or True)
    button = p.findChild(QWidget, "crm")
    assert visible(button, p)
    with qtbot.waitSignal(p.crm_opened, timeout=1000) as blocker:
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    expected = "https://crm.example.com/s?q=%2B49891234567&n=M%C3%BCller%20%26%20S%C3%B6hne"
    assert blocker.args == [expected]
    assert [u.toString(QUrl.ComponentFormattingOption.FullyEncoded) for u in opened] == [expected]
    assert not visible(make_popup(crm_template="").findChild(QWidget, "crm"), p)


class _UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def catch(self, url: QUrl) -> None:
        self.urls.append(url.toString(QUrl.ComponentFormattingOption.FullyEncoded))


def test_crm_goes_through_qdesktopservices_by_default(make_popup):
    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("cstapopup-test", catcher, "catch")
    try:
        # A scheme our handler owns.
        p = make_popup(crm_template="cstapopup-test://crm/{name}", name="A B")
        p.open_crm()
    finally:
        QDesktopServices.unsetUrlHandler("cstapopup-test")
    assert catcher.urls == ["cstapopup-test://crm/A%20B"]


# --- focus ---------------------------------------------------------------------------------

def test_popup_window_flags(qapp):
    p = CallPopup(view())
    flags = p.windowFlags()
    for flag in (Qt.WindowType.Tool, Qt.WindowType.FramelessWindowHint,
                 Qt.WindowType.WindowStaysOnTopHint, Qt.WindowType.WindowDoesNotAcceptFocus):
        assert flags & flag == flag
    assert p.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    p.deleteLater()


def test_popup_shows_without_taking_the_focus(focused_window, stack, qtbot):
    window, edit = focused_window
    with qtbot.waitSignal(stack.shown, timeout=2000):
        p = stack.show(view(ringing_call()))
    qtbot.waitExposed(p)
    QApplication.processEvents()   # deliver whatever the window system queued for the show
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    assert QApplication.focusWidget() is edit
    assert not p.isActiveWindow()
    assert not p.focus_allowed


def test_escape_closes_only_when_the_popup_has_focus(focused_window, stack, qtbot):
    p = stack.show(view(ringing_call()))
    qtbot.waitExposed(p)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not p.isActiveWindow(), timeout=2000)
    _window, edit = focused_window
    QTest.keyClick(edit, Qt.Key.Key_Escape)   # the user's Escape belongs to their window
    QTest.keyClick(p, Qt.Key.Key_Escape)      # even sent straight to it: not active, ignored
    assert p.isVisible()

    # A click makes it a normal window: now it takes the focus, and Escape closes it.
    QTest.mouseClick(p.findChild(QWidget, "where"), Qt.MouseButton.LeftButton)
    assert p.focus_allowed
    qtbot.waitUntil(p.isActiveWindow, timeout=2000)
    with qtbot.waitSignal(p.closed, timeout=2000):
        QTest.keyClick(QApplication.focusWidget() or p, Qt.Key.Key_Escape)


@pytest.mark.parametrize("part", ["where", "title", "number", "copy", "dismiss", "callPopup"])
def test_a_press_on_any_part_makes_the_popup_usable_by_keyboard(make_popup, qtbot, part):
    p = make_popup()
    p.show()
    qtbot.waitExposed(p)
    assert not p.focus_allowed
    target = p if part == "callPopup" else p.findChild(QWidget, part)
    QTest.mousePress(target, Qt.MouseButton.LeftButton, pos=target.rect().center())
    assert p.focus_allowed


def test_buttons_are_reachable_by_keyboard_after_a_click(stack, qtbot):
    p = stack.show(view(ringing_call(), crm_template="https://crm/?q={number}"))
    qtbot.waitExposed(p)
    p.allow_focus()
    qtbot.waitUntil(p.isActiveWindow, timeout=2000)
    p.findChild(QWidget, "answer").setFocus()
    order = []
    for _ in range(5):
        order.append(QApplication.focusWidget().objectName())
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert order == ["answer", "putThrough", "copy", "crm", "dismiss"]
    with qtbot.waitSignal(p.answer_requested, timeout=1000):
        QTest.keyClick(p, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)   # the &Answer mnemonic


# --- closing by itself ---------------------------------------------------------------------

def test_closes_after_the_call_is_answered_elsewhere(stack, qtbot):
    call = ringing_call()
    p = stack.show(view(call, own_device="100", close_after=0.05))
    assert not p.closing
    with qtbot.waitSignal(stack.closed, timeout=2000) as blocker:
        stack.update(view(answered(call, "102"), own_device="100", close_after=0.05))
    assert blocker.args == ["c1"]
    assert stack.popups() == []


def test_stays_while_ringing(stack, qtbot):
    ring = ringing_call("ring")
    stack.show(view(ring, close_after=0.05))
    still = ring.evolve(updated_at=T0 + timedelta(seconds=3))   # still ringing
    stack.update(view(still, close_after=0.05))
    control = ringing_call("control")
    stack.show(view(control, close_after=0.05))
    # Same close_after; the control call ends and its popup goes; the ringing one stays.
    with qtbot.waitSignal(stack.closed, timeout=2000) as blocker:
        stack.update(view(ended(control).evolve(outcome=Outcome.MISSED), close_after=0.05))
    assert blocker.args == ["control"]
    ringing_popup = stack.popup("ring")
    assert ringing_popup is not None and ringing_popup.isVisible()
    assert not ringing_popup.closing


def test_answered_at_own_phone_stays_until_the_call_ends(stack, qtbot):
    call = ringing_call()
    p = stack.show(view(call, own_device="100", close_after=0.05))
    stack.update(view(answered(call, "100"), own_device="100", close_after=0.05))
    assert p.findChild(QWidget, "state").full_text() == "Answered at 100"
    assert not p.closing
    with qtbot.waitSignal(p.closed, timeout=2000):
        stack.update(view(ended(answered(call, "100")), own_device="100", close_after=0.05))


def test_zero_means_stay_until_dismissed(stack, qtbot):
    call = ringing_call()
    p = stack.show(view(call, close_after=0))
    stack.update(view(ended(answered(call, "102")), close_after=0))
    assert not p.closing and p.isVisible()
    with qtbot.waitSignal(stack.closed, timeout=1000):
        QTest.mouseClick(p.findChild(QWidget, "dismiss"), Qt.MouseButton.LeftButton)


def test_pointer_over_the_popup_pauses_the_countdown(make_popup, qtbot):
    call = ringing_call()
    p = make_popup(call, close_after=0.2, own_device="105")
    # Away from the (offscreen) pointer, or the platform's own Enter event would pause it too.
    p.move(popup_module.QCursor.pos() + popup_module.QPoint(300, 300))
    p.show()
    qtbot.waitExposed(p)
    p.show_view(view(answered(call, "102"), close_after=0.2, own_device="105"))
    assert p._close_timer.isActive()
    QApplication.sendEvent(p, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))
    assert p.closing and not p._close_timer.isActive()
    with qtbot.waitSignal(p.closed, timeout=5000):
        QApplication.sendEvent(p, popup_module.QEvent(popup_module.QEvent.Type.Leave))


# --- the stack -----------------------------------------------------------------------------

@pytest.mark.parametrize("corner", ["bottom-right", "bottom-left", "top-right", "top-left"])
def test_stack_positions_per_corner(stack, corner):
    stack.configure(corner=corner)
    older = stack.show(view(ringing_call("old")))
    newer = stack.show(view(ringing_call("new"), name=None, company=None))
    area = QGuiApplication.primaryScreen().availableGeometry()
    m, s = 12, 8
    new_g, old_g = newer.geometry(), older.geometry()
    if corner.endswith("right"):
        assert new_g.right() == old_g.right() == area.right() - m
    else:
        assert new_g.left() == old_g.left() == area.left() + m
    if corner.startswith("bottom"):
        assert new_g.bottom() == area.bottom() - m            # newest nearest the corner
        assert old_g.bottom() == new_g.top() - s - 1
    else:
        assert new_g.top() == area.top() + m
        assert old_g.top() == new_g.bottom() + s + 1
    assert stack.visible_popups() == [newer, older]


def test_stack_closes_gaps_and_resets(stack, qtbot):
    a = stack.show(view(ringing_call("a")))
    b = stack.show(view(ringing_call("b")))
    c = stack.show(view(ringing_call("c")))
    b_bottom = b.geometry().bottom()
    assert stack.screen is QGuiApplication.primaryScreen()
    with qtbot.waitSignal(stack.closed, timeout=1000) as blocker:
        b.close()
    assert blocker.args == ["b"]
    assert a.geometry().bottom() == b_bottom               # moved into b's place
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert c.geometry().bottom() == area.bottom() - 12
    stack.close_all()
    assert stack.popups() == [] and stack.screen is None   # the next burst starts afresh


def test_stack_caps_visible_popups(qtbot):
    stack = PopupStack(max_visible=2)
    for k in ("a", "b", "c"):
        stack.show(view(ringing_call(k)))
    # The oldest is not on screen (and no widget), but counted on the "+1 more" line.
    assert stack.popup("a") is None and stack.call_keys() == ["c", "b", "a"]
    b, c = stack.popup("b"), stack.popup("c")
    assert b.isVisible() and c.isVisible() and stack.visible_popups() == [c, b]
    more = stack.more_line()
    assert more is not None and more.isVisible() and more.text() == "+1 more ringing"
    c.close()
    qtbot.waitUntil(lambda: stack.popup("a") is not None and stack.popup("a").isVisible(),
                    timeout=1000)   # the older one comes back
    assert not more.isVisible()
    stack.close_all()


def test_the_more_line_counts_the_calls_off_screen_and_asks_for_the_history(qtbot):
    stack = PopupStack(max_visible=1)
    stack.show(view(ringing_call("a")))
    stack.show(view(answered(ringing_call("b"), "100")))   # answered: stays, not ringing
    stack.show(view(ringing_call("c")))
    more = stack.more_line()
    assert more.text() == "+2 more calls (1 ringing)"
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert more.geometry().bottom() == stack.popup("c").geometry().top() - 8 - 1
    assert more.geometry().right() == area.right() - 12
    with qtbot.waitSignal(stack.more_clicked, timeout=1000):
        QTest.mouseClick(more, Qt.MouseButton.LeftButton)
    stack.close_all()
    assert stack.call_keys() == []


def test_same_call_twice_is_one_popup_and_updates_go_to_it(stack):
    call = ringing_call()
    first = stack.show(view(call))
    again = stack.show(view(answered(call, "102")))
    assert first is again and len(stack.popups()) == 1
    assert first.findChild(QWidget, "state").full_text() == "Answered by 102"
    assert stack.update(view(ringing_call("unknown"))) is False


def test_screen_under_the_mouse(stack):
    stack.configure(screen="mouse")
    stack.show(view(ringing_call()))
    assert stack.screen is QGuiApplication.screenAt(popup_module.QCursor.pos()) \
        or stack.screen is QGuiApplication.primaryScreen()
    with pytest.raises(ValueError):
        stack.configure(corner="middle")


def test_stack_forwards_the_popups_signals(stack, qtbot):
    p = stack.show(view(ringing_call()))
    with qtbot.waitSignal(stack.answer_requested, timeout=1000) as blocker:
        QTest.mouseClick(p.findChild(QWidget, "answer"), Qt.MouseButton.LeftButton)
    assert blocker.args == ["c1", "100"]


# --- sound ---------------------------------------------------------------------------------

def test_ring_sound_uses_a_player_or_beeps(monkeypatch):
    started: list[tuple[str, list[str]]] = []
    sound = RingSound("", start_detached=lambda prog, args: started.append((prog, args)) or True)
    assert sound.file.endswith("ring.wav")
    if popup_module.sys.platform.startswith("linux"):
        monkeypatch.setattr(popup_module.shutil, "which",
                            lambda name: "/usr/bin/aplay" if name == "aplay" else None)
        sound.play()
        assert started == [("aplay", [sound.file])]
        monkeypatch.setattr(popup_module.shutil, "which", lambda name: None)
        beeps: list[bool] = []
        monkeypatch.setattr(popup_module.QApplication, "beep", lambda: beeps.append(True))
        sound.play()
        assert beeps == [True]
    else:
        assert sound.command() is None or sound.command()[-1] == sound.file


def test_a_hidden_popup_still_closes_on_time(qtbot):
    stack = PopupStack(max_visible=1)
    old = ringing_call("old")
    stack.show(view(old, close_after=0.05))
    stack.show(view(ringing_call("new"), close_after=0.05))
    assert stack.popup("old") is None and "old" in stack.call_keys()   # not on screen
    with qtbot.waitSignal(stack.closed, timeout=2000) as blocker:
        stack.update(view(ended(old).evolve(outcome=Outcome.MISSED), close_after=0.05))
    assert blocker.args == ["old"]
    assert [p.call_key for p in stack.popups()] == ["new"]
    stack.close_all()


def test_a_popup_that_grows_pushes_the_older_one_along(stack):
    older = stack.show(view(ringing_call("old")))
    newer = stack.show(view(ringing_call("new"), name=None, company=None))
    before = older.geometry()
    # The phone book answers late: name and company add rows to the newer popup.
    stack.update(view(ringing_call("new"), name="Late Answer", company="Phone Book GmbH"))
    assert newer.geometry().bottom() == \
        QGuiApplication.primaryScreen().availableGeometry().bottom() - 12
    assert older.geometry().bottom() == newer.geometry().top() - 8 - 1
    assert older.geometry().top() < before.top()


def test_long_names_are_elided_with_the_full_text_in_the_tooltip(make_popup):
    long_name = "Dr. Maximiliane Mustermann-Lüdenscheidt von und zu Oberhausen"
    p = make_popup(name=long_name)
    p.show()
    title = p.findChild(QWidget, "title")
    assert p.width() == popup_module.POPUP_WIDTH   # the card does not grow with the text
    assert title.toolTip() == long_name
    assert make_popup(name="Anna").findChild(QWidget, "title").toolTip() == ""


def test_an_elided_company_shows_its_whole_name_on_hover_though_the_popup_is_not_active(
        focused_window, stack, qtbot):
    """Qt shows tooltips only in the active window unless told otherwise, and a popup never
    takes the focus: without WA_AlwaysShowToolTips the whole company name would never show."""
    from PySide6.QtWidgets import QToolTip

    window, _edit = focused_window
    company = "Aufschaltung Medienagentur für Beispielprojekte und ausgedachte Kampagnen GmbH"
    p = stack.show(view(ringing_call(), name="Amalie Aufschaltung", company=company))
    qtbot.waitExposed(p)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    label = p.findChild(QWidget, "company")
    assert label.toolTip() == company and not p.isActiveWindow()
    parked = QCursor.pos()
    try:
        QTest.mouseMove(label, label.rect().center())
        QTest.mouseMove(label, label.rect().center() + QPoint(2, 0))
        qtbot.waitUntil(lambda: QToolTip.isVisible() and QToolTip.text() == company,
                        timeout=4000)
    finally:
        QToolTip.hideText()
        # The pointer left where later popups appear would hold their stack still.
        QCursor.setPos(parked)


def test_initials_that_would_look_like_a_pause_button_are_not_used(make_popup, qtbot):
    named = make_popup(name="Ingrid Internruf")
    assert named.findChild(popup_module.Avatar).initials() == "IN"
    lone, nameless = make_popup(name="I"), make_popup(name=None)
    assert lone.findChild(popup_module.Avatar).initials() == ""
    # A person, not a bar, and not the handset of a caller without a name.
    person = lone.findChild(popup_module.Avatar).grab().toImage()
    handset = nameless.findChild(popup_module.Avatar).grab().toImage()
    assert person != handset


def test_one_more_call_is_counted_in_the_singular(qtbot):
    stack = PopupStack(max_visible=1)
    stack.show(view(answered(ringing_call("a"), "100")))
    stack.show(view(ringing_call("b")))
    assert stack.more_line().text() == "+1 more call"
    stack.show(view(ringing_call("c")))
    assert stack.more_line().text() == "+2 more calls (1 ringing)"
    stack.close_all()


def test_numbers_in_a_popup_are_shown_as_the_app_shows_numbers():
    shown = {"00893414930": "089 3414930", "001519375336": "01519375336"}.get
    call = ringing_call(called_number="00893414930").evolve(
        outcome=Outcome.TRANSFERRED, transferred_to="001519375336", answered_by="100",
        answered_at=T0 + timedelta(seconds=3), hops=(Hop("diverted", "00893414930", T0),))
    v = popup_view(call, caller=Caller("Anna", None, "089 1234567"), ringing_device="100",
                   own_device="100", display=lambda n: shown(n) or n)
    assert v.where == "Rang at 100 · line 089 3414930"
    assert v.state_text == "Transferred to 01519375336"
    assert v.redirect == "Forwarded from 089 3414930"


# --- text from outside is plain text -------------------------------------------------------

HOSTILE_NAMES = ["<b>Big</b><img src=x>", "<h1>Huge heading</h1>",
                 "<table><tr><td>a</td></tr><tr><td>b</td></tr></table>"]


def rendered(html_or_text: str) -> str:
    """What Qt shows of a tooltip's (or an auto-format label's) text: as rich text when it
    looks like rich text (Qt's own test, on the first line), else as it is."""
    from PySide6.QtGui import Qt as GuiQt
    from PySide6.QtGui import QTextDocument

    if not GuiQt.mightBeRichText(html_or_text):
        return html_or_text
    document = QTextDocument()
    document.setHtml(html_or_text)
    return document.toPlainText()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_markup_in_a_name_is_shown_and_sized_as_plain_text(make_popup, name):
    from PySide6.QtWidgets import QLabel

    hostile = make_popup(name=name, company=name)
    same_length = make_popup(name="x" * len(name), company="y" * len(name))
    for label in hostile.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    assert hostile.findChild(QLabel, "title").text() == name
    assert hostile.findChild(QLabel, "company").text() == name
    hostile.show()
    same_length.show()
    assert hostile.size() == same_length.size()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_long_name_with_markup_has_a_tooltip_that_shows_it_as_it_is(make_popup, name):
    long_name = name + " Dr. Maximiliane Mustermann-Lüdenscheidt von und zu Oberhausen"
    p = make_popup(name=long_name)
    p.show()
    tooltip = p.findChild(QWidget, "title").toolTip()
    assert tooltip and "<h1>" not in tooltip and "<img" not in tooltip and "<b>" not in tooltip
    assert rendered(tooltip) == long_name


def test_popups_gone_from_the_screen_are_freed(qtbot):
    # Each popup remembers the window that was active before it (to hand the focus back);
    # popups coming and going by the thousand must not keep each other alive through it.
    import gc
    import weakref

    from PySide6.QtCore import QCoreApplication, QEvent

    stack = PopupStack(max_visible=2)
    refs = []
    for i in range(8):
        stack.show(view(ringing_call(f"k{i}")))
        refs.append(weakref.ref(stack.popup(f"k{i}")))
        QApplication.processEvents()   # the offscreen platform activates each new window
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    # The six pushed off the screen are gone while the two newest are still shown.
    assert [r() is None for r in refs] == [True] * 6 + [False] * 2
    stack.close_all()


def test_a_burst_of_calls_in_one_turn_makes_widgets_only_for_the_last_ones(qtbot, monkeypatch):
    made: list[str] = []

    class Counted(CallPopup):
        def __init__(self, view, **kwargs) -> None:
            made.append(view.key)
            super().__init__(view, **kwargs)

    monkeypatch.setattr(popup_module, "CallPopup", Counted)
    stack = PopupStack(max_visible=5)
    for i in range(200):          # one turn of the loop: a flood from the PBX
        stack.show(view(ringing_call(f"k{i}")))
    assert len(made) == 10        # then it waits for the end of the turn
    qtbot.waitUntil(lambda: stack.popup("k199") is not None, timeout=2000)
    assert [p.call_key for p in stack.popups()] == [f"k{i}" for i in range(199, 194, -1)]
    assert stack.more_line().text() == "+195 more ringing"
    assert len(made) == 15        # the five newest, once
    stack.close_all()


# --- popups stay put under the pointer -------------------------------------------------------

def pointer(widget: QWidget, inside: bool) -> None:
    """The pointer enters or leaves `widget` (what the window system tells Qt)."""
    if inside:
        QApplication.sendEvent(widget, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))
    else:
        QApplication.sendEvent(widget, popup_module.QEvent(popup_module.QEvent.Type.Leave))


def positions(stack: PopupStack) -> dict[str, tuple[int, int]]:
    return {k: (stack.popup(k).x(), stack.popup(k).y()) for k in stack.call_keys()
            if stack.popup(k) is not None}


def test_a_new_call_moves_nothing_while_the_pointer_is_over_the_stack(stack, qtbot):
    a = stack.show(view(ringing_call("a")))
    b = stack.show(view(ringing_call("b")))
    before = positions(stack)
    pointer(b, True)          # about to click b's Answer: b sits nearest the corner
    assert stack.pointer_over
    c = stack.show(view(ringing_call("c")))
    after = positions(stack)
    assert {k: after[k] for k in before} == before     # a and b did not move
    # c appeared beyond the farthest popup (a), overlapping none.
    assert c is not None and c.isVisible()
    assert c.geometry().bottom() < a.geometry().top()
    assert not c.geometry().intersects(b.geometry())
    # The pointer leaves: after the grace time the stack reflows, newest nearest the corner.
    pointer(b, False)
    assert stack.pointer_over                           # not yet: crossing a gap is not leaving
    qtbot.waitUntil(lambda: not stack.pointer_over, timeout=3000)
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert c.geometry().bottom() == area.bottom() - 12
    assert stack.visible_popups() == [c, b, a]


def test_the_pointer_moving_between_popups_keeps_them_still(stack, qtbot):
    a = stack.show(view(ringing_call("a")))
    b = stack.show(view(ringing_call("b")))
    before = positions(stack)
    pointer(b, True)
    pointer(b, False)
    pointer(a, True)          # crossed the gap within the grace time
    stack.show(view(ringing_call("c")))
    qtbot.wait(600)           # longer than the grace time: still over the stack
    assert stack.pointer_over
    after = positions(stack)
    assert {k: after[k] for k in before} == before   # nothing reflowed


def test_a_popup_closing_under_the_pointer_leaves_its_gap_until_the_pointer_leaves(stack, qtbot):
    a = stack.show(view(ringing_call("a")))
    b = stack.show(view(ringing_call("b")))
    c = stack.show(view(ringing_call("c")))
    a_pos = a.pos()
    pointer(a, True)
    with qtbot.waitSignal(stack.closed, timeout=1000):
        b.close()
    assert a.pos() == a_pos                             # no sliding into b's place
    pointer(a, False)
    qtbot.waitUntil(lambda: not stack.pointer_over, timeout=3000)
    assert a.geometry().bottom() == c.geometry().top() - 8 - 1


def test_a_new_call_without_room_waits_on_the_more_line(qtbot):
    stack = PopupStack(max_visible=20)
    try:
        first = stack.show(view(ringing_call("k0")))
        area = QGuiApplication.primaryScreen().availableGeometry()
        fit = (area.height() - 24 + 8) // (first.height() + 8)
        for i in range(1, fit):
            stack.show(view(ringing_call(f"k{i}")))
        assert len(stack.visible_popups()) == fit and stack.more_line() is None
        newest = stack.popup(f"k{fit - 1}")
        before = positions(stack)
        pointer(newest, True)
        stack.show(view(ringing_call("late")))
        assert positions(stack) == before and stack.popup("late") is None
        more = stack.more_line()
        assert more is not None and more.isVisible() and more.text() == "+1 more ringing"
        pointer(newest, False)
        qtbot.waitUntil(lambda: stack.popup("late") is not None, timeout=3000)
        assert stack.visible_popups()[0] is stack.popup("late")
    finally:
        stack.close_all()


def test_f2_gives_the_newest_ringing_popup_the_keyboard(focused_window, stack, qtbot):
    ringing = stack.show(view(ringing_call("ring")))
    stack.show(view(answered(ringing_call("talk"), "100")))   # newer, but not ringing
    edit = focused_window[1]
    qtbot.wait(100)   # let the popups hand back the activations they did not ask for
    assert QApplication.focusWidget() is edit   # shown without taking the focus
    chosen = stack.focus_newest_ringing()
    assert chosen is ringing
    qtbot.waitUntil(ringing.isActiveWindow, timeout=2000)
    assert QApplication.focusWidget() is ringing.findChild(QWidget, "answer")
    with qtbot.waitSignal(ringing.answer_requested, timeout=1000):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
