"""What the PBX's answer to a call-control request means, in a sentence for the user.

A refused transfer comes back as a universalFailure with a reason name
(`invalid_destination_device_state`, `invalid_called_device_id`, ...); the receptionist needs
"103 is busy" or "103 does not exist".  `refusal_text` turns any error of a link request into
such a sentence, knowing who the request was about (`target`: the colleague, `own`: the
user's phone).
"""

from __future__ import annotations

from cstapopup.csta.client import (
    CstaClientError,
    CstaRejectError,
    CstaServiceError,
    LinkDownError,
    RequestTimeout,
)
from cstapopup.gateway.client import GatewayRefusedError
from cstapopup.i18n import translate

# The reasons by what they mean; a reason not listed falls back on its group (below).
_TARGET_BUSY = frozenset(
    {
        "invalid_destination_device_state",
        "invalid_called_device_state",
        "busy",
        "request_incompatible_with_destination_device",
        "request_incompatible_with_called_device",
    }
)
_TARGET_UNKNOWN = frozenset(
    {
        "invalid_destination",
        "invalid_called_device_id",
        "invalid_destination_device_id",
        "invalid_device_id",
        "object_not_known",
        "invalid_called_device_object_type",
        "invalid_destination_device_object",
        "invalid_forwarding_destination",
    }
)
_TARGET_OUT_OF_SERVICE = frozenset(
    {"destination_device_out_of_service", "called_device_out_of_service", "device_out_of_service"}
)
_CALL_GONE = frozenset(
    {
        "invalid_call_id",
        "invalid_connection_id",
        "invalid_active_call_id",
        "invalid_held_call_id",
        "invalid_active_connection_id",
        "invalid_held_connection_id",
        "no_active_call",
        "no_held_call",
        "no_call_to_clear",
        "no_connection_to_clear",
        "no_call_to_answer",
        "no_call_to_complete",
    }
)
_CALL_CHANGED = frozenset(
    {
        "invalid_connection_state",
        "invalid_active_connection_state",
        "invalid_held_connection_state",
        "invalid_object_state",
        "invalid_connection_id_for_active_call",
    }
)
_OWN_BUSY = frozenset(
    {
        "invalid_device_state",
        "connected_call_exists",
        "invalid_calling_device_state",
        "invalid_active_device_state",
    }
)
_NO_LINE = frozenset(
    {
        "resource_busy",
        "internal_resource_busy",
        "network_busy",
        "trunk_limit_exceeded",
        "resource_limit_exceeded",
    }
)
_NOT_ALLOWED_PREFIX = "privilege_violation"
_NOT_OFFERED = frozenset({"service_not_supported", "parameter_not_supported"})


def refusal_text(exc: BaseException, *, target: str | None = None, own: str | None = None) -> str:
    """Why the request did not happen, as a sentence without its final full stop:
    "103 is busy", "103 does not exist", "Not connected to the PBX", ..."""
    if isinstance(exc, GatewayRefusedError):
        return _gateway_refusal(exc)
    if isinstance(exc, LinkDownError):
        return translate("Refusals", "Not connected to the PBX")
    if isinstance(exc, RequestTimeout):
        return translate("Refusals", "The PBX did not answer in time")
    if isinstance(exc, CstaRejectError):
        return translate("Refusals", "The PBX does not take this request (it may not offer it)")
    if isinstance(exc, CstaServiceError):
        return _service_text(exc, target, own)
    if isinstance(exc, CstaClientError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _service_text(exc: CstaServiceError, target: str | None, own: str | None) -> str:
    reason = exc.reason or ""
    group = exc.failure.group if exc.failure is not None else ""
    if reason in _TARGET_BUSY:
        return (
            translate("Refusals", "{target} is busy").format(target=target)
            if target
            else translate("Refusals", "The other phone is busy")
        )
    if reason in _TARGET_UNKNOWN:
        return (
            translate("Refusals", "{target} does not exist").format(target=target)
            if target
            else translate("Refusals", "The PBX does not know that number")
        )
    if reason in _TARGET_OUT_OF_SERVICE:
        return (
            translate("Refusals", "{target} is out of service").format(target=target)
            if target
            else translate("Refusals", "The other phone is out of service")
        )
    if reason in _CALL_GONE:
        return translate("Refusals", "The call is no longer there")
    if reason in _CALL_CHANGED:
        return translate(
            "Refusals", "The call is not in a state that allows this (it changed meanwhile)"
        )
    if reason in _OWN_BUSY:
        return (
            translate("Refusals", "Your phone ({own}) is busy").format(own=own)
            if own
            else translate("Refusals", "Your phone is busy")
        )
    if reason in _NO_LINE:
        return translate("Refusals", "No line is free at the moment")
    if reason.startswith(_NOT_ALLOWED_PREFIX) or group == "security":
        return (
            translate("Refusals", "The PBX does not allow this for {target}").format(target=target)
            if target
            else translate("Refusals", "The PBX does not allow this")
        )
    if reason in _NOT_OFFERED:
        return translate("Refusals", "The PBX does not offer this")
    if group in (
        "system_resource_availability",
        "subscribed_resource_availability",
        "performance_management",
    ):
        return translate("Refusals", "The PBX is short of resources ({reason})").format(
            reason=reason or group
        )
    if reason:
        return translate("Refusals", "The PBX refused ({reason})").format(reason=reason)
    return translate("Refusals", "The PBX refused (no reason given)")


__all__ = ["refusal_text"]


def _gateway_refusal(exc: GatewayRefusedError) -> str:
    # The office gateway's rights file, not the PBX: only its keeper can change it.  Whole
    # sentences per case, so that a translation need not build one from pieces.
    if exc.user and exc.device:
        text = translate(
            "Refusals",
            "The office gateway does not let your broker user {user} "
            "control {device} (its rights file says which phones each user may "
            "control)",
        )
    elif exc.user:
        text = translate(
            "Refusals",
            "The office gateway does not let your broker user {user} "
            "control the phone of this call (its rights file says which phones "
            "each user may control)",
        )
    elif exc.device:
        text = translate(
            "Refusals",
            "The office gateway does not let this computer control "
            "{device} (its rights file says which phones each user may control)",
        )
    else:
        text = translate(
            "Refusals",
            "The office gateway does not let this computer control "
            "the phone of this call (its rights file says which phones each user "
            "may control)",
        )
    return text.format(user=exc.user, device=exc.device)
