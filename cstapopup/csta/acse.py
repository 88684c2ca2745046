"""The association's answer codes (ACSE, ITU-T X.227): AARE results and diagnostics, with
their names and what they mean in plain words.  One place for both ends (client and simulator).
"""

from __future__ import annotations

# AARE result.
ACCEPTED = 0
REJECTED_PERMANENT = 1
REJECTED_TRANSIENT = 2

RESULT_NAMES: dict[int, str] = {
    ACCEPTED: "accepted",
    REJECTED_PERMANENT: "rejected-permanent",
    REJECTED_TRANSIENT: "rejected-transient",
}

# The two sources of a result-source-diagnostic (the CHOICE alternatives of the codec).
SERVICE_USER = "acseServiceUser"
SERVICE_PROVIDER = "acseServiceProvider"

# acse-service-user diagnostics.
DIAG_NULL = 0
DIAG_NO_REASON = 1
DIAG_CONTEXT_NOT_SUPPORTED = 2
DIAG_AUTHENTICATION_MECHANISM_NOT_RECOGNIZED = 11
DIAG_AUTHENTICATION_MECHANISM_REQUIRED = 12
DIAG_AUTHENTICATION_FAILURE = 13
DIAG_AUTHENTICATION_REQUIRED = 14

SERVICE_USER_DIAGNOSTICS: dict[int, str] = {
    0: "null",
    1: "no-reason-given",
    2: "application-context-name-not-supported",
    3: "calling-AP-title-not-recognized",
    4: "calling-AP-invocation-identifier-not-recognized",
    5: "calling-AE-qualifier-not-recognized",
    6: "calling-AE-invocation-identifier-not-recognized",
    7: "called-AP-title-not-recognized",
    8: "called-AP-invocation-identifier-not-recognized",
    9: "called-AE-qualifier-not-recognized",
    10: "called-AE-invocation-identifier-not-recognized",
    11: "authentication-mechanism-name-not-recognized",
    12: "authentication-mechanism-name-required",
    13: "authentication-failure",
    14: "authentication-required",
}

SERVICE_PROVIDER_DIAGNOSTICS: dict[int, str] = {
    0: "null",
    1: "no-reason-given",
    2: "no-common-acse-version",
}


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:
    """Marks words an application may translate (Qt's lupdate finds them by this name); the
    protocol library itself speaks English."""
    return source


# What a user can do with a diagnostic; the others are shown by name.
_USER_WORDS: dict[int, str] = {
    1: QT_TRANSLATE_NOOP("Acse", "no reason given"),
    2: QT_TRANSLATE_NOOP("Acse", "the PBX does not speak CSTA Phase III on this port"),
    11: QT_TRANSLATE_NOOP("Acse", "the PBX does not know the login method"),
    12: QT_TRANSLATE_NOOP("Acse", "the PBX wants a login method"),
    13: QT_TRANSLATE_NOOP("Acse", "wrong user name or password"),
    14: QT_TRANSLATE_NOOP("Acse", "the PBX requires a user name and password"),
}
_PROVIDER_WORDS: dict[int, str] = {
    1: QT_TRANSLATE_NOOP("Acse", "no reason given"),
    2: QT_TRANSLATE_NOOP("Acse", "no common ACSE version"),
}


def result_name(result: int | None) -> str:
    if result is None:
        return "no result"
    return RESULT_NAMES.get(result, f"result {result}")


def diagnostic_name(source: str | None, value: int | None) -> str | None:
    """The X.227 name of a diagnostic ("authentication-failure"); None when there is none."""
    if value is None:
        return None
    table = SERVICE_PROVIDER_DIAGNOSTICS if source == SERVICE_PROVIDER else SERVICE_USER_DIAGNOSTICS
    return table.get(value, f"diagnostic {value}")


def diagnostic_words(source: str | None, value: int | None) -> str:
    """A diagnostic in plain words for a user ("" for none or null); an application
    translates them in the context "Acse" (marked with QT_TRANSLATE_NOOP)."""
    if value is None or value == DIAG_NULL:
        return ""
    words = (_PROVIDER_WORDS if source == SERVICE_PROVIDER else _USER_WORDS).get(value)
    return words or (diagnostic_name(source, value) or "")
