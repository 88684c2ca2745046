"""The user's settings: every option declared once in `OPTIONS`, stored as TOML, plus the password.

Defaults, validation, the settings dialog's labels and help texts and the README's table all
follow from `OPTIONS` (the idea of qutebrowser's `configdata.yml`). No Qt here: the dialog in
`cstapopup/ui/settings_dialog.py` builds itself from this table.

The words of the table (labels, help texts, choices, units) are English and marked for
translation (`QT_TRANSLATE_NOOP`, context "Settings"); the `shown_*` properties and
`help_text` give them in the user's language.  The messages of `SettingsError` are made in the
user's language (`translate`).
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import os
import re
import string
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import platformdirs

from cstapopup import APP_NAME
from cstapopup.csta.defaults import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER
from cstapopup.csta.fileio import write_atomically
from cstapopup.i18n import QT_TRANSLATE_NOOP, translate

log = logging.getLogger(__name__)

CONFIG_FILE_NAME = "config.toml"
#: Overrides the configuration directory (tests, portable installs, several profiles).
CONFIG_DIR_ENV = "CSTAPOPUP_CONFIG_DIR"
#: The two ways to the PBX (`pbx.connection`): a CSTA link of this computer's own, or through
#: the office gateway and its MQTT broker.
LINK_DIRECT = "direct"
LINK_GATEWAY = "gateway"
#: Where each link's password lives in the TOML file, only when `pbx.password_storage` is
#: "plaintext".
PLAINTEXT_PASSWORD_KEYS = {
    LINK_DIRECT: "pbx.password_plaintext",
    LINK_GATEWAY: "gateway.password_plaintext",
}
PLAINTEXT_PASSWORD_KEY = PLAINTEXT_PASSWORD_KEYS[LINK_DIRECT]
KEYRING_SERVICE = APP_NAME

PASSWORD_STORAGE_KEYRING = "keyring"
PASSWORD_STORAGE_PLAINTEXT = "plaintext"
PASSWORD_STORAGE_NONE = "none"
#: The HiPath factory password of the CSTA user: the app logs in with it while no password is
#: stored (and says so), as `cstapopup monitor` does without --password.
FACTORY_PASSWORD = DEFAULT_PASSWORD


class SettingsError(ValueError):
    """A value that a setting does not accept; the message says why, for the user to read.

    `name` is the setting concerned (when one is), `reason` the message without the setting's
    label (what the dialog shows right under the field).
    """

    def __init__(self, message: str, name: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason if reason is not None else message


class PasswordStoreError(RuntimeError):
    """The password could not be stored or read (no keyring, the keyring refused)."""


class Kind(enum.Enum):
    """What sort of value an option holds; decides validation and the dialog's editor."""

    TEXT = "text"
    INT = "int"
    BOOL = "bool"
    CHOICE = "choice"
    DEVICES = "devices"  # a list of device numbers (digits)
    DEVICE = "device"  # one device number, or "" for none
    COLLEAGUES = "colleagues"  # device numbers or ranges, each number with an optional name
    PATH = "path"  # one file, or "" for none
    PATHS = "paths"  # a list of files


@dataclass(frozen=True)
class Option:
    """One setting: its name ("section.key"), kind, default, how to show it and what it accepts."""

    name: str
    kind: Kind
    default: Any
    label: str  # for the dialog; "&" marks the keyboard mnemonic
    help: str  # one or two sentences for the dialog and the README
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for Kind.CHOICE
    minimum: int | None = None
    maximum: int | None = None
    zero_means: str | None = None  # how the dialog shows 0 ("Stay until dismissed")
    suffix: str = ""  # unit shown after a number (" s", " days")
    placeholder: str = ""
    file_filter: str = ""  # for Kind.PATH / PATHS: the file dialog's filter
    #: Values filled into the help text's {fields} ("TCP port ... (HiPath: {port})").
    help_fields: tuple[tuple[str, Any], ...] = ()
    #: The way to the PBX this option belongs to (LINK_DIRECT, LINK_GATEWAY); None: either.
    #: The dialog shows it only while that way is chosen.
    link: str | None = None
    # Extra rule on the kind-checked value: raises SettingsError, or returns a normalised value
    # (None: keep the value as it is).
    check: Callable[[Any], Any] | None = field(default=None, compare=False)

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def page(self) -> str:
        """The section whose tab (SECTIONS) shows this option."""
        return _SHOWN_ON.get(self.section, self.section)

    def applies(self, connection: str) -> bool:
        """Whether the option is used with this way to the PBX (`pbx.connection`)."""
        return self.link is None or self.link == connection

    @property
    def shown_label(self) -> str:
        """The label in the user's language (with its mnemonic marker)."""
        return translate("Settings", self.label)

    @property
    def plain_label(self) -> str:
        """The label in the user's language, without its mnemonic marker."""
        return self.shown_label.replace("&&", "\0").replace("&", "").replace("\0", "&")

    @property
    def help_text(self) -> str:
        """The help text in the user's language, its fields filled in."""
        text = translate("Settings", self.help)
        return text.format(**dict(self.help_fields)) if self.help_fields else text

    @property
    def shown_choices(self) -> tuple[tuple[str, str], ...]:
        """(value, label in the user's language) for Kind.CHOICE."""
        return tuple((v, translate("Settings", label)) for v, label in self.choices)

    @property
    def shown_suffix(self) -> str:
        return translate("Settings", self.suffix) if self.suffix else ""

    @property
    def shown_zero_means(self) -> str | None:
        return translate("Settings", self.zero_means) if self.zero_means else None

    @property
    def shown_placeholder(self) -> str:
        return translate("Settings", self.placeholder) if self.placeholder else ""

    @property
    def shown_file_filter(self) -> str:
        return translate("Settings", self.file_filter) if self.file_filter else ""

    def choice_values(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.choices)

    def validate(self, value: Any) -> Any:
        """The value in its stored form, or SettingsError saying why it is not accepted."""
        try:
            normalised = _VALIDATORS[self.kind](self, value)
            if self.check is not None:
                replaced = self.check(normalised)
                if replaced is not None:
                    normalised = replaced
        except SettingsError as exc:
            message = _labelled(self.plain_label, exc.reason)
            raise SettingsError(message, self.name, exc.reason) from None
        return normalised

    def parse(self, text: str) -> Any:
        """A value typed as text (command line, a line edit) in its stored form."""
        text = text.strip()
        if self.kind is Kind.INT:
            if not re.fullmatch(r"[+-]?\d+", text):
                reason = translate("Settings", '"{text}" is not a whole number').format(text=text)
                raise SettingsError(_labelled(self.plain_label, reason), self.name, reason)
            return self.validate(int(text))
        if self.kind is Kind.BOOL:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            reason = translate("Settings", 'say true or false, not "{text}"').format(text=text)
            raise SettingsError(_labelled(self.plain_label, reason), self.name, reason)
        if self.kind is Kind.DEVICES:
            return self.validate([p for p in re.split(r"[\s,;]+", text) if p])
        if self.kind is Kind.COLLEAGUES:
            return self.validate([p.strip() for p in re.split(r"[,;\n]+", text) if p.strip()])
        if self.kind is Kind.PATHS:
            return self.validate([p for p in (s.strip() for s in text.split(os.pathsep)) if p])
        return self.validate(text)


