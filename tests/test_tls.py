"""TLS on the CSTA link: the client against the simulator with a test CA made at test time,
certificate failures (untrusted, expired, wrong host name) as clear errors, the settings'
TLS context, and `cstapopup monitor --tls --ca-file` / `cstapopup sim --tls-cert`.

Certificates and keys are generated here, in a temporary folder, with the `cryptography`
package (a dependency of keyring's Secret Service backend) or else the `openssl` command.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cstapopup.csta import tlsconfig
from cstapopup.csta.client import (
    CertificateError,
    ClientOptions,
    ConnectError,
    CstaClient,
)
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.csta.tlsconfig import TlsConfigError, client_context, server_context
from cstapopup.settings import ConnectionParameters

from .client_helpers import QUICK_CLIENT, Collector

TIMEOUT = 15.0


# Certificates made at test time -----------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path  # the test CA's certificate (what the client trusts)
    good: tuple[Path, Path]  # (cert, key) for localhost / 127.0.0.1, signed by the CA
    expired: tuple[Path, Path]  # as good, but expired yesterday
    wrong_name: tuple[Path, Path]  # signed by the CA, for pbx.example.org only
    untrusted: tuple[Path, Path]  # for localhost / 127.0.0.1, signed by another CA
    other_ca: Path
    junk: Path  # a file that is no certificate


def _make_with_cryptography(folder: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(path: Path, cert, private=None) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if private is not None:
            kpath = path.with_suffix(".key")
            kpath.write_bytes(private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
            os.chmod(kpath, 0o600)
        return path

    def ca(cn: str, path: Path):
        k = key()
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(k.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()),
                               critical=False)
                .sign(k, hashes.SHA256()))
        write(path, cert)
        return cert, k

    def leaf(path: Path, issuer, names: list[str], *, days: tuple[int, int] = (-1, 30)):
        ca_cert, ca_key = issuer
        k = key()
        alt: list = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        cert = (x509.CertificateBuilder().subject_name(name(names[0]))
                .issuer_name(ca_cert.subject).public_key(k.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now + dt.timedelta(days=days[0]))
                .not_valid_after(now + dt.timedelta(days=days[1]))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        write(path, cert, k)
        return path, path.with_suffix(".key")

    test_ca = ca("cstapopup test CA", folder / "ca.pem")
    other = ca("somebody else's CA", folder / "other-ca.pem")
    return Pki(
        ca=folder / "ca.pem",
        good=leaf(folder / "good.pem", test_ca, ["localhost", "127.0.0.1"]),
        expired=leaf(folder / "expired.pem", test_ca, ["localhost", "127.0.0.1"], days=(-30, -1)),
        wrong_name=leaf(folder / "wrong-name.pem", test_ca, ["pbx.example.org"]),
        untrusted=leaf(folder / "untrusted.pem", other, ["localhost", "127.0.0.1"]),
        other_ca=folder / "other-ca.pem",
        junk=_junk(folder),
    )


def _make_with_openssl(folder: Path) -> Pki:
    """The same set with the openssl command (when `cryptography` is not installed)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("neither the cryptography package nor the openssl command is available")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder, timeout=60)

    def ca(stem: str, cn: str) -> None:
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{stem}.key", "-out", f"{stem}.pem", "-days", "30", "-subj", f"/CN={cn}",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")

    def leaf(stem: str, issuer: str, san: str, *, expired: bool = False) -> tuple[Path, Path]:
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={stem}")
        (folder / f"{stem}.ext").write_text(
            f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
            "extendedKeyUsage=serverAuth\n")
        if expired:
            # x509 -days cannot go backwards: a minimal CA database for `openssl ca`.
            (folder / "index.txt").write_text("")
            (folder / "serial").write_text("01\n")
            (folder / "ca.cnf").write_text(
                "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nserial=serial\nnew_certs_dir=.\n"
                "default_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n")
            run("ca", "-batch", "-config", "ca.cnf", "-cert", f"{issuer}.pem", "-keyfile",
                f"{issuer}.key", "-in", f"{stem}.csr", "-out", f"{stem}.pem",
                "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
                "-extfile", f"{stem}.ext")
        else:
            run("x509", "-req", "-in", f"{stem}.csr", "-CA", f"{issuer}.pem", "-CAkey",
                f"{issuer}.key", "-CAcreateserial", "-out", f"{stem}.pem", "-days", "30",
                "-extfile", f"{stem}.ext")
        return folder / f"{stem}.pem", folder / f"{stem}.key"

    ca("ca", "cstapopup test CA")
    ca("other-ca", "somebody else's CA")
    local = "DNS:localhost,IP:127.0.0.1"
    return Pki(
        ca=folder / "ca.pem",
        good=leaf("good", "ca", local),
        expired=leaf("expired", "ca", local, expired=True),
        wrong_name=leaf("wrong-name", "ca", "DNS:pbx.example.org"),
        untrusted=leaf("untrusted", "other-ca", local),
        other_ca=folder / "other-ca.pem",
        junk=_junk(folder),
    )


