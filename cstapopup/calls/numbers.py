"""Phone number normalisation: turn a number in whatever format it arrived into one comparable key.

Owns the numbering plan of the site (`NumberingPlan`), the rules for reading a number the PBX
reported or a phonebook holds (`normalise`), the ordered keys a lookup tries (`lookup_keys`),
and the one way a number is shown to people (`display_number`).

Keys:

* external numbers: E.164, e.g. ``+49891234567``;
* internal extensions: ``int:<digits>``, e.g. ``int:2001``;
* numbers phonenumbers cannot validate: the E.164 form when it is at least *possible*, then
  ``raw:<digits>`` (the digits as written, separators removed), so two spellings of the same odd
  number still meet.

The trunk prefix rule
---------------------
Many PBXs put their trunk access digit in front of every external number they report, so that the
number can be dialled back as it is: a caller from Munich arrives as ``0`` + ``089 1234567`` =
``00891234567``.  With trunk digit ``0`` that is indistinguishable from the international prefix
``00`` + ``89...``.  The rule:

* ``from_pbx=True`` (a number the PBX reported): the trunk prefix is stripped *first*; the
  rest is read as the PBX's own users would dial it (``00…`` international, ``0…`` national,
  otherwise local and completed with the plan's area code).  Only when that reading is not a
  valid number is the number read as it stands (a PBX configured without the trunk digit).
* ``from_pbx=False`` (a number from a phonebook): read as written.  Only when it cannot be
  read that way at all (not even as a *possible* number) is the trunk prefix stripped: numbers
  copied from a PBX call list keep the digit (``00891234567``: there is no country 89).

A reading is accepted when phonenumbers says the number is valid; `normalise` returns None
otherwise.  `lookup_keys` lists the
chosen reading first and the other valid readings after it, so a phonebook entry is still found
when the PBX does not send the trunk digit although the plan says it does: ``0891234567`` from
the PBX is first local 891234567 in area 89 (``+4989891234567``), then national 089 1234567
(``+49891234567``).  Genuinely ambiguous numbers follow the rule: ``0043 1 5877123`` from the
PBX is trunk + Kiel (0431), from a phonebook it is Vienna.

Numbers of at most ``internal_max_length`` digits (no ``+``) are internal extensions; the length
is the only test, so the trunk rule does not apply to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, PhoneNumberFormat

__all__ = [
    "INTERNAL_KEY_PREFIX",
    "RAW_KEY_PREFIX",
    "NormalisedNumber",
    "NumberingPlan",
    "display_number",
    "iter_lookup_keys",
    "lookup_keys",
    "normalise",
]

INTERNAL_KEY_PREFIX = "int:"
RAW_KEY_PREFIX = "raw:"

# E.164 allows 15 digits; trunk digit + international prefix add a few.  Anything much longer is
# not a phone number, and phonenumbers refuses very long input anyway.
_MAX_DIGITS = 24

# Characters people put inside numbers: whitespace (any, including no-break space), dashes of all
# kinds, slash, parentheses, brackets, dots.  "(0)" in "+49 (0)89 ..." survives as a 0 after the
# country code, which phonenumbers knows to drop for the countries that write it.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212/().\[\]]")
_DIALLED = re.compile(r"\+?[0-9]+")


@dataclass(frozen=True)
class NumberingPlan:
    """How numbers are written at this site: country, area, PBX trunk digit, extension length."""

    country: str = "DE"
    area_code: str = ""  # local area code without the national prefix, e.g. "89"
    trunk_prefix: str = "0"  # digit(s) the PBX puts before external numbers; "" for none
    internal_max_length: int = 4  # numbers of at most this many digits are extensions

    def __post_init__(self) -> None:
        # A bad plan is a configuration error; say so when it is made, not on every lookup.
        if not self.country.isalpha() or len(self.country) != 2 or not self.country.isupper():
            raise ValueError(
                f"country must be a two-letter upper-case region code, not {self.country!r}"
            )
        for name in ("area_code", "trunk_prefix"):
            value = getattr(self, name)
            if value and not (value.isascii() and value.isdigit()):
                raise ValueError(f"{name} must be digits only, not {value!r}")
        if self.internal_max_length < 0:
            raise ValueError("internal_max_length must not be negative")

    @classmethod
    def from_settings(cls, value: Callable[[str], Any]) -> NumberingPlan:
        """The plan of the numbers.* settings (`value(name)`); ValueError when they do not
        make one."""
        return cls(
            country=value("numbers.country"),
            area_code=value("numbers.area_code"),
            trunk_prefix=value("numbers.trunk_prefix"),
            internal_max_length=value("numbers.internal_max_length"),
        )


@dataclass(frozen=True)
class NormalisedNumber:
    """One party's number in comparable form: `key` for matching, `display` for people."""

    key: str  # "+49891234567" or "int:2001"
    kind: Literal["external", "internal"]
    display: str  # national format at home, international abroad


