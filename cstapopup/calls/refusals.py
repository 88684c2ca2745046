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

# The reasons by what they mean; a reason not listed falls back on its group (below).
_TARGET_BUSY = frozenset({
    "invalid_destination_device_state", "invalid_called_device_state", "busy",
    "request_incompatible_with_destination_device", "request_incompatible_with_called_device"})
_TARGET_UNKNOWN = frozenset({
    "invalid_destination", "invalid_called_device_id", "invalid_destination_device_id",
    "invalid_device_id", "object_not_known", "invalid_called_device_object_type",
    "invalid_destination_device_object", "invalid_forwarding_destination"})
_TARGET_OUT_OF_SERVICE = frozenset({
    "destination_device_out_of_service", "called_device_out_of_service",
    "device_out_of_service"})
_CALL_GONE = frozenset({
    "invalid_call_id", "invalid_connection_id", "invalid_active_call_id",
    "invalid_held_call_id", "invalid_active_connection_id", "invalid_held_connection_id",
    "no_active_call", "no_held_call", "no_call_to_clear", "no_connection_to_clear",
    "no_call_to_answer", "no_call_to_complete"})
_CALL_CHANGED = frozenset({
    "invalid_connection_state", "invalid_active_connection_state",
    "invalid_held_connection_state", "invalid_object_state",
    "invalid_connection_id_for_active_call"})
_OWN_BUSY = frozenset({
    "invalid_device_state", "connected_call_exists", "invalid_calling_device_state",
    "invalid_active_device_state"})
_NO_LINE = frozenset({
    "resource_busy", "internal_resource_busy", "network_busy", "trunk_limit_exceeded",
    "resource_limit_exceeded"})
_NOT_ALLOWED_PREFIX = "privilege_violation"
_NOT_OFFERED = frozenset({"service_not_supported", "parameter_not_supported"})


def refusal_text(exc: BaseException, *, target: str | None = None,
                 own: str | None = None) -> str:
    """Why the request did not happen, as a sentence without its final full stop:
    "103 is busy", "103 does not exist", "Not connected to the PBX", ..."""
    if isinstance(exc, GatewayRefusedError):
        # The office gateway's rights file, not the PBX: only its keeper can change it.
        who = f"your broker user {exc.user}" if exc.user else "this computer"
        what = exc.device or "the phone of this call"
        return (f"The office gateway does not let {who} control {what} (its rights file "
                "says which phones each user may control)")
    if isinstance(exc, LinkDownError):
        return "Not connected to the PBX"
    if isinstance(exc, RequestTimeout):
        return "The PBX did not answer in time"
    if isinstance(exc, CstaRejectError):
        return "The PBX does not take this request (it may not offer it)"
    if isinstance(exc, CstaServiceError):
        return _service_text(exc, target, own)
    if isinstance(exc, CstaClientError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _service_text(exc: CstaServiceError, target: str | None, own: str | None) -> str:
    reason = exc.reason or ""
    group = exc.failure.group if exc.failure is not None else ""
    whom = target or "The other phone"
    if reason in _TARGET_BUSY:
        return f"{whom} is busy"
    if reason in _TARGET_UNKNOWN:
        return f"{whom} does not exist" if target else "The PBX does not know that number"
    if reason in _TARGET_OUT_OF_SERVICE:
        return f"{whom} is out of service"
    if reason in _CALL_GONE:
        return "The call is no longer there"
    if reason in _CALL_CHANGED:
        return "The call is not in a state that allows this (it changed meanwhile)"
    if reason in _OWN_BUSY:
        return f"Your phone ({own}) is busy" if own else "Your phone is busy"
    if reason in _NO_LINE:
        return "No line is free at the moment"
    if reason.startswith(_NOT_ALLOWED_PREFIX) or group == "security":
        return "The PBX does not allow this" + (f" for {target}" if target else "")
    if reason in _NOT_OFFERED:
        return "The PBX does not offer this"
    if group in ("system_resource_availability", "subscribed_resource_availability",
                 "performance_management"):
        return f"The PBX is short of resources ({reason or group})"
    return f"The PBX refused ({reason or 'no reason given'})"


__all__ = ["refusal_text"]