def _junk(folder: Path) -> Path:
    path = folder / "junk.pem"
    path.write_text("this is not a certificate\n")
    return path


def make_pki(folder: Path) -> Pki:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return _make_with_openssl(folder)
    return _make_with_cryptography(folder)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# Helpers ------------------------------------------------------------------------------------------


def tls_server(cert: tuple[Path, Path], **kwargs) -> SwitchServer:
    return SwitchServer(port=0, devices="100-103", ssl=server_context(*cert), **kwargs)


# The context from the settings -----------------------------------------------------------------


def test_no_tls_no_context():
    assert client_context(False, "/does/not/matter.pem") is None
    assert tlsconfig.client_context_from(ConnectionParameters("pbx", 7001, "AMHOST")) is None


def test_verification_is_on_by_default_with_the_system_certificates():
    ctx = client_context(True)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_custom_ca_file_is_the_one_trusted(pki):
    ctx = tlsconfig.client_context_from(
        ConnectionParameters("pbx", 7001, "AMHOST", tls=True, ca_file=str(pki.ca)))
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    subjects = [dict(x[0] for x in c["subject"]).get("commonName") for c in ctx.get_ca_certs()]
    assert subjects == ["cstapopup test CA"]


def test_a_missing_ca_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(TlsConfigError, match=r"CA certificate file .*nope\.pem does not exist"):
        client_context(True, missing)


def test_a_ca_file_that_is_no_certificate_is_a_clear_error(pki):
    with pytest.raises(TlsConfigError, match="junk.pem .*(no usable PEM|no certificate)"):
        client_context(True, pki.junk)


def test_a_ca_folder_is_a_clear_error(tmp_path):
    with pytest.raises(TlsConfigError, match="is not a file"):
        client_context(True, tmp_path)


def test_insecure_is_said_loudly(caplog):
    caplog.set_level(logging.WARNING, logger="cstapopup.csta.tlsconfig")
    ctx = client_context(True, verify=False)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert "verification is OFF" in caplog.text


def test_server_context_errors_are_clear(pki, tmp_path):
    with pytest.raises(TlsConfigError, match="does not exist"):
        server_context(tmp_path / "none.pem")
    with pytest.raises(TlsConfigError, match="cannot use the certificate"):
        server_context(pki.junk)
    with pytest.raises(TlsConfigError, match="cannot use the certificate"):
        server_context(pki.good[0], pki.untrusted[1])  # a key that does not match
    assert server_context(*pki.good) is not None


# Client <-> simulator over TLS -------------------------------------------------------------------


async def test_events_flow_over_tls_with_the_test_ca(pki):
    server = tls_server(pki.good, speed=40)
    await server.start()
    client = CstaClient("127.0.0.1", server.port,
                        options=ClientOptions(ssl=client_context(True, pki.ca), **QUICK_CLIENT))
    col = Collector(client, TIMEOUT)
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
        writer = client._writer
        assert writer is not None and writer.get_extra_info("ssl_object") is not None
        assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        await server.run_scenario("incoming-answered", "100", timeout=20)
        await col.wait(lambda: [e.event.name for e in col.events][:3]
                       == ["delivered", "established", "connection_cleared"])
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await col.stop()
        await server.stop()