def _labelled(label: str, reason: str) -> str:
    """A message about one setting: "Port: 0 is too small (at least 1)"."""
    return translate("Settings", "{label}: {reason}").format(label=label, reason=reason)


def _error(text: str, **fields: Any) -> SettingsError:
    """A SettingsError whose message is `text` (translated by the caller: lupdate finds only
    literal texts in translate() calls) with its fields filled in."""
    return SettingsError(text.format(**fields))


# --- per-kind validation -------------------------------------------------------------------


def _text(opt: Option, value: Any) -> str:
    if not isinstance(value, str):
        raise _error(translate("Settings", "expected text, got {value}"), value=_describe(value))
    return value.strip()


def _int(opt: Option, value: Any) -> int:
    # bool is an int in Python; `true` in the TOML file is not a number of seconds.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(
            translate("Settings", "expected a whole number, got {value}"), value=_describe(value)
        )
    if opt.minimum is not None and value < opt.minimum:
        raise _error(
            translate("Settings", "{value} is too small (at least {minimum})"),
            value=value,
            minimum=opt.minimum,
        )
    if opt.maximum is not None and value > opt.maximum:
        raise _error(
            translate("Settings", "{value} is too large (at most {maximum})"),
            value=value,
            maximum=opt.maximum,
        )
    return value


