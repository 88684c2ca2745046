"""TLS for the CSTA link: the client's SSLContext from the settings, the simulator's from a
certificate file, and plain-words explanations of certificate failures.

HiPath 3000 speaks CSTA in clear; OpenScape Business and TLS proxies in front of a PBX may
offer TLS.  When TLS is on, the PBX's certificate is verified (chain and host name) unless the
user explicitly turns verification off, which is logged loudly:

    ctx = client_context(tls=True, ca_file="/etc/pbx-ca.pem")        # None when tls=False
    client = CstaClient(host, port, options=ClientOptions(ssl=ctx))
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: What `verify=False` means, said where the user will see it.
INSECURE_WARNING = (
    "TLS certificate verification is OFF: the PBX's identity is not checked, so anyone on the "
    "network path can pose as the PBX and read the password and every call"
)


class TlsConfigError(ValueError):
    """The TLS settings cannot be used (a CA file that is missing or not a PEM certificate,
    a server certificate or key that cannot be loaded).  The message is for the user."""


def client_context(
    tls: bool, ca_file: str | Path | None = None, verify: bool = True
) -> ssl.SSLContext | None:
    """The SSLContext for a client link, or None when `tls` is off.

    `verify` (the default) checks the PBX's certificate chain against `ca_file` (a PEM file
    of the authority that signed it) or, without one, the system's certificates, and checks
    that it was issued for the host name connected to.  `verify=False` accepts any
    certificate (the link is encrypted but not authenticated); it logs a warning.  At least
    TLS 1.2.  Raises TlsConfigError for an unusable CA file.
    """
    if not tls:
        return None
    ca = str(ca_file) if ca_file else None
    if ca is not None:
        _check_readable(ca, "CA certificate file")
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"the CA certificate file {ca} holds no usable PEM certificate ({_ssl_reason(exc)})"
        ) from None
    except OSError as exc:  # vanished between the check and the load
        raise TlsConfigError(
            f"cannot read the CA certificate file {ca}: {exc.strerror or exc}"
        ) from None
    if ca is not None and not ctx.get_ca_certs():
        raise TlsConfigError(
            f"the CA certificate file {ca} holds no certificate "
            "(a PEM file with -----BEGIN CERTIFICATE----- is needed)"
        )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        log.warning("%s", INSECURE_WARNING)
    return ctx


def client_context_from(params: Any, verify: bool = True) -> ssl.SSLContext | None:
    """`client_context` for anything with `tls` and `ca_file` attributes (the settings'
    `ConnectionParameters`)."""
    return client_context(
        bool(getattr(params, "tls", False)), getattr(params, "ca_file", "") or None, verify
    )


def server_context(cert_file: str | Path, key_file: str | Path | None = None) -> ssl.SSLContext:
    """The SSLContext for a TLS server (the simulator): its certificate chain (PEM) and private
    key (`key_file`, or in `cert_file` itself).  Raises TlsConfigError."""
    cert = str(cert_file)
    key = str(key_file) if key_file else None
    _check_readable(cert, "certificate file")
    if key is not None:
        _check_readable(key, "private key file")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"cannot use the certificate {cert}{' with the key ' + key if key else ''}: "
            f"{_ssl_reason(exc)} (a PEM certificate and its unencrypted PEM private key are "
            "needed)"
        ) from None
    except OSError as exc:
        raise TlsConfigError(f"cannot read {cert}: {exc.strerror or exc}") from None
    return ctx


# Plain words for certificate failures -----------------------------------------------------------

# OpenSSL's X509_V_ERR_* codes (stable across OpenSSL versions).
_EXPIRED = {10}  # CERT_HAS_EXPIRED
_NOT_YET_VALID = {9}  # CERT_NOT_YET_VALID
_UNTRUSTED = {2, 18, 19, 20, 21, 27}  # unknown issuer, self-signed, untrusted chain, CERT_UNTRUSTED
_WRONG_NAME = {62, 64}  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH


def explain_certificate_error(exc: ssl.SSLCertVerificationError, host: str) -> str:
    """What is wrong with the PBX's certificate, in words a user can act on (OpenSSL's own
    words in parentheses)."""
    code = getattr(exc, "verify_code", None)
    detail = getattr(exc, "verify_message", None) or _ssl_reason(exc)
    if code in _EXPIRED:
        why = "it has expired (renew the PBX's certificate, or check this computer's clock)"
    elif code in _NOT_YET_VALID:
        why = "it is not valid yet (check this computer's clock)"
    elif code in _UNTRUSTED:
        why = (
            "it is not signed by an authority this computer trusts (give the PEM file of "
            "the authority that signed it: setting pbx.ca_file, or --ca-file)"
        )
    elif code in _WRONG_NAME:
        why = (
            f"it was issued for another name than {host!r} (connect with the name the "
            "certificate was made for)"
        )
    else:
        why = "it could not be verified"
    return f"the TLS certificate of {host} was rejected: {why} ({detail})"


def explain_handshake_error(exc: ssl.SSLError) -> str:
    """The reason of a TLS handshake failure, with a hint for the usual one (a PBX port that
    does not speak TLS)."""
    reason = _ssl_reason(exc)
    if reason.upper() in {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "HTTP_REQUEST",
    }:
        return f"{reason} (does the PBX speak TLS on this port?)"
    return reason


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    return str(exc) or type(exc).__name__


def _check_readable(path: str, what: str) -> None:
    p = Path(path).expanduser()
    if not p.exists():
        raise TlsConfigError(f"the {what} {path} does not exist")
    if not p.is_file():
        raise TlsConfigError(f"the {what} {path} is not a file")
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise TlsConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
