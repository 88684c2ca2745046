"""The way to the MQTT broker: its address (mqtt:// or mqtts://), credentials, TLS, and the
MQTT 5 client (aiomqtt) both ends use; broker errors as the gateway's own error types."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from cstapopup.csta.tlsconfig import client_context

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerError(Exception):
    """Base of the broker errors; the message is for the user."""


class BrokerConfigError(BrokerError, ValueError):
    """The broker address or TLS settings cannot be used."""


class BrokerAuthError(BrokerError):
    """The broker refused the user name / password or this client (not retried)."""


class BrokerConnectError(BrokerError):
    """The broker cannot be reached or the connection broke (retried)."""


class SessionTakenOver(BrokerError):
    """Another client connected with our client id (a second gateway for the same site)."""


class MissingDependency(BrokerError):
    """aiomqtt is not installed."""


#: MQTT 5 CONNACK reason codes (and MQTT 3 return codes) that mean "not you": retrying with
#: the same credentials cannot help.
_AUTH_CODES = {4, 5, 0x86, 0x87, 0x8A, 0x8C}
_TAKEN_OVER = 0x8E


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and how to log in.  The password is never shown."""

    host: str
    port: int
    tls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """Raises TlsConfigError (a ValueError) for a CA file that cannot be used."""
        return client_context(self.tls, self.ca_file)


def parse_broker_url(
    url: str, *, user: str | None = None, password: str | None = None, ca_file: str | None = None
) -> BrokerSettings:
    """mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (a user in the URL is taken, a password
    there is refused: it would show in the process list).  A CA file implies TLS."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BrokerConfigError(f"broker {url!r}: use mqtt://HOST:PORT or mqtts://HOST:PORT")
    if parts.password:
        raise BrokerConfigError(
            "put the broker password in $CSTAPOPUP_BROKER_PASSWORD or "
            "--broker-password, not in the URL"
        )
    if not parts.hostname:
        raise BrokerConfigError(f"broker {url!r}: no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise BrokerConfigError(f"broker {url!r}: bad port") from None
    if parts.path not in ("", "/"):
        raise BrokerConfigError(f"broker {url!r}: no path expected")
    tls = scheme == "mqtts" or bool(ca_file)
    return BrokerSettings(
        parts.hostname,
        port,
        tls,
        user or (unquote(parts.username) if parts.username else None),
        password,
        ca_file,
    )


def aiomqtt_module() -> Any:
    try:
        import aiomqtt
    except ModuleNotFoundError:
        raise MissingDependency(
            "the office gateway needs aiomqtt: pip install 'cstapopup[gateway]'"
        ) from None
    return aiomqtt


def mqtt_client(
    settings: BrokerSettings,
    *,
    identifier: str,
    keepalive: int = 30,
    timeout: float = 10.0,
    will: tuple[str, bytes] | None = None,
    session_expiry: int = 0,
) -> Any:
    """An aiomqtt client (MQTT 5, clean start) for `settings`; `will`: (topic, payload),
    published retained with QoS 1 if we vanish."""
    aiomqtt = aiomqtt_module()
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry
    return aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.user,
        password=settings.password,
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5,
        will=None if will is None else aiomqtt.Will(will[0], will[1], qos=1, retain=True),
        keepalive=keepalive,
        timeout=timeout,
        tls_context=settings.ssl_context(),
        clean_start=True,
        properties=props,
        logger=logging.getLogger("cstapopup.gateway.mqtt"),
    )


def reason_code(exc: BaseException) -> int | None:
    rc = getattr(exc, "rc", None)
    if rc is None:
        return None
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None


def explain(exc: BaseException, settings: BrokerSettings) -> BrokerError:
    """A broker failure as one of our errors, in words for the user."""
    cause = exc.__cause__ or exc.__context__
    code = reason_code(exc)
    if code in _AUTH_CODES:
        return BrokerAuthError(
            f"the broker {settings.url} refused user "
            f"{settings.user or '(anonymous)'}: {exc} (check the broker "
            "user name and password, and its ACL)"
        )
    if code == _TAKEN_OVER:
        return SessionTakenOver(
            f"another client connected to {settings.url} with the same "
            "client id (a second gateway for this site?)"
        )
    if isinstance(exc, ssl.SSLCertVerificationError) or isinstance(
        cause, ssl.SSLCertVerificationError
    ):
        return BrokerConnectError(f"the broker's TLS certificate was rejected: {exc}")
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower() and code is None:
        text = f"connection refused ({text})"
    return BrokerConnectError(f"broker {settings.url}: {text}")