async def test_a_host_name_in_the_certificate_is_matched(pki):
    """Connecting by name: server_hostname is the host the client was given."""
    server = tls_server(pki.good)
    await server.start()
    client = CstaClient("localhost", server.port,
                        options=ClientOptions(ssl=client_context(True, pki.ca), **QUICK_CLIENT))
    try:
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        except ConnectError as exc:
            if "cannot connect" in str(exc) or "refused" in str(exc):
                pytest.skip(f"localhost does not reach 127.0.0.1 here: {exc}")
            raise
        assert client.state == "up"
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await server.stop()


@pytest.mark.parametrize("case, words", [
    ("untrusted", "not signed by an authority this computer trusts"),
    ("expired", "expired"),
    ("wrong_name", "issued for another name than '127.0.0.1'"),
])
async def test_a_bad_certificate_is_a_clear_connect_error(pki, case, words):
    server = tls_server(getattr(pki, case))
    await server.start()
    client = CstaClient("127.0.0.1", server.port,
                        options=ClientOptions(ssl=client_context(True, pki.ca), **QUICK_CLIENT))
    try:
        with pytest.raises(CertificateError) as info:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert isinstance(info.value, ConnectError)
        message = str(info.value)
        assert words in message
        assert message.startswith("the TLS certificate of 127.0.0.1 was rejected")
        assert client.state != "up"
        assert not server.associated_links  # the password was never sent
    finally:
        await server.stop()


async def test_an_untrusted_certificate_keeps_the_link_down_and_retrying(pki):
    server = tls_server(pki.untrusted)
    await server.start()
    client = CstaClient("127.0.0.1", server.port,
                        options=ClientOptions(ssl=client_context(True, pki.ca), **QUICK_CLIENT))
    col = Collector(client, TIMEOUT)
    try:
        await client.start()
        await col.wait(lambda: sum(s.state == "down" for s in col.states) >= 3)
        downs = [s for s in col.states if s.state == "down"]
        assert all("not signed by an authority" in s.reason for s in downs)
        assert all(s.retry_in is not None for s in downs)  # it keeps trying
        assert [s.attempt for s in downs][:3] == [1, 2, 3]
        assert not any(s.state == "up" for s in col.states)
        assert not server.associated_links
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await col.stop()
        await server.stop()


async def test_the_wrong_host_name_with_server_hostname_set_right_connects(pki):
    """The certificate is for pbx.example.org: connecting to 127.0.0.1 while naming the PBX
    pbx.example.org (ClientOptions.server_hostname) passes; the name is what is checked."""
    server = tls_server(pki.wrong_name)
    await server.start()
    client = CstaClient("127.0.0.1", server.port, options=ClientOptions(
        ssl=client_context(True, pki.ca), server_hostname="pbx.example.org", **QUICK_CLIENT))
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert client.state == "up"
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await server.stop()


async def test_tls_client_against_a_plain_tcp_port_is_a_clear_error(pki):
    server = SwitchServer(port=0, devices="100-101")
    await server.start()
    client = CstaClient("127.0.0.1", server.port,
                        options=ClientOptions(ssl=client_context(True, pki.ca), **QUICK_CLIENT))
    try:
        with pytest.raises(ConnectError) as info:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert "TLS" in str(info.value) or "did not answer" in str(info.value)
        assert not server.associated_links
    finally:
        await server.stop()


async def test_insecure_accepts_an_untrusted_certificate(pki):
    server = tls_server(pki.untrusted)
    await server.start()
    client = CstaClient("127.0.0.1", server.port,
                        options=ClientOptions(ssl=client_context(True, verify=False), **QUICK_CLIENT))
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert client.state == "up"
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT)
        await server.stop()


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    got = bytearray()

    async def loop() -> None:
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionError:
                return
            if not data:
                return
            got.extend(data)

    await asyncio.wait_for(loop(), TIMEOUT)
    return bytes(got)


async def test_a_stalled_handshake_is_dropped_after_the_association_timeout(pki):
    """A peer that opens TCP to the TLS port and never sends its ClientHello is dropped
    (the handshake has association_timeout too); it never becomes a link."""
    server = tls_server(pki.good, association_timeout=0.3)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await _closed_by_server(reader) == b""
        writer.close()
        assert server._link_ids == 0
    finally:
        await server.stop()


