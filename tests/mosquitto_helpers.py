"""A real Mosquitto for the gateway tests: its own config, password file, ACL and (optionally)
TLS certificates in a temporary folder, listening on a free port of 127.0.0.1.

The ACL is the one the sample config documents (packaging/gateway/acl): the gateway may do
everything under cstapopup/, a desktop user may read the link and device topics, write only
its own request topic and read only its own response topics (%u).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
START_TIMEOUT = 10.0


def available() -> bool:
    """Whether mosquitto can run here.  Where it must (CI sets CSTAPOPUP_REQUIRE_MOSQUITTO=1),
    its absence fails the run instead of skipping the gateway's tests."""
    there = os.access(MOSQUITTO, os.X_OK) and os.access(MOSQUITTO_PASSWD, os.X_OK)
    if not there and os.environ.get("CSTAPOPUP_REQUIRE_MOSQUITTO") == "1":
        raise RuntimeError(
            f"mosquitto is required here but {MOSQUITTO} or {MOSQUITTO_PASSWD} is missing"
        )
    return there


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path


def make_pki(folder: Path) -> Pki:
    """A CA and a server certificate for 127.0.0.1 / localhost (EC keys, 30 days)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("cstapopup test broker CA"))
          .issuer_name(name("cstapopup test broker CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pki = Pki(folder / "ca.pem", folder / "broker.pem", folder / "broker.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    return pki


@dataclass
class Mosquitto:
    """One broker process; `start()` / `stop()` / `restart()` (same port, same files)."""

    folder: Path
    users: dict[str, str] = field(default_factory=lambda: {"gateway": "gw-secret"})
    tls: bool = False
    port: int = 0
    proc: subprocess.Popen | None = None
    pki: Pki | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if self.tls:
            self.pki = make_pki(self.folder / "pki")
        passwd = self.folder / "passwd"
        first = True
        for user, password in self.users.items():
            subprocess.run([MOSQUITTO_PASSWD, *(["-c"] if first else []), "-b", str(passwd),
                            user, password], check=True, capture_output=True, timeout=20)
            first = False
        desktops = [u for u in self.users if u != "gateway"]
        acl = ["user gateway", "topic readwrite cstapopup/#", ""]
        for user in desktops:
            acl += [f"user {user}", "topic read cstapopup/+/link",
                    "topic read cstapopup/+/device/#", ""]
        acl += ["pattern write cstapopup/+/request/%u", "pattern read cstapopup/+/response/%u/#"]
        (self.folder / "acl").write_text("\n".join(acl) + "\n")
        conf = [
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {self.folder / 'acl'}",
            "persistence true",
            f"persistence_location {self.folder}/",
            "user root" if os.geteuid() == 0 else "",
            "max_queued_messages 100000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.pki is not None:
            conf += [f"cafile {self.pki.ca}", f"certfile {self.pki.cert}", f"keyfile {self.pki.key}",
                     "tls_version tlsv1.2"]
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text("\n".join(conf) + "\n")
        self.log = self.folder / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None
        log = open(self.log, "a")  # noqa: SIM115 (kept open by the child)
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not listen in time")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def rss_kib(self) -> int | None:
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None


async def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll a condition (for state owned by other processes or threads), bounded."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
