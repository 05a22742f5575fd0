"""One POST over real HTTP on loopback: it goes to the checked address, keeps the Host name, and
turns every failure into an outcome."""

from __future__ import annotations

from typing import Any, Callable

from callingbox.core.delivery import post, resolve_target
from callingbox.local.aws import free_port
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_backoff_and_resolver import dns


def test_the_request_goes_to_the_checked_address_with_the_original_host(receivers: Callable[..., Receiver]) -> None:
    # GIVEN a receiver on 127.0.0.1 and a name that resolves there once (later answers would differ)
    receiver = receivers(204)
    port = receiver.server.server_address[1]
    answers = iter([["127.0.0.1"], ["10.0.0.9"]])

    def rebinding_dns(host: str, port_: int, *args: Any, **kwargs: Any) -> Any:
        return dns(*next(answers))(host, port_)

    target = resolve_target(f"http://hooks.customer.test:{port}/cb?x=1", allow_loopback=True, resolver=rebinding_dns)
    # WHEN posting
    outcome = post(target, b'{"a":1}', {"CallingBox-Event-Id": "evt_1"})
    # THEN the receiver got it at the checked address, addressed to the original host
    assert outcome.succeeded and outcome.status_code == 204 and outcome.error is None and outcome.latency_ms >= 0
    [request] = receiver.requests
    assert request.path == "/cb?x=1" and request.body == b'{"a":1}'
    assert request.headers["Host"] == f"hooks.customer.test:{port}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["CallingBox-Event-Id"] == "evt_1"
    assert request.headers["User-Agent"].startswith("CallingBox-Webhooks/")


def test_non_2xx_timeout_and_refused_connections_are_outcomes(receivers: Callable[..., Receiver]) -> None:
    failing = receivers(500)
    target = resolve_target(failing.url, allow_loopback=True)
    outcome = post(target, b"{}", {})
    assert (outcome.status_code, outcome.succeeded, outcome.error) == (500, False, "HTTP 500")

    redirect = receivers(302)
    assert post(resolve_target(redirect.url, allow_loopback=True), b"{}", {}).succeeded is False

    slow = receivers(200, delay_s=2.0)
    outcome = post(resolve_target(slow.url, allow_loopback=True), b"{}", {}, timeout=0.3)
    assert outcome.status_code is None and "no response within 0.3 s" in (outcome.error or "")

    closed = resolve_target(f"http://127.0.0.1:{free_port()}/", allow_loopback=True)
    outcome = post(closed, b"{}", {})
    assert outcome.status_code is None and (outcome.error or "").startswith("connection failed")


def _self_signed(tmp_path: Any, name: str) -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_names_the_original_host_and_verifies_its_certificate(tmp_path: Any) -> None:
    import socket
    import ssl
    import threading

    # GIVEN a TLS server on 127.0.0.1 with a self-signed certificate for hooks.customer.test
    cert, key = _self_signed(tmp_path, "hooks.customer.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: seen.append(name)  # type: ignore[assignment]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            context.wrap_socket(connection, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the client refuses our certificate, as it should
        finally:
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    # WHEN the name resolves to that address and we post
    target = resolve_target(f"https://hooks.customer.test:{port}/cb", allow_loopback=True, resolver=dns("127.0.0.1"))
    outcome = post(target, b"{}", {})
    thread.join(timeout=5)
    listener.close()
    # THEN the handshake asked for the original host name (SNI), not the address, and the
    # untrusted certificate failed the attempt
    assert seen == ["hooks.customer.test"]
    assert outcome.status_code is None and "CERTIFICATE_VERIFY_FAILED" in (outcome.error or "")