@dataclass(frozen=True)
class _Dialling:
    national_prefix: str  # "" where the country has none (e.g. Italy)
    international_prefix: re.Pattern[str] | None


@lru_cache(maxsize=32)
def _dialling(country: str) -> _Dialling:
    metadata = PhoneMetadata.metadata_for_region(country)
    if metadata is None:
        return _Dialling("", None)
    intl = metadata.international_prefix
    return _Dialling(metadata.national_prefix or "", re.compile(intl) if intl else None)


def _clean(raw: object) -> str | None:
    """The number reduced to an optional '+' and ASCII digits, or None if it is not a number."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text[:4].lower() == "tel:":
        # vCard 4 writes TEL values as tel: URIs; parameters such as ;ext= are not part of the key.
        text = text[4:].split(";", 1)[0]
    text = _SEPARATORS.sub("", text)
    if not _DIALLED.fullmatch(text) or len(text) > _MAX_DIGITS + 1:
        return None
    return text


def _is_internal(cleaned: str, plan: NumberingPlan) -> bool:
    return not cleaned.startswith("+") and len(cleaned) <= plan.internal_max_length


def _forms(cleaned: str, plan: NumberingPlan, from_pbx: bool) -> list[str]:
    """The digit strings to read, best first: with and without the trunk prefix (module doc)."""
    prefix = plan.trunk_prefix
    if not prefix or cleaned.startswith("+") or not cleaned.startswith(prefix):
        return [cleaned]
    if len(cleaned) == len(prefix):
        return [cleaned]
    stripped = cleaned[len(prefix) :]
    return [stripped, cleaned] if from_pbx else [cleaned, stripped]


def _readings(form: str, plan: NumberingPlan) -> list[str]:
    """How the site's users would mean `form` when dialling it, most likely first."""
    if form.startswith("+"):
        return [form]
    dialling = _dialling(plan.country)
    if dialling.international_prefix is not None and dialling.international_prefix.match(form):
        return [form]
    if dialling.national_prefix and form.startswith(dialling.national_prefix):
        return [form]
    # Dialled without any prefix: a local number in the site's area.  Also try it as a national
    # number that lost its prefix (a mobile number written "171 ..."), after the local reading.
    readings = [dialling.national_prefix + plan.area_code + form] if plan.area_code else []
    readings.append(form)
    return readings


def _parse(reading: str, plan: NumberingPlan) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(reading, plan.country)
    except NumberParseException:
        return None


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _is_plausible(number: PhoneNumber) -> bool:
    """An invalid number that may still be real: the right length, and no national number
    starting with 0 (what is left when a prefix was misread, e.g. "+49 0049...")."""
    return not number.italian_leading_zero and phonenumbers.is_possible_number(number)


