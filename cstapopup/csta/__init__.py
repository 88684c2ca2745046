"""The CSTA Phase III protocol (ECMA-269 / ECMA-285 BER over the Siemens 3-byte frame), as a
library: no Qt, nothing of the rest of cstapopup, one dependency (asn1tools).

Monitor a device (against `cstapopup sim`, or a HiPath's address and port)::

    import asyncio
    from cstapopup.csta import CstaClient, MonitorEvent

    async def main() -> None:
        async with CstaClient("127.0.0.1", 7001) as client:   # user/password: AMHOST / 77777
            await client.monitor_start("100")
            async for item in client.events():
                if isinstance(item, MonitorEvent):
                    print(item.device, item.event.name, item.event.to_dict())

    asyncio.run(main())

What is here:

- `CstaClient` (with `ClientOptions`): the asyncio client.  It reconnects and re-monitors by
  itself, delivers `MonitorEvent`, `MonitorSnapshot` and `LinkStateChanged` items through
  `events()` and callbacks (`client.on("delivered", cb)`), and makes requests (`make_call`,
  `answer_call`, ...) that raise the typed errors below.
- The events: one frozen dataclass per CSTA event (`DeliveredEvent`, ...), all `CstaEvent`s,
  naming parties by `DeviceId` and `ConnectionId`; `to_dict()` gives the normalised JSON form.
- `decode_apdu` / `encode_apdu`: bytes of one APDU <-> typed values (`Invoke`,
  `EventReport`, ...), and `frame` / `FrameReader` for the 3-byte header.  The compiled ASN.1
  spec is kept on disk only where `configure_codec(cache_dir=...)` says.
- `cstapopup.csta.switch`: a simulated HiPath (what `cstapopup sim` runs), for tests.
"""

from .client import (
    AssociationError,
    AssociationRejectedError,
    AssociationTransientError,
    CertificateError,
    ClientCounters,
    ClientItem,
    ClientOptions,
    ConnectError,
    CstaClient,
    CstaClientError,
    CstaRejectError,
    CstaServiceError,
    LinkDownError,
    LinkStateChanged,
    MonitorEvent,
    MonitorHandle,
    MonitorSnapshot,
    RequestTimeout,
)
from .codec import (
    Abort,
    Apdu,
    AssociationRequest,
    AssociationResponse,
    DecodeError,
    EncodeError,
    EventReport,
    Invoke,
    Reject,
    ReleaseRequest,
    ReleaseResponse,
    ReturnError,
    ReturnResult,
    UniversalFailure,
    decode_apdu,
    encode_apdu,
)
from .codec import configure as configure_codec
from .defaults import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER
from .events import (
    EVENT_CLASSES,
    NOT_KNOWN,
    RESTRICTED,
    BridgedEvent,
    CallClearedEvent,
    CallEvent,
    ConferencedEvent,
    ConnectionChange,
    ConnectionClearedEvent,
    ConnectionId,
    CstaEvent,
    DeliveredEvent,
    DeviceId,
    DigitsDialedEvent,
    DivertedEvent,
    DoNotDisturbEvent,
    EstablishedEvent,
    FailedEvent,
    ForwardingEvent,
    HeldEvent,
    HookswitchEvent,
    NetworkCapabilitiesChangedEvent,
    NetworkReachedEvent,
    OfferedEvent,
    OriginatedEvent,
    QueuedEvent,
    RetrievedEvent,
    ServiceInitiatedEvent,
    SnapshotCall,
    TransferredEvent,
    UndecodableEvent,
    UnknownEvent,
    monitor_dict,
)
from .framing import FrameReader, FramingError, frame
from .tlsconfig import TlsConfigError, client_context, server_context

__all__ = [
    # the client
    "CstaClient",
    "ClientOptions",
    "ClientCounters",
    "ClientItem",
    "MonitorHandle",
    "LinkStateChanged",
    "MonitorEvent",
    "MonitorSnapshot",
    # its errors
    "CstaClientError",
    "ConnectError",
    "CertificateError",
    "AssociationError",
    "AssociationRejectedError",
    "AssociationTransientError",
    "LinkDownError",
    "RequestTimeout",
    "CstaServiceError",
    "CstaRejectError",
    # values and events
    "DeviceId",
    "ConnectionId",
    "ConnectionChange",
    "SnapshotCall",
    "NOT_KNOWN",
    "RESTRICTED",
    "CstaEvent",
    "CallEvent",
    "EVENT_CLASSES",
    "monitor_dict",
    "BridgedEvent",
    "CallClearedEvent",
    "ConferencedEvent",
    "ConnectionClearedEvent",
    "DeliveredEvent",
    "DigitsDialedEvent",
    "DivertedEvent",
    "DoNotDisturbEvent",
    "EstablishedEvent",
    "FailedEvent",
    "ForwardingEvent",
    "HeldEvent",
    "HookswitchEvent",
    "NetworkCapabilitiesChangedEvent",
    "NetworkReachedEvent",
    "OfferedEvent",
    "OriginatedEvent",
    "QueuedEvent",
    "RetrievedEvent",
    "ServiceInitiatedEvent",
    "TransferredEvent",
    "UndecodableEvent",
    "UnknownEvent",
    # the wire
    "decode_apdu",
    "encode_apdu",
    "DecodeError",
    "EncodeError",
    "configure_codec",
    "Apdu",
    "AssociationRequest",
    "AssociationResponse",
    "ReleaseRequest",
    "ReleaseResponse",
    "Abort",
    "Invoke",
    "EventReport",
    "ReturnResult",
    "ReturnError",
    "UniversalFailure",
    "Reject",
    "frame",
    "FrameReader",
    "FramingError",
    # TLS and the factory defaults
    "client_context",
    "server_context",
    "TlsConfigError",
    "DEFAULT_PORT",
    "DEFAULT_USER",
    "DEFAULT_PASSWORD",
]
