"""The one place for CSTA operation and error codes (ECMA-285 `CODE local: N`).

asn1tools cannot parse the X.880 OPERATION / ERROR information objects, so each operation's
code and the ASN.1 types of its argument and result are declared here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    code: int
    argument: str | None
    result: str | None


#: universalFailure, the only error code CSTA defines.
UNIVERSAL_FAILURE = 1

OPERATIONS: tuple[Operation, ...] = (
    Operation("alternateCall", 1, "AlternateCallArgument", "NoDataResult"),
    Operation("answerCall", 2, "AnswerCallArgument", "NoDataResult"),
    Operation("clearCall", 4, "ClearCallArgument", "NoDataResult"),
    Operation("clearConnection", 5, "ClearConnectionArgument", "NoDataResult"),
    Operation("conferenceCall", 6, None, None),
    Operation("consultationCall", 7, "ConsultationCallArgument", "ConsultationCallResult"),
    Operation("holdCall", 9, "HoldCallArgument", "NoDataResult"),
    Operation("makeCall", 10, "MakeCallArgument", "MakeCallResult"),
    Operation("reconnectCall", 13, "ReconnectCallArgument", "NoDataResult"),
    Operation("retrieveCall", 14, "RetrieveCallArgument", "NoDataResult"),
    Operation("transferCall", 16, "TransferCallArgument", "TransferCallResult"),
    Operation("cSTAEventReport", 21, "CSTAEventReportArgument", None),
    Operation("singleStepTransfer", 50, "SingleStepTransArgument", "SingleStepTransResult"),
    Operation("monitorStart", 71, "MonitorStartArgument", "MonitorStartResult"),
    Operation(
        "changeMonitorFilter", 72, "ChangeMonitorFilterArgument", "ChangeMonitorFilterResult"
    ),
    Operation("monitorStop", 73, "MonitorStopArgument", "NoDataResult"),
    Operation("snapshotDevice", 74, "SnapshotDeviceArgument", "SnapshotDeviceResult"),
    Operation("snapshotCall", 75, None, None),
    Operation("requestSystemStatus", 210, "RequestSysStatArg", "RequestSysStatRes"),
    Operation("systemStatus", 211, "SystemStatusArg", "NoDataResult"),
    Operation("deflectCall", 218, "DeflectCallArgument", "NoDataResult"),
    Operation("directedPickupCall", 220, "DirectedPickupCallArgument", "DirectedPickupCallResult"),
    Operation("groupPickupCall", 221, None, None),
    Operation("setDisplay", 274, None, None),
    Operation("setDoNotDisturb", 316, None, None),
    Operation("setForwarding", 317, None, None),
)

BY_CODE: dict[int, Operation] = {op.code: op for op in OPERATIONS}
BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}

ALTERNATE_CALL = 1
ANSWER_CALL = 2
CLEAR_CALL = 4
CLEAR_CONNECTION = 5
CONSULTATION_CALL = 7
HOLD_CALL = 9
MAKE_CALL = 10
RECONNECT_CALL = 13
RETRIEVE_CALL = 14
TRANSFER_CALL = 16
EVENT_REPORT = 21
SINGLE_STEP_TRANSFER = 50
MONITOR_START = 71
CHANGE_MONITOR_FILTER = 72
MONITOR_STOP = 73
SNAPSHOT_DEVICE = 74
REQUEST_SYSTEM_STATUS = 210
SYSTEM_STATUS = 211
DEFLECT_CALL = 218
DIRECTED_PICKUP_CALL = 220


def operation_name(code: int) -> str:
    op = BY_CODE.get(code)
    return op.name if op else f"operation{code}"


#: ROSE reject problems: the CHOICE alternative -> value -> name (X.880).
REJECT_PROBLEMS: dict[str, dict[int, str]] = {
    "general": {0: "unrecognizedPDU", 1: "mistypedPDU", 2: "badlyStructuredPDU"},
    "invoke": {
        0: "duplicateInvocation",
        1: "unrecognizedOperation",
        2: "mistypedArgument",
        3: "resourceLimitation",
        4: "releaseInProgress",
        5: "unrecognizedLinkedId",
        6: "linkedResponseUnexpected",
        7: "unexpectedLinkedOperation",
    },
    "returnResult": {
        0: "unrecognizedInvocation",
        1: "resultResponseUnexpected",
        2: "mistypedResult",
    },
    "returnError": {
        0: "unrecognizedInvocation",
        1: "errorResponseUnexpected",
        2: "unrecognizedError",
        3: "unexpectedError",
        4: "mistypedParameter",
    },
}
