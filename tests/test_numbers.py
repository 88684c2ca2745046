"""Number normalisation: the formats users meet, the trunk prefix rule, and never raising."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstapopup.calls.numbers import (
    NormalisedNumber,
    NumberingPlan,
    display_number,
    lookup_keys,
    normalise,
)
from cstapopup.csta.switch.demo import pbx_number

MUNICH = NumberingPlan(country="DE", area_code="89", trunk_prefix="0", internal_max_length=4)
PARTY = "+49891234567"


@pytest.mark.parametrize("raw", [
    "0891234567",
    "+49891234567",
    "0049 89 1234567",
    "0 0891234567",          # trunk digit, then national
    "000498912345 67",       # trunk digit, then international
    "1234567",               # local, completed with the area code
    "+49 (0)89 123 45 67",   # the German "(0)" habit
    "089/123-45.67",
    "(089) 1234567",
    "tel:+49-89-1234567",
    "\u00a0089\u00a01234567 ",
])
def test_phonebook_spellings_are_one_party(raw: str) -> None:
    number = normalise(raw, MUNICH, from_pbx=False)
    assert number == NormalisedNumber(PARTY, "external", "089 1234567")


@pytest.mark.parametrize("raw", [
    "00891234567",           # trunk digit glued to the national number
    "0 0891234567",
    "000498912345 67",
    "+49891234567",
    "1234567",
    "01234567",              # trunk digit + local number
    "0049891234567",         # PBX without trunk digit: trunk-stripped reading is invalid
])
def test_pbx_spellings_are_one_party(raw: str) -> None:
    number = normalise(raw, MUNICH, from_pbx=True)
    assert number is not None
    assert number.key == PARTY


def test_trunk_then_national_is_not_international() -> None:
    # "0089..." is trunk 0 + 089..., never the international prefix 00 + "89" (no such country).
    assert normalise("00891234567", MUNICH, from_pbx=True).key == PARTY
    # From a phonebook "00 89..." is no valid number either: the trunk-stripped reading is used.
    assert normalise("00891234567", MUNICH, from_pbx=False).key == PARTY


def test_pbx_number_prefers_trunk_stripped_reading_but_keeps_the_other() -> None:
    # From the PBX, the leading 0 of "0891234567" is the trunk digit: local 891234567 in Munich.
    assert normalise("0891234567", MUNICH, from_pbx=True).key == "+4989891234567"
    # The national reading stays available as a fallback key, after the preferred one.
    keys = lookup_keys("0891234567", MUNICH, from_pbx=True)
    assert keys[:2] == ["+4989891234567", PARTY]


def test_genuinely_ambiguous_number_follows_the_rule() -> None:
    # "0043 1 ..." from the PBX is trunk + Kiel (0431); from a phonebook it is Vienna.
    assert normalise("0043 1 5877123", MUNICH, from_pbx=True).key == "+494315877123"
    assert normalise("0043 1 5877123", MUNICH, from_pbx=False).key == "+4315877123"
    assert "+4315877123" in lookup_keys("0043 1 5877123", MUNICH, from_pbx=True)
    # With the trunk digit in front, the PBX form is unambiguous.
    assert normalise("0 0043 1 5877123", MUNICH, from_pbx=True).key == "+4315877123"


def test_display_is_national_at_home_and_international_abroad() -> None:
    assert normalise("+43 1 5877123", MUNICH).display == "+43 1 5877123"
    assert normalise("+41 44 668 18 00", MUNICH).display == "+41 44 668 18 00"
    vienna = NumberingPlan(country="AT", area_code="1")
    assert normalise("+43 1 5877123", vienna).display == "01 5877123"
    assert normalise("+49 89 1234567", vienna).display == "+49 89 1234567"


def test_other_trunk_digit_and_none() -> None:
    nine = NumberingPlan(area_code="89", trunk_prefix="9")
    assert normalise("90891234567", nine, from_pbx=True).key == PARTY
    assert normalise("0891234567", nine, from_pbx=True).key == PARTY
    no_trunk = NumberingPlan(area_code="89", trunk_prefix="")
    assert normalise("0891234567", no_trunk, from_pbx=True).key == PARTY
    # Without a trunk digit "00 89" is an international call to a country that does not exist.
    assert normalise("00891234567", no_trunk, from_pbx=True) is None


def test_local_number_without_area_code_in_plan() -> None:
    plan = NumberingPlan(area_code="")
    # No area to complete with: read as a national number that lost its prefix.
    assert normalise("1701234567", plan).key == "+491701234567"


@pytest.mark.parametrize("raw, key", [("2001", "int:2001"), ("12", "int:12"), ("0", "int:0")])
def test_internal_extensions(raw: str, key: str) -> None:
    number = normalise(raw, MUNICH)
    assert number == NormalisedNumber(key, "internal", raw)
    assert lookup_keys(raw, MUNICH) == [key]


def test_internal_length_is_configurable() -> None:
    plan = NumberingPlan(area_code="89", internal_max_length=6)
    assert normalise("123456", plan).key == "int:123456"
    assert normalise("12345", MUNICH).kind == "external"


@pytest.mark.parametrize("raw", [
    "", "   ", "+", "anonymous", "restricted", "Unknown", "089 CALL ME", "12a4",
    "+49 89 12345678901234567890123", "\x00", "++49891234567", "--", None, 891234567,
])
def test_not_a_number_is_none(raw: object) -> None:
    assert normalise(raw, MUNICH) is None  # type: ignore[arg-type]
    assert lookup_keys(raw, MUNICH) == []  # type: ignore[arg-type]


def test_invalid_number_has_fallback_keys_but_no_normal_form() -> None:
    # Too short for a German number but "possible" as E.164: normalise refuses, lookup still tries.
    assert normalise("+49 1234", MUNICH) is None
    assert lookup_keys("+49 1234", MUNICH) == ["+491234", "raw:+491234"]
    # An unknown country: only the raw digits remain.
    assert lookup_keys("+999 1234567", MUNICH) == ["raw:+9991234567"]


def test_unlisted_number_in_phonebook_is_kept_as_written() -> None:
    # 0151 numbers have eight digits after the prefix; seven is "possible" but not valid.  Read
    # as written it stays a mobile number; it must not become Munich 089 1519806425 through the
    # trunk-stripped reading.
    assert lookup_keys("0151 9806425", MUNICH, from_pbx=False)[0] == "+491519806425"
    assert lookup_keys("0049 151 9806425", MUNICH, from_pbx=False)[0] == "+491519806425"
    # The PBX form of the same number offers that key too.
    assert "+491519806425" in lookup_keys("001519806425", MUNICH, from_pbx=True)
    assert "+491519806425" in lookup_keys("0049 151 9806425", MUNICH, from_pbx=True)


def test_misread_prefix_is_not_a_plausible_number() -> None:
    # "000 49 ..." read as written is "+49 0049..." to phonenumbers: possible by length, but a
    # national number never starts with 0 there, so the trunk-stripped reading is used.
    assert lookup_keys("00049891234567", MUNICH, from_pbx=False)[0] == PARTY
    assert "+490049891234567" not in lookup_keys("00049891234567", MUNICH, from_pbx=True)


def test_raw_fallback_keys_meet_across_the_trunk_digit() -> None:
    odd = "+999 1234567"   # no country 999: phonebook and PBX forms still share a raw key
    phonebook_key = lookup_keys(odd, MUNICH, from_pbx=False)[0]
    assert phonebook_key in lookup_keys("+9991234567", MUNICH, from_pbx=True)


def test_valid_key_comes_first_and_keys_are_distinct() -> None:
    for raw in ("0891234567", "00891234567", "0049891234567", "1234567"):
        for from_pbx in (True, False):
            keys = lookup_keys(raw, MUNICH, from_pbx)
            assert keys[0] == normalise(raw, MUNICH, from_pbx).key
            assert len(keys) == len(set(keys))


@pytest.mark.parametrize("kwargs", [
    {"country": "de"}, {"country": "DEU"}, {"area_code": "089a"}, {"trunk_prefix": "+"},
    {"internal_max_length": -1},
])
def test_bad_plan_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        NumberingPlan(**kwargs)  # type: ignore[arg-type]


def test_unknown_country_does_not_raise() -> None:
    plan = NumberingPlan(country="XX")
    assert normalise("0891234567", plan) is None
    assert normalise("+49891234567", plan).key == PARTY


_number_like = st.text(alphabet="0123456789+ -/().", max_size=30)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=60), _number_like), st.booleans())
def test_never_raises_on_arbitrary_text(raw: str, from_pbx: bool) -> None:
    number = normalise(raw, MUNICH, from_pbx)
    keys = lookup_keys(raw, MUNICH, from_pbx)
    if number is not None:
        # What normalise returns is always the first thing a lookup tries.
        assert keys[0] == number.key
        assert number.key.startswith(("+", "int:"))
        assert number.kind == ("internal" if number.key.startswith("int:") else "external")
    assert len(keys) == len(set(keys))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1_000_000, max_value=9_999_999))
def test_normal_form_is_a_fixed_point(local: int) -> None:
    # Any Munich number normalises to a key that normalises to itself, from either side.
    number = normalise(str(local), MUNICH, from_pbx=False)
    if number is not None:
        assert normalise(number.key, MUNICH, from_pbx=True).key == number.key
        assert normalise(number.display, MUNICH, from_pbx=False).key == number.key
        assert normalise("0" + number.display, MUNICH, from_pbx=True).key == number.key


# --- how numbers are shown (the one display function) -------------------------------------------

@pytest.mark.parametrize(("raw", "shown"), [
    ("00893414930", "089 3414930"),          # valid: the national format
    ("003023125206", "030 23125206"),
    ("00043199988701", "+43 1 99988701"),    # abroad: international
    ("001519375336", "01519375336"),         # rejected (too short a mobile): trunk digit gone
    ("0000441234", "000441234"),
    ("0012345", "012345"),
    ("100", "100"),                          # extensions as they are
    ("2001", "2001"),
    ("+999 1234", "+9991234"),               # no trunk digit to drop
    ("", ""),
])
def test_numbers_are_shown_without_the_pbx_trunk_digit(raw: str, shown: str) -> None:
    assert display_number(raw, NumberingPlan(), from_pbx=True) == shown


def test_a_rejected_number_keeps_its_digits_when_the_plan_has_no_trunk_digit() -> None:
    plan = NumberingPlan(trunk_prefix="")
    assert display_number("01519375336", plan) == "01519375336"
    assert display_number("01519375336", NumberingPlan(trunk_prefix="0")) == "1519375336"


@given(st.text(alphabet="0123456789+ ()-/", max_size=20), st.booleans())
@settings(max_examples=300, deadline=None)
def test_display_never_raises_and_never_shows_the_trunk_digit_of_an_outside_number(
        raw: str, from_pbx: bool) -> None:
    shown = display_number(raw, MUNICH, from_pbx)
    assert isinstance(shown, str)
    digits = "".join(c for c in raw if c.isdigit() or c == "+")
    if from_pbx and digits.startswith("00") and len(digits) > 6 and "+" not in digits \
            and normalise(raw, MUNICH) is None:
        assert shown == digits[1:]


# --- "(0)" written after the country code ---------------------------------------------------------

@pytest.mark.parametrize("written", [
    "+49 (0)69 90009 502", "0049 (0)30 23125 205", "+49 (0) 89 99998 101",
    "+43 (0)1 99988 701", "0043 (0)512 998 871", "+41 (0)44 999 88 01",
    "+44 (0)20 7946 0018", "+33 (0)1 42 68 53 00",
])
def test_a_phonebook_number_with_the_national_zero_in_brackets_meets_the_callers(
        written: str) -> None:
    """Both sides: the phone book reads "(0)" as the national prefix it is, and a caller
    from that number arrives (here: as the simulator presents it) without it."""
    arriving = pbx_number(written)
    assert arriving is not None and "(" not in arriving
    caller = normalise(arriving, NumberingPlan(), from_pbx=True)
    assert caller is not None
    assert lookup_keys(written, NumberingPlan(), from_pbx=False)[0] == caller.key
    without = written.replace("(0)", "")
    assert caller == normalise(without, NumberingPlan(), from_pbx=False)