async def test_a_tls_peer_that_does_not_log_in_is_closed(pki):
    """After a good handshake, the association deadline holds as on plain TCP."""
    server = tls_server(pki.good, association_timeout=0.3)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=client_context(True, verify=False))
        await server.wait_for(lambda: server.links_timed_out == 1, TIMEOUT)
        assert await _closed_by_server(reader) == b""
        writer.close()
    finally:
        await server.stop()


# The commands -------------------------------------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cstapopup", *args]


async def _read_until(stream: asyncio.StreamReader, predicate,
                      timeout: float = TIMEOUT) -> list[str]:
    lines: list[str] = []

    async def loop() -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"stream ended; got {lines}")
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            if predicate(lines[-1]):
                return

    await asyncio.wait_for(loop(), timeout)
    return lines


async def _stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
    return proc.returncode, (err or b"").decode("utf-8", "replace")


async def test_monitor_command_with_tls_and_a_ca_file(pki):
    server = tls_server(pki.good, speed=40)
    await server.start()
    proc = await asyncio.create_subprocess_exec(
        *_cli("monitor", "--port", str(server.port), "--tls", "--ca-file", str(pki.ca),
              "--device", "100", "--json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=TIMEOUT)
        await server.run_scenario("incoming-missed", "100", timeout=20)
        lines = await _read_until(proc.stdout, lambda line: '"connection_cleared"' in line)
        assert any('"delivered"' in line for line in lines)
    finally:
        code, err = await _stop(proc)
        await server.stop()
    assert code == 0, err
    assert "link up" in err


async def test_monitor_command_rejects_an_untrusted_certificate_clearly(pki):
    server = tls_server(pki.untrusted)
    await server.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            *_cli("monitor", "--port", str(server.port), "--tls", "--ca-file", str(pki.ca),
                  "--device", "100", "--once"),  # without --once it retries (a service)
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        await server.stop()
    assert proc.returncode == 4
    assert "not signed by an authority this computer trusts" in err.decode()


async def test_monitor_command_insecure_connects_with_a_loud_warning(pki):
    server = tls_server(pki.untrusted)
    await server.start()
    proc = await asyncio.create_subprocess_exec(
        *_cli("monitor", "--port", str(server.port), "--insecure", "--device", "100"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=TIMEOUT)
    finally:
        code, err = await _stop(proc)
        await server.stop()
    assert code == 0, err
    assert "WARNING: --insecure" in err and "NOT verified" in err


def test_monitor_command_with_a_bad_ca_file_is_a_usage_error(pki):
    proc = subprocess.run(_cli("monitor", "--port", "1", "--ca-file", str(pki.junk), "-d", "100"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "junk.pem" in proc.stderr and "Traceback" not in proc.stderr


def test_sim_command_with_a_bad_certificate_is_a_usage_error(pki, tmp_path):
    proc = subprocess.run(_cli("sim", "--port", "0", "--tls-cert", str(tmp_path / "none.pem")),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "none.pem does not exist" in proc.stderr
    proc = subprocess.run(_cli("sim", "--port", "0", "--tls-key", str(pki.good[1])),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--tls-key needs --tls-cert" in proc.stderr


async def test_sim_command_speaks_tls(pki):
    proc = await asyncio.create_subprocess_exec(
        *_cli("sim", "--port", "0", "--tls-cert", str(pki.good[0]), "--tls-key", str(pki.good[1])),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        lines = await _read_until(proc.stderr, lambda line: "listening on" in line)
        line = lines[-1]
        assert "(TLS)" in line
        port = int(line.split("listening on 127.0.0.1:")[1].split()[0].rstrip(";"))
        client = CstaClient("127.0.0.1", port,
                            options=ClientOptions(ssl=client_context(True, pki.ca), **QUICK_CLIENT))
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert client.state == "up"
        await asyncio.wait_for(client.close(), TIMEOUT)
    finally:
        code, _ = await _stop(proc)
    assert code == 0