def _valid_numbers(
    cleaned: str, plan: NumberingPlan, from_pbx: bool, plausible: list[PhoneNumber]
) -> Iterator[PhoneNumber]:
    """Valid readings, best first, parsed lazily; plausible invalid ones go to `plausible`."""
    for form in _forms(cleaned, plan, from_pbx):
        readable = False
        for reading in _readings(form, plan):
            number = _parse(reading, plan)
            if number is None:
                continue
            if phonenumbers.is_valid_number(number):
                readable = True
                yield number
            elif _is_plausible(number):
                readable = True
                plausible.append(number)
        if readable and not from_pbx:
            # A phonebook number that reads as written (if only as "possible": a range newer
            # than the metadata) is taken as written.  Stripping a "trunk digit" from it would
            # turn an unlisted mobile number 0151 ... into a Munich number 089 151 ...
            return


def normalise(raw: str, plan: NumberingPlan, from_pbx: bool = True) -> NormalisedNumber | None:
    """The number `raw` in comparable form, or None when it is empty, not a number, or invalid.

    `from_pbx` selects the trunk prefix rule (module docstring).  Never raises.
    """
    cleaned = _clean(raw)
    if cleaned is None or cleaned == "+":
        return None
    if _is_internal(cleaned, plan):
        return NormalisedNumber(INTERNAL_KEY_PREFIX + cleaned, "internal", cleaned)
    for number in _valid_numbers(cleaned, plan, from_pbx, []):
        at_home = phonenumbers.region_code_for_number(number) == plan.country
        style = PhoneNumberFormat.NATIONAL if at_home else PhoneNumberFormat.INTERNATIONAL
        display = phonenumbers.format_number(number, style)
        return NormalisedNumber(_e164(number), "external", display)
    return None


def iter_lookup_keys(raw: str, plan: NumberingPlan, from_pbx: bool = True) -> Iterator[str]:
    """The keys of `lookup_keys`, computed lazily so a lookup that hits early parses little."""
    cleaned = _clean(raw)
    if cleaned is None or cleaned == "+":
        return
    if _is_internal(cleaned, plan):
        yield INTERNAL_KEY_PREFIX + cleaned
        return
    seen: set[str] = set()
    plausible: list[PhoneNumber] = []
    for number in _valid_numbers(cleaned, plan, from_pbx, plausible):
        key = _e164(number)
        if key not in seen:
            seen.add(key)
            yield key
    # Numbers newer than the metadata (or odd private ranges) are "possible" but not "valid";
    # their E.164 form is still a far better key than raw digits.
    for number in plausible:
        key = _e164(number)
        if key not in seen:
            seen.add(key)
            yield key
    for form in _forms(cleaned, plan, from_pbx):
        key = RAW_KEY_PREFIX + form
        if key not in seen:
            seen.add(key)
            yield key


def lookup_keys(raw: str, plan: NumberingPlan, from_pbx: bool = True) -> list[str]:
    """Keys to try for `raw`, best first: valid E.164 readings, possible ones, raw digits.

    The first key is the one a phonebook indexes the number under (with ``from_pbx=False``);
    the rest are fallbacks.  Empty for input that is not a number.  Never raises.
    """
    return list(iter_lookup_keys(raw, plan, from_pbx))


def display_number(raw: str, plan: NumberingPlan, from_pbx: bool = True) -> str:
    """`raw` as people read and dial it: what `normalise` shows ("089 1234567" for the PBX's
    ``00891234567``), an extension as it is, "" for nothing.

    A number `normalise` cannot read (too short or long for its range, a made-up one) still
    loses the PBX's trunk access digit when it is an outside number with it: the digit is the
    PBX's, not the caller's, and a number shown with it cannot be dialled from anywhere else
    (``001519375336`` is shown ``01519375336``).  Never raises.
    """
    if not raw:
        return ""
    n = normalise(raw, plan, from_pbx)
    if n is not None:
        return n.display
    cleaned = _clean(raw)
    if cleaned is None:
        return raw.strip()
    prefix = plan.trunk_prefix
    if (
        from_pbx
        and prefix
        and not cleaned.startswith("+")
        and cleaned.startswith(prefix)
        and len(cleaned) - len(prefix) > plan.internal_max_length
    ):
        return cleaned[len(prefix) :]
    return cleaned
