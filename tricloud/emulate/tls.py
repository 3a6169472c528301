"""A TLS front for the emulator's S3 on loopback, for the JVM.

hadoop-aws's AWS SDK (v1) refuses to send SSE-KMS parameters over plain HTTP, and S3A passes the source object's
KMS key on every copy (a Spark commit renames = copies): against a plain-HTTP emulator, writing into an SSE-KMS
bucket fails. Rather than weaken the buckets' encryption, Spark talks HTTPS to this proxy, which trusts nothing but
its own throwaway certificate (a PKCS12 trust store handed to the JVM) and forwards bytes to the emulator.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import secrets
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tricloud-local-s3")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))  # lives for one run
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "s3-proxy.pem", folder / "s3-proxy.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class TlsProxy:
    def __init__(self, target: tuple[str, int], folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.cert, key = _self_signed(folder)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.truststore = folder / "truststore.p12"
        self.password = secrets.token_hex(8)
        # Written here rather than by keytool: a second JVM start (~0.7 s) on the run's critical path.
        self.truststore.write_bytes(
            pkcs12.serialize_java_truststore(
                [
                    pkcs12.PKCS12Certificate(
                        x509.load_pem_x509_certificate(self.cert.read_bytes()), b"tricloud-local-s3"
                    )
                ],
                serialization.BestAvailableEncryption(self.password.encode()),
            )
        )
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def java_options(self) -> str:
        return (
            f"-Djavax.net.ssl.trustStore={self.truststore} -Djavax.net.ssl.trustStorePassword={self.password} "
            "-Djavax.net.ssl.trustStoreType=PKCS12"
        )

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            tls = self.ctx.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.target)
        except (OSError, ssl.SSLError):
            client.close()
            return

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        t = threading.Thread(target=pump, args=(upstream, tls), daemon=True)
        t.start()
        pump(tls, upstream)
        t.join(timeout=5)
        tls.close()
        upstream.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