def _bool(opt: Option, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _error(
            translate("Settings", "expected true or false, got {value}"), value=_describe(value)
        )
    return value


def _choice(opt: Option, value: Any) -> str:
    values = opt.choice_values()
    if not isinstance(value, str) or value.strip() not in values:
        raise _error(
            translate("Settings", "{value} is not one of {choices}"),
            value=_describe(value),
            choices=", ".join(f'"{v}"' for v in values),
        )
    return value.strip()


_DEVICE_RE = re.compile(r"\d{1,30}")


def _device_number(value: Any) -> str:
    # A device written as a TOML integer (monitor = [100, 101]) is what people type; accept it.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str):
        raise _error(
            translate("Settings", "expected a device number, got {value}"), value=_describe(value)
        )
    value = value.strip()
    if not _DEVICE_RE.fullmatch(value):
        raise _error(
            translate("Settings", '"{value}" is not a device number (digits only)'), value=value
        )
    return value


def _device(opt: Option, value: Any) -> str:
    if isinstance(value, str) and not value.strip():
        return ""
    return _device_number(value)


def _devices(opt: Option, value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _error(
            translate("Settings", "expected a list of device numbers, got {value}"),
            value=_describe(value),
        )
    out: list[str] = []
    for item in value:
        number = _device_number(item)
        if number in out:
            raise _error(translate("Settings", "{value} is listed twice"), value=number)
        out.append(number)
    return out


#: "101", "101 Anna Berger", "101 = Anna Berger", "110-119" (a range has no name).
_COLLEAGUE_RE = re.compile(r"(\d{1,30})(?:\s*-\s*(\d{1,30}))?(?:\s*[=:]?\s*(\S.*))?")
#: The most devices one range may stand for.
MAX_COLLEAGUE_RANGE = 500


def _colleague(item: Any) -> tuple[str, str | None, str | None]:
    """(first number, last number of a range or None, name or None) of one entry."""
    if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
        item = str(item)
    if not isinstance(item, str):
        raise _error(
            translate("Settings", "expected a device number with an optional name, got {value}"),
            value=_describe(item),
        )
    match = _COLLEAGUE_RE.fullmatch(item.strip())
    if match is None:
        raise _error(
            translate(
                "Settings",
                '"{value}" is not a device number, a range like 110-119, or a number and a name',
            ),
            value=item.strip(),
        )
    first, last, name = match.groups()
    if last is not None:
        if name:
            raise _error(
                translate("Settings", '"{value}": a range cannot have a name'), value=item.strip()
            )
        if len(last) != len(first) or int(last) < int(first):
            raise _error(
                translate(
                    "Settings",
                    '"{first}-{last}" is not a range (write the lower number first, both '
                    "with as many digits)",
                ),
                first=first,
                last=last,
            )
        if int(last) - int(first) >= MAX_COLLEAGUE_RANGE:
            raise _error(
                translate(
                    "Settings", '"{first}-{last}" is too large a range (at most {maximum} devices)'
                ),
                first=first,
                last=last,
                maximum=MAX_COLLEAGUE_RANGE,
            )
    return first, last, (name.strip() if name else None)


def _colleagues(opt: Option, value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _error(
            translate("Settings", "expected a list of device numbers, got {value}"),
            value=_describe(value),
        )
    out: list[str] = []
    seen: set[str] = set()
    for item in value:
        first, last, name = _colleague(item)
        numbers = (
            [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]
            if last is not None
            else [first]
        )
        for number in numbers:
            if number in seen:
                raise _error(translate("Settings", "{value} is listed twice"), value=number)
            seen.add(number)
        out.append(f"{first}-{last}" if last is not None else f"{first} {name}" if name else first)
    return out


def colleague_entries(value: Iterable[str]) -> list[tuple[str, str | None]]:
    """A valid `devices.colleagues` value as (device, name or None), ranges spelled out."""
    out: list[tuple[str, str | None]] = []
    for item in value:
        first, last, name = _colleague(item)
        if last is None:
            out.append((first, name))
        else:
            out.extend((str(n).zfill(len(first)), None) for n in range(int(first), int(last) + 1))
    return out


def _path(opt: Option, value: Any) -> str:
    if not isinstance(value, str):
        raise _error(
            translate("Settings", "expected a file name, got {value}"), value=_describe(value)
        )
    return value.strip()


def _paths(opt: Option, value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _error(
            translate("Settings", "expected a list of file names, got {value}"),
            value=_describe(value),
        )
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _error(
                translate("Settings", "expected a file name, got {value}"), value=_describe(item)
            )
        item = item.strip()
        if item in out:
            raise _error(translate("Settings", "{value} is listed twice"), value=item)
        out.append(item)
    return out


_VALIDATORS: dict[Kind, Callable[[Option, Any], Any]] = {
    Kind.TEXT: _text,
    Kind.INT: _int,
    Kind.BOOL: _bool,
    Kind.CHOICE: _choice,
    Kind.DEVICES: _devices,
    Kind.DEVICE: _device,
    Kind.PATH: _path,
    Kind.PATHS: _paths,
    Kind.COLLEAGUES: _colleagues,
}


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return type(value).__name__


# --- per-option checks ---------------------------------------------------------------------

_HOST_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def check_host(host: str) -> None:
    """A host name or an IP address, nothing else (no scheme, no port)."""
    if not host:
        return
    if "://" in host:
        raise _error(
            translate(
                "Settings", "give the host name or IP address only, without http:// or tcp://"
            )
        )
    if any(c.isspace() for c in host):
        raise _error(translate("Settings", "a host name has no spaces"))
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(candidate)
        return
    except ValueError:
        pass
    if ":" in host:
        raise _error(
            translate("Settings", "give the host without the port; the port has its own field")
        )
    if re.fullmatch(r"[\d.]+", host):
        raise _error(translate("Settings", '"{host}" is not a valid IP address'), host=host)
    name = host.removesuffix(".")
    if len(name) > 253 or not all(_HOST_LABEL_RE.fullmatch(p) for p in name.split(".")):
        raise _error(translate("Settings", '"{host}" is not a valid host name'), host=host)


def check_user(user: str) -> None:
    if not user:
        raise _error(
            translate("Settings", "the PBX needs a user name (usually {user})"), user=DEFAULT_USER
        )
    if any(c.isspace() for c in user):
        raise _error(translate("Settings", "the user name has no spaces"))


def check_broker_url(url: str) -> str | None:
    """Empty, or the broker's address: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)."""
    if not url:
        return None
    if not re.match(r"(?i)mqtts?://", url):
        raise _error(
            translate(
                "Settings",
                "start the address with mqtt:// (or mqtts:// for "
                "TLS), e.g. mqtts://broker.office:8883",
            )
        )
    # Said here in the user's words; the gateway's parser below has the last word.
    parts = urlsplit(url)
    if parts.password:
        raise _error(
            translate("Settings", "put the password in the password field, not in the URL")
        )
    if parts.username is not None:
        raise _error(
            translate("Settings", "put the user name in its own field, not in the address")
        )
    if not parts.hostname:
        raise _error(translate("Settings", "the address has no host"))
    try:
        _ = parts.port  # raises for a port out of range
    except ValueError:
        raise _error(translate("Settings", "bad port in the address (use 1 to 65535)")) from None
    if parts.path not in ("", "/"):
        raise _error(translate("Settings", "no path expected after the host and port"))
    check_host(parts.hostname)
    from cstapopup.gateway.broker import BrokerConfigError, parse_broker_url

    try:
        parse_broker_url(url)
    except BrokerConfigError as exc:
        raise SettingsError(str(exc)) from None
    return None


def check_site(site: str) -> None:
    """The site name in the gateway's topics (the gateway's --site)."""
    from cstapopup.gateway.wire import WireError, check_name

    try:
        check_name("site", site)
    except WireError:
        raise _error(
            translate(
                "Settings", "use 1-64 letters, digits, _ . @ or - (as the office gateway's --site)"
            )
        ) from None


def check_broker_user(user: str) -> None:
    if not user:
        return
    from cstapopup.gateway.wire import WireError, check_name

    try:
        check_name("user", user)
    except WireError:
        raise _error(translate("Settings", "use 1-64 letters, digits, _ . @ or -")) from None


def check_country(code: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2}", code):
        raise _error(
            translate("Settings", '"{code}" is not a two-letter country code (DE, AT, CH, ...)'),
            code=code,
        )
    try:
        import phonenumbers  # optional here: the check is better with it, not impossible without
    except ImportError:
        return code.upper()
    if code.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise _error(
            translate("Settings", '"{code}" is not a country code the number formatting knows'),
            code=code,
        )
    return code.upper()


def _digits(what: str, max_len: int) -> Callable[[str], None]:
    """A check for digits only, at most `max_len` of them; `what` (marked for translation)
    names the value in the message."""

    def check(value: str) -> None:
        if value and not re.fullmatch(rf"\d{{1,{max_len}}}", value):
            raise _error(
                translate("Settings", "{what}: digits only, at most {maximum}"),
                what=translate("Settings", what),
                maximum=max_len,
            )

    return check


_CRM_FIELDS = ("number", "name")


def check_url_template(template: str) -> None:
    """Empty, or an http(s) address whose only placeholders are {number} and {name}."""
    if not template:
        return
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise SettingsError(
            translate(
                "Settings", "unbalanced {{ or }}: write {{{{ and }}}} for literal braces"
            ).format()
        ) from None
    for _literal, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name not in _CRM_FIELDS:
            raise _error(
                translate(
                    "Settings", "unknown placeholder {placeholder}: use {{number}} and {{name}}"
                ),
                placeholder="{" + field_name + "}",
            )
        if spec or conversion:
            raise _error(
                translate("Settings", "write the placeholder as {placeholder}, without : or !"),
                placeholder="{" + field_name + "}",
            )
    parts = urlsplit(fill_url_template(template, number="0", name="x"))
    if parts.scheme.lower() not in ("http", "https"):
        raise _error(translate("Settings", "the address must start with http:// or https://"))
    if not parts.netloc:
        raise _error(translate("Settings", "the address has no host after http(s)://"))


def fill_url_template(template: str, *, number: str, name: str | None) -> str:
    """The CRM address for one caller: {number} and {name} URL-encoded (every reserved
    character escaped, so a name like "Müller & Söhne" cannot break the query)."""
    return template.format(number=quote(number or "", safe=""), name=quote(name or "", safe=""))


# --- the table -----------------------------------------------------------------------------

#: Section name -> title shown in the dialog (tabs, in this order; marked for translation).
SECTIONS: dict[str, str] = {
    "pbx": QT_TRANSLATE_NOOP("Settings", "PBX"),
    "devices": QT_TRANSLATE_NOOP("Settings", "Devices"),
    "popup": QT_TRANSLATE_NOOP("Settings", "Popup"),
    "phonebook": QT_TRANSLATE_NOOP("Settings", "Phonebook"),
    "numbers": QT_TRANSLATE_NOOP("Settings", "Numbers"),
    "crm": QT_TRANSLATE_NOOP("Settings", "CRM"),
    "history": QT_TRANSLATE_NOOP("Settings", "History"),
    "app": QT_TRANSLATE_NOOP("Settings", "App"),
}
#: Sections shown on another section's tab: the office gateway's settings are the other way
#: to the PBX, chosen on the PBX tab.
_SHOWN_ON = {"gateway": "pbx"}


def section_title(section: str) -> str:
    """A section's title in the user's language."""
    return translate("Settings", SECTIONS[section])


_PHONEBOOK_FILTER = QT_TRANSLATE_NOOP(
    "Settings", "Phone books (*.csv *.vcf *.vcard);;All files (*)"
)

#: The languages the app speaks: value -> its name, in itself (not translated: whoever cannot
#: read the current language finds their own).  "auto": the system's (the desktop's locale).
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch"}

_CERTIFICATES_FILTER = QT_TRANSLATE_NOOP(
    "Settings", "Certificates (*.pem *.crt *.cer);;All files (*)"
)

OPTIONS: tuple[Option, ...] = (
    Option(
        "pbx.connection",
        Kind.CHOICE,
        LINK_DIRECT,
        QT_TRANSLATE_NOOP("Settings", "&Connect"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "How this computer reaches the PBX: a CSTA link of its "
            "own, or through the office gateway (cstapopup gateway), which "
            "shares one PBX link with every desktop of the office through an "
            "MQTT broker.",
        ),
        choices=(
            (LINK_DIRECT, QT_TRANSLATE_NOOP("Settings", "PBX directly")),
            (LINK_GATEWAY, QT_TRANSLATE_NOOP("Settings", "Office gateway")),
        ),
    ),
    Option(
        "pbx.host",
        Kind.TEXT,
        "",
        QT_TRANSLATE_NOOP("Settings", "&Host"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Host name or IP address of the PBX's CSTA interface. Empty: not configured yet.",
        ),
        placeholder=QT_TRANSLATE_NOOP("Settings", "e.g. 192.0.2.1"),
        check=check_host,
        link=LINK_DIRECT,
    ),
    Option(
        "pbx.port",
        Kind.INT,
        DEFAULT_PORT,
        QT_TRANSLATE_NOOP("Settings", "&Port"),
        QT_TRANSLATE_NOOP("Settings", "TCP port of the CSTA interface (HiPath: {port})."),
        minimum=1,
        maximum=65535,
        help_fields=(("port", DEFAULT_PORT),),
        link=LINK_DIRECT,
    ),
    Option(
        "pbx.user",
        Kind.TEXT,
        DEFAULT_USER,
        QT_TRANSLATE_NOOP("Settings", "&User"),
        QT_TRANSLATE_NOOP(
            "Settings", "User name the PBX expects for CSTA applications (usually {user})."
        ),
        check=check_user,
        help_fields=(("user", DEFAULT_USER),),
        link=LINK_DIRECT,
    ),
    Option(
        "pbx.tls",
        Kind.BOOL,
        False,
        QT_TRANSLATE_NOOP("Settings", "Use TL&S"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Encrypt the link (only if the PBX or a TLS proxy in front of it offers it).",
        ),
        link=LINK_DIRECT,
    ),
    Option(
        "pbx.ca_file",
        Kind.PATH,
        "",
        QT_TRANSLATE_NOOP("Settings", "C&A certificate"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "PEM file of the authority that signed the PBX's "
            "certificate. Empty: the system's certificates.",
        ),
        file_filter=_CERTIFICATES_FILTER,
        link=LINK_DIRECT,
    ),
    Option(
        "gateway.broker",
        Kind.TEXT,
        "",
        QT_TRANSLATE_NOOP("Settings", "Broker &address"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Address of the office's MQTT broker: "
            "mqtt://HOST[:1883], or mqtts://HOST[:8883] with TLS. Empty: not "
            "configured yet.",
        ),
        placeholder=QT_TRANSLATE_NOOP("Settings", "e.g. mqtts://broker.office:8883"),
        check=check_broker_url,
        link=LINK_GATEWAY,
    ),
    Option(
        "gateway.user",
        Kind.TEXT,
        "",
        QT_TRANSLATE_NOOP("Settings", "Broker use&r"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Your user name at the broker; the office gateway lets "
            "it control the phones its rights file gives it.",
        ),
        check=check_broker_user,
        link=LINK_GATEWAY,
    ),
    Option(
        "gateway.ca_file",
        Kind.PATH,
        "",
        QT_TRANSLATE_NOOP("Settings", "Broker CA &file"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "PEM file of the authority that signed the broker's "
            "certificate (mqtts://). Empty: the system's certificates.",
        ),
        file_filter=_CERTIFICATES_FILTER,
        link=LINK_GATEWAY,
    ),
    Option(
        "gateway.site",
        Kind.TEXT,
        "default",
        QT_TRANSLATE_NOOP("Settings", "Sit&e"),
        QT_TRANSLATE_NOOP(
            "Settings", "The site name the office gateway was started with (its --site)."
        ),
        check=check_site,
        link=LINK_GATEWAY,
    ),
    Option(
        "pbx.password_storage",
        Kind.CHOICE,
        PASSWORD_STORAGE_KEYRING,
        QT_TRANSLATE_NOOP("Settings", "Keep password &in"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Where the password (the PBX's, or the broker's) is "
            "kept: the system keyring, the settings file in plain text (only "
            "after you confirm), or nowhere (you are asked at each start).",
        ),
        choices=(
            (PASSWORD_STORAGE_KEYRING, QT_TRANSLATE_NOOP("Settings", "System keyring")),
            (
                PASSWORD_STORAGE_PLAINTEXT,
                QT_TRANSLATE_NOOP("Settings", "Settings file (plain text)"),
            ),
            (PASSWORD_STORAGE_NONE, QT_TRANSLATE_NOOP("Settings", "Nowhere: ask at each start")),
        ),
    ),
    Option(
        "devices.monitor",
        Kind.DEVICES,
        [],
        QT_TRANSLATE_NOOP("Settings", "&Monitored devices"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Phone numbers (extensions) whose calls pop up and are recorded, separated by commas.",
        ),
        placeholder=QT_TRANSLATE_NOOP("Settings", "e.g. 100, 101"),
    ),
    Option(
        "devices.own",
        Kind.DEVICE,
        "",
        QT_TRANSLATE_NOOP("Settings", "&Your own phone"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Your own extension, one of the monitored devices: the "
            "Answer button appears for calls ringing there. Empty: none.",
        ),
    ),
    Option(
        "devices.colleagues",
        Kind.COLLEAGUES,
        [],
        QT_TRANSLATE_NOOP("Settings", "Co&lleagues"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Extensions shown in the colleagues panel, each with an "
            'optional name ("101 Anna Berger, 102, 110-119"); without one, '
            "the phone book's name. Empty: the monitored devices. Each is "
            "monitored too: those beyond the PBX's limit show as not "
            "monitored.",
        ),
        placeholder=QT_TRANSLATE_NOOP("Settings", "e.g. 101 Anna Berger, 102, 110-119"),
    ),
    Option(
        "popup.screen",
        Kind.CHOICE,
        "primary",
        QT_TRANSLATE_NOOP("Settings", "&Screen"),
        QT_TRANSLATE_NOOP("Settings", "Where popups appear when there are several screens."),
        choices=(
            ("primary", QT_TRANSLATE_NOOP("Settings", "Primary screen")),
            ("mouse", QT_TRANSLATE_NOOP("Settings", "Screen with the mouse pointer")),
        ),
    ),
    Option(
        "popup.corner",
        Kind.CHOICE,
        "bottom-right",
        QT_TRANSLATE_NOOP("Settings", "Co&rner"),
        QT_TRANSLATE_NOOP("Settings", "Corner of the screen where popups stack up."),
        choices=(
            ("bottom-right", QT_TRANSLATE_NOOP("Settings", "Bottom right")),
            ("bottom-left", QT_TRANSLATE_NOOP("Settings", "Bottom left")),
            ("top-right", QT_TRANSLATE_NOOP("Settings", "Top right")),
            ("top-left", QT_TRANSLATE_NOOP("Settings", "Top left")),
        ),
    ),
    Option(
        "popup.close_after_seconds",
        Kind.INT,
        8,
        QT_TRANSLATE_NOOP("Settings", "C&lose after"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Seconds a popup stays after the call was answered "
            "elsewhere or ended (0: until dismissed). It never closes by itself "
            "while the phone rings.",
        ),
        minimum=0,
        maximum=3600,
        zero_means=QT_TRANSLATE_NOOP("Settings", "Stay until dismissed"),
        suffix=QT_TRANSLATE_NOOP("Settings", " s"),
    ),
    Option(
        "popup.sound",
        Kind.BOOL,
        False,
        QT_TRANSLATE_NOOP("Settings", "&Play a sound"),
        QT_TRANSLATE_NOOP("Settings", "Play a sound when a popup appears."),
    ),
    Option(
        "popup.sound_file",
        Kind.PATH,
        "",
        QT_TRANSLATE_NOOP("Settings", "Sound &file"),
        QT_TRANSLATE_NOOP("Settings", "WAV file to play. Empty: the built-in ring."),
        file_filter=QT_TRANSLATE_NOOP("Settings", "Sounds (*.wav);;All files (*)"),
    ),
    Option(
        "phonebook.files",
        Kind.PATHS,
        [],
        QT_TRANSLATE_NOOP("Settings", "Phone &books"),
        QT_TRANSLATE_NOOP(
            "Settings", "CSV or vCard files with names and numbers, looked up for every call."
        ),
        file_filter=_PHONEBOOK_FILTER,
    ),
    Option(
        "numbers.country",
        Kind.TEXT,
        "DE",
        QT_TRANSLATE_NOOP("Settings", "Co&untry"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Country of the PBX (ISO code such as DE, AT, CH): decides how numbers are written.",
        ),
        check=check_country,
    ),
    Option(
        "numbers.area_code",
        Kind.TEXT,
        "",
        QT_TRANSLATE_NOOP("Settings", "&Area code"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Area code of the PBX without the trunk prefix (89 for "
            "Munich), so local numbers are found in the phone book.",
        ),
        placeholder=QT_TRANSLATE_NOOP("Settings", "e.g. 89"),
        check=_digits(QT_TRANSLATE_NOOP("Settings", "area code"), 8),
    ),
    Option(
        "numbers.trunk_prefix",
        Kind.TEXT,
        "0",
        QT_TRANSLATE_NOOP("Settings", "&Trunk access digit"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Digit(s) the PBX puts in front of outside numbers (its "
            "trunk access code, usually 0), stripped before the number is "
            "looked up. Empty: the PBX sends numbers without it.",
        ),
        check=_digits(QT_TRANSLATE_NOOP("Settings", "trunk access digit"), 3),
    ),
    Option(
        "numbers.internal_max_length",
        Kind.INT,
        4,
        QT_TRANSLATE_NOOP("Settings", "&Internal numbers up to"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "Numbers with at most this many digits are extensions of the PBX, not outside calls.",
        ),
        minimum=1,
        maximum=12,
        suffix=QT_TRANSLATE_NOOP("Settings", " digits"),
    ),
    Option(
        "crm.url_template",
        Kind.TEXT,
        "",
        QT_TRANSLATE_NOOP("Settings", "CRM &address"),
        QT_TRANSLATE_NOOP(
            "Settings",
            'Address opened by "Open CRM"; {number} and {name} are filled in. Empty: no button.',
        ),
        placeholder="https://crm.example.com/search?q={number}",
        check=check_url_template,
    ),
    Option(
        "history.retention_days",
        Kind.INT,
        365,
        QT_TRANSLATE_NOOP("Settings", "&Keep calls for"),
        QT_TRANSLATE_NOOP(
            "Settings", "Calls older than this are deleted from the history; 0 keeps them forever."
        ),
        minimum=0,
        maximum=36500,
        zero_means=QT_TRANSLATE_NOOP("Settings", "Keep forever"),
        suffix=QT_TRANSLATE_NOOP("Settings", " days"),
    ),
    Option(
        "app.language",
        Kind.CHOICE,
        "auto",
        QT_TRANSLATE_NOOP("Settings", "Lan&guage"),
        QT_TRANSLATE_NOOP(
            "Settings",
            "The language of the windows, popups and messages: "
            "the system's (its locale settings), or one chosen here. A change "
            "takes effect when cstapopup starts again.",
        ),
        choices=(
            ("auto", QT_TRANSLATE_NOOP("Settings", "As the system (its locale)")),
            *LANGUAGES.items(),
        ),
    ),
    Option(
        "app.start_at_login",
        Kind.BOOL,
        False,
        QT_TRANSLATE_NOOP("Settings", "&Start at login"),
        QT_TRANSLATE_NOOP("Settings", "Start cstapopup when you log in."),
    ),
    Option(
        "app.do_not_disturb",
        Kind.BOOL,
        False,
        QT_TRANSLATE_NOOP("Settings", "&Do not disturb"),
        QT_TRANSLATE_NOOP(
            "Settings", "No popups and no sound; calls are still recorded in the history."
        ),
    ),
)

OPTIONS_BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}


def option(name: str) -> Option:
    try:
        return OPTIONS_BY_NAME[name]
    except KeyError:
        raise SettingsError(
            translate("Settings", "there is no setting called {name}").format(name=repr(name)), name
        ) from None


def cross_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules that involve more than one setting: (setting to blame, message) for each broken one.

    `values` must hold valid values of every option (already through `Option.validate`).
    """
    problems: list[tuple[str, str]] = []
    monitor = values["devices.monitor"]
    own = values["devices.own"]
    if _link_address(values) and not monitor:
        problems.append(
            ("devices.monitor", translate("Settings", "list at least one device to monitor"))
        )
    if own and own not in monitor:
        problems.append(
            (
                "devices.own",
                translate("Settings", "{device} is not one of the monitored devices").format(
                    device=own
                ),
            )
        )
    area = values["numbers.area_code"]
    if area.startswith("0"):
        # The numbering plan takes the area code without the national prefix (89, not 089).
        message = translate(
            "Settings", "write the area code without the leading 0 ({right}, not {wrong})"
        ).format(right=area.lstrip("0") or "…", wrong=area)
        problems.append(("numbers.area_code", message))
    return problems


def _link_address(values: Mapping[str, Any]) -> str:
    """Where the chosen way to the PBX goes: the PBX's host, or the broker; "" if not set."""
    if values["pbx.connection"] == LINK_GATEWAY:
        return values["gateway.broker"]
    return values["pbx.host"]


#: On load, a cross-rule problem of these settings is fixed by using the default (the others
#: are only reported: dropping the host because no device is listed would lose more).
_RESET_ON_LOAD = frozenset({"devices.own", "numbers.area_code"})


@dataclass(frozen=True)
class ConnectionParameters:
    """What "Test connection" and the client need to log in. The password stays out of repr()."""

    host: str
    port: int
    user: str
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str = ""


@dataclass(frozen=True)
class GatewayParameters:
    """What the way through the office gateway needs: the broker (mqtt:// or mqtts://), the
    broker user and password, the CA file of the broker's certificate, the gateway's site.
    The password stays out of repr()."""

    broker: str
    user: str = ""
    password: str | None = field(default=None, repr=False)
    ca_file: str = ""
    site: str = "default"


#: The parameters of either way to the PBX.
LinkParameters = ConnectionParameters | GatewayParameters


# --- files ---------------------------------------------------------------------------------


def config_dir() -> Path:
    """The configuration directory: $CSTAPOPUP_CONFIG_DIR, else the platform's place."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    return config_dir() / CONFIG_FILE_NAME


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.bad-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.bad-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


_FILE_HEADER = (
    "# cstapopup settings. Edit with the Settings dialog, or by hand while cstapopup is not\n"
    "# running; a value it cannot use is reported and replaced by its default.\n\n"
)


# --- the settings object -------------------------------------------------------------------


#: What Settings.snapshot() gives and Settings.restore() takes: every value, and the plain-text
#: passwords.
SettingsSnapshot = tuple[dict[str, Any], dict[str, str | None]]


class Settings:
    """The current value of every option, with load/save to one TOML file.

    Values are checked on the way in (`set`, `update`, `load`), so `get` always returns a valid
    value. Lists are returned as copies: changing them does not change the settings.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = Path(path) if path is not None else config_path()
        self._values: dict[str, Any] = {o.name: _copy(o.default) for o in OPTIONS}
        #: The plain-text password of each way to the PBX (LINK_DIRECT, LINK_GATEWAY).
        self._plaintext: dict[str, str | None] = {}
        # Keys this version does not know, kept so that saving does not destroy what a newer
        # version wrote.
        self._unknown: dict[str, Any] = {}
        self._listeners: list[Callable[[list[str]], None]] = []

    # -- reading

    @classmethod
    def load(
        cls, path: Path | str | None = None, *, read_only: bool = False
    ) -> tuple[Settings, list[str]]:
        """Settings from the file (defaults where it is missing or wrong) and the warnings.

        Never raises for a bad file: an unreadable or corrupt file is moved aside to
        `config.toml.bad-<timestamp>` and the defaults are used.  `read_only` (a command that
        only reads a few settings): the file is left as it is, whatever is wrong with it, and
        the warnings are only returned, not logged.
        """
        settings = cls(Path(path) if path is not None else None)
        warnings: list[str] = []
        p = settings._path
        try:
            with open(p, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            return settings, warnings
        except (OSError, ValueError) as exc:  # TOMLDecodeError, UnicodeDecodeError: ValueErrors
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if read_only:
                return settings, [
                    translate(
                        "Settings", "Could not read {file} ({problem}); using the defaults."
                    ).format(file=p, problem=reason)
                ]
            try:
                moved = _move_aside(p)
            except OSError as move_exc:
                warnings.append(
                    translate(
                        "Settings",
                        "Could not read {file} ({problem}) nor move it aside "
                        "({move_problem}); using the defaults.",
                    ).format(file=p, problem=reason, move_problem=move_exc.strerror or move_exc)
                )
            else:
                warnings.append(
                    translate(
                        "Settings",
                        "Could not read {file} ({problem}); it was moved to {moved} and "
                        "the defaults are used.",
                    ).format(file=p, problem=reason, moved=moved.name)
                )
            for w in warnings:
                log.warning("%s", w)
            return settings, warnings

        flat: dict[str, Any] = {}
        for section, table in raw.items():
            if not isinstance(table, dict):
                settings._unknown[section] = table
                warnings.append(
                    translate(
                        "Settings", "{section}: expected a [{section}] table; ignored."
                    ).format(section=section)
                )
                continue
            for key, value in table.items():
                flat[f"{section}.{key}"] = value

        plaintexts = {kind: flat.pop(key, None) for kind, key in PLAINTEXT_PASSWORD_KEYS.items()}
        for name, value in flat.items():
            opt = OPTIONS_BY_NAME.get(name)
            if opt is None:
                settings._unknown[name] = value
                warnings.append(
                    translate(
                        "Settings", "Unknown setting {name} in {file}; kept but not used."
                    ).format(name=name, file=p.name)
                )
                continue
            try:
                settings._values[name] = opt.validate(value)
            except SettingsError as exc:
                warnings.append(_using_default(name, exc.reason, opt))

        for name, message in cross_problems(settings._values):
            if name in _RESET_ON_LOAD:
                opt = OPTIONS_BY_NAME[name]
                settings._values[name] = _copy(opt.default)
                warnings.append(_using_default(name, message, opt))
            else:
                warnings.append(
                    translate("Settings", "{name}: {problem}.").format(name=name, problem=message)
                )

        tightened = False
        for kind, plaintext in plaintexts.items():
            key = PLAINTEXT_PASSWORD_KEYS[kind]
            if plaintext is None:
                continue
            if settings.get("pbx.password_storage") != PASSWORD_STORAGE_PLAINTEXT:
                # Do not keep a plain-text password the user did not choose to keep: the next
                # save drops it from the file.
                warnings.append(
                    translate(
                        "Settings",
                        "{key} is ignored (and removed on the next save) because "
                        'pbx.password_storage is not "plaintext".',
                    ).format(key=key)
                )
            elif not isinstance(plaintext, str):
                warnings.append(
                    translate("Settings", "{key}: expected text; ignored.").format(key=key)
                )
            else:
                settings._plaintext[kind] = plaintext
                if not read_only and not tightened:
                    tightened = True
                    warnings.extend(_tighten_permissions(p))

        for w in [] if read_only else warnings:
            log.warning("%s", w)
        return settings, warnings

    # -- values

    @property
    def path(self) -> Path:
        return self._path

    def get(self, name: str) -> Any:
        value = self._values[option(name).name]
        return _copy(value)

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def set(self, name: str, value: Any) -> None:
        """Change one setting; SettingsError (and no change) when the value is not accepted."""
        self.update({name: value})

    def update(self, changes: Mapping[str, Any]) -> list[str]:
        """Change several settings at once, all or none; returns the names that changed.

        Rules between settings (own device among the monitored ones, ...) are checked on the
        result, so related settings can be changed together in one call.
        """
        candidate = dict(self._values)
        errors: list[SettingsError] = []
        for name, value in changes.items():
            try:
                candidate[option(name).name] = option(name).validate(value)
            except SettingsError as exc:
                errors.append(exc)
        if not errors:
            for name, message in cross_problems(candidate):
                # Only rules touched by this change: an old problem (say, a host loaded without
                # devices) must not block changing an unrelated setting.
                if name in changes or _related(name, changes):
                    errors.append(
                        SettingsError(_labelled(option(name).plain_label, message), name, message)
                    )
        if errors:
            raise SettingsError(
                "; ".join(str(e) for e in errors),
                errors[0].name,
                errors[0].reason if len(errors) == 1 else None,
            )
        changed = [n for n in changes if candidate[n] != self._values[n]]
        self._values = candidate
        if changed:
            for listener in list(self._listeners):
                listener(changed)
        return changed

    def snapshot(self) -> SettingsSnapshot:
        """A copy of every value (and the plain-text password) for `restore`."""
        return (self.to_dict(), dict(self._plaintext))

    def restore(self, snapshot: SettingsSnapshot) -> None:
        """Go back to a `snapshot()` (undo a change whose follow-up failed); no listeners."""
        values, plaintext = snapshot
        self._values = {name: _copy(v) for name, v in values.items()}
        self._plaintext = dict(plaintext)

    def problems(self) -> list[tuple[str, str]]:
        """Rules between settings that the current values break (see `cross_problems`)."""
        return cross_problems(self._values)

    @property
    def connection(self) -> str:
        """The way to the PBX: LINK_DIRECT or LINK_GATEWAY (`pbx.connection`)."""
        return self._values["pbx.connection"]

    @property
    def is_configured(self) -> bool:
        """Enough to connect: a host (or, through the gateway, a broker) and at least one
        device."""
        return bool(_link_address(self._values)) and bool(self._values["devices.monitor"])

    def to_dict(self) -> dict[str, Any]:
        """Every setting by its dotted name (the password is never part of it)."""
        return {name: _copy(v) for name, v in self._values.items()}

    def subscribe(self, listener: Callable[[list[str]], None]) -> None:
        """Call `listener(changed_names)` after each change (the UI bridges it to a Qt signal)."""
        self._listeners.append(listener)

    def connection_parameters(self, password: str | None) -> ConnectionParameters:
        return ConnectionParameters(
            host=self._values["pbx.host"],
            port=self._values["pbx.port"],
            user=self._values["pbx.user"],
            password=password,
            tls=self._values["pbx.tls"],
            ca_file=self._values["pbx.ca_file"],
        )

    def gateway_parameters(self, password: str | None) -> GatewayParameters:
        return GatewayParameters(
            broker=self._values["gateway.broker"],
            user=self._values["gateway.user"],
            password=password,
            ca_file=self._values["gateway.ca_file"],
            site=self._values["gateway.site"],
        )

    def link_parameters(self, password: str | None) -> LinkParameters:
        """The parameters of the chosen way to the PBX."""
        if self.connection == LINK_GATEWAY:
            return self.gateway_parameters(password)
        return self.connection_parameters(password)

    # The plain-text passwords are for PasswordStore only; they are not settings of their own.
    @property
    def plaintext_password(self) -> str | None:
        """The PBX's (the direct link's) plain-text password."""
        return self._plaintext.get(LINK_DIRECT)

    @plaintext_password.setter
    def plaintext_password(self, password: str | None) -> None:
        self._plaintext[LINK_DIRECT] = password

    def plaintext_password_of(self, kind: str) -> str | None:
        """The plain-text password of one way to the PBX (LINK_DIRECT, LINK_GATEWAY)."""
        return self._plaintext.get(kind)

    def set_plaintext_password(self, kind: str, password: str | None) -> None:
        self._plaintext[kind] = password

    def __repr__(self) -> str:
        return f"Settings({str(self._path)!r})"

    # -- writing

    def to_toml(self) -> str:
        tables: dict[str, dict[str, Any]] = {}
        for opt in OPTIONS:
            tables.setdefault(opt.section, {})[opt.key] = self._values[opt.name]
        if self._values["pbx.password_storage"] == PASSWORD_STORAGE_PLAINTEXT:
            for kind, key in PLAINTEXT_PASSWORD_KEYS.items():
                if self._plaintext.get(kind):
                    section, name = key.split(".", 1)
                    tables[section][name] = self._plaintext[kind]
        for name, value in self._unknown.items():
            if "." in name:
                section, key = name.split(".", 1)
                tables.setdefault(section, {}).setdefault(key, value)
            else:
                tables.setdefault(name, value)
        import tomli_w  # only to write (the app's extra): reading needs the stdlib only

        return _FILE_HEADER + tomli_w.dumps(tables)

    def save(self, path: Path | str | None = None) -> Path:
        """Write the file atomically (0600; the folder 0700 when this creates it)."""
        target = Path(path) if path is not None else self._path
        _ensure_dir(target.parent)
        write_atomically(target, self.to_toml().encode("utf-8"))
        log.info("settings saved to %s", target)
        return target


def _related(name: str, changes: Iterable[str]) -> bool:
    groups = (
        {"devices.monitor", "devices.own", "pbx.host", "pbx.connection", "gateway.broker"},
        {"numbers.area_code", "numbers.trunk_prefix"},
    )
    return any(name in g and any(c in g for c in changes) for g in groups)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _describe_default(opt: Option) -> str:
    d = opt.default
    if isinstance(d, list):
        return translate("Settings", "none") if not d else ", ".join(d)
    if d == "":
        return translate("Settings", "empty")
    return _describe(d)


def _using_default(name: str, problem: str, opt: Option) -> str:
    return translate("Settings", "{name}: {problem}; using the default ({default}).").format(
        name=name, problem=problem, default=_describe_default(opt)
    )


def _ensure_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        os.chmod(directory, 0o700)  # mkdir's mode is reduced by the umask


def _tighten_permissions(path: Path) -> list[str]:
    """A file holding a password must not be readable by others; fix it and say so."""
    if os.name != "posix":
        return []
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, 0o600)
            return [
                translate(
                    "Settings",
                    "{file} holds the password and was readable by others; "
                    "its permissions were set to 0600.",
                ).format(file=path)
            ]
    except OSError:
        pass
    return []


# --- the password --------------------------------------------------------------------------


def keyring_available() -> bool:
    """True when `keyring` has a real backend (not its fail/null stand-ins)."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except ImportError:
        return False
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration must not stop the app
        log.warning("the keyring backend could not be loaded", exc_info=True)
        return False
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return bool(backend.backends)
    return True


class PasswordStore:
    """The password of one way to the PBX, where `pbx.password_storage` says: keyring, the
    settings file, nowhere.

    Each way has its own account: the PBX's password is keyring service "cstapopup", user
    "<pbx.user>@<pbx.host>"; the broker's (the office gateway) user
    "<gateway.user>@<gateway.broker>".  So two PBXs (or a PBX and a broker) keep two passwords.
    `kind` is the way (LINK_DIRECT, LINK_GATEWAY); by default the one the settings choose now.
    The password is never logged. Storing in plain text is the caller's decision after asking
    the user (see the settings dialog); this class does not ask.
    """

    def __init__(
        self, settings: Settings, *, service: str = KEYRING_SERVICE, kind: str | None = None
    ) -> None:
        self._settings = settings
        self._service = service
        self._kind = kind

    @property
    def kind(self) -> str:
        return self._kind or self._settings.connection

    @property
    def account(self) -> str:
        return self.account_of(self.kind)

    def for_kind(self, kind: str) -> PasswordStore:
        """The store of another way's password (same settings, same keyring service)."""
        return PasswordStore(self._settings, service=self._service, kind=kind)

    def account_of(self, kind: str) -> str:
        if kind == LINK_GATEWAY:
            return f"{self._settings.get('gateway.user')}@{self._settings.get('gateway.broker')}"
        return f"{self._settings.get('pbx.user')}@{self._settings.get('pbx.host')}"

    @property
    def storage(self) -> str:
        return self._settings.get("pbx.password_storage")

    def keyring_available(self) -> bool:
        return keyring_available()

    def get(self) -> str | None:
        """The stored password, or None (none stored, storage "none", keyring unavailable)."""
        storage = self.storage
        if storage == PASSWORD_STORAGE_PLAINTEXT:
            return self._settings.plaintext_password_of(self.kind)
        if storage == PASSWORD_STORAGE_KEYRING:
            return self.get_from_keyring(self.account)
        return None

    def set(self, password: str) -> None:
        """Keep the password where the settings say; the other places are cleared.

        With storage "none" nothing is kept (the app asks at each start). For "plaintext" the
        password goes into the settings object: the caller saves the file.
        """
        storage = self.storage
        kind = self.kind
        if storage == PASSWORD_STORAGE_KEYRING:
            if not self.keyring_available():
                raise PasswordStoreError(
                    translate("Settings", "no system keyring is available to keep the password")
                )
            import keyring
            from keyring.errors import KeyringError

            try:
                keyring.set_password(self._service, self.account, password)
            except KeyringError as exc:
                raise PasswordStoreError(
                    translate(
                        "Settings", "the keyring did not store the password: {problem}"
                    ).format(problem=exc)
                ) from None
            log.info("password stored in the keyring for %s", self.account)
            self._settings.set_plaintext_password(kind, None)
        elif storage == PASSWORD_STORAGE_PLAINTEXT:
            self._settings.set_plaintext_password(kind, password)
            log.info("password kept in the settings file (plain text) for %s", self.account)
        else:
            self._settings.set_plaintext_password(kind, None)
            log.info("password not stored (storage: none)")

    def forget(self, account: str | None = None) -> None:
        """Remove the password of `account` (default: the current one) from the keyring."""
        if not self.keyring_available():
            return
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            keyring.delete_password(self._service, account or self.account)
        except PasswordDeleteError:
            pass  # there was none
        except KeyringError as exc:
            log.warning("could not remove the password from the keyring: %s", exc)

    def get_from_keyring(self, account: str) -> str | None:
        if not self.keyring_available():
            return None
        import keyring
        from keyring.errors import KeyringError

        try:
            return keyring.get_password(self._service, account)
        except KeyringError as exc:
            log.warning("could not read the password from the keyring: %s", exc)
            return None


def main_help_table() -> str:
    """The settings as a Markdown table (for the README; `python -m cstapopup.settings`)."""
    import tomli_w

    rows = ["| Setting | Default | Meaning |", "|---|---|---|"]
    for opt in OPTIONS:
        default = opt.default
        shown = tomli_w.dumps({"v": default}).split("=", 1)[1].strip().replace("\n", " ")
        rows.append(f"| `{opt.name}` | `{shown}` | {opt.help_text} |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover - a documentation helper
    sys.stdout.write(main_help_table() + "\n")
