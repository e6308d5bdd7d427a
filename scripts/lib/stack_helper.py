#!/usr/bin/env python3
"""Small helpers for scripts/stack: free ports, secrets, readiness probes.

Only the standard library is needed, except for `kafka-ready`, which needs
confluent-kafka (its wheel bundles a recent librdkafka; Debian's 2.0.2 cannot
talk to tansu). Run it with the tools venv's python.
"""

import argparse
import base64
import json
import os
import secrets
import socket
import string
import sys
import time
import urllib.error
import urllib.request


def cmd_free_port(args):
    ports = []
    socks = []
    try:
        # Hold all sockets open until every port is chosen so they differ.
        for _ in range(args.count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    print(" ".join(str(p) for p in ports))
    return 0


def cmd_gen_key(_args):
    alphabet = string.ascii_uppercase + string.digits
    print("".join(secrets.choice(alphabet) for _ in range(16)))
    return 0


def cmd_gen_secret(_args):
    alphabet = string.ascii_letters + string.digits + "+/"
    print("".join(secrets.choice(alphabet) for _ in range(64)))
    return 0


def cmd_make_certs(args):
    """A throwaway CA and a server certificate it signs, for 127.0.0.1 and localhost.

    Writes ca.pem, server.pem (the server's certificate, then the CA's) and server-key.pem
    (mode 600) into --dir. Needs the `cryptography` package (the tools venv has it).
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=args.days)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("ccaf-housekeeping local stack CA"))
        .issuer_name(name("ccaf-housekeeping local stack CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    os.makedirs(args.dir, exist_ok=True)
    with open(os.path.join(args.dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(args.dir, "server.pem"), "wb") as f:
        f.write(cert.public_bytes(pem) + ca.public_bytes(pem))
    key_path = os.path.join(args.dir, "server-key.pem")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return 0


def pid_alive(pid):
    """True while the process exists and is not a zombie."""
    if not pid:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def http_status(url, auth, timeout, ca=None):
    req = urllib.request.Request(url, method="GET")
    if auth:
        token = base64.b64encode(auth.encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    context = None
    if ca:
        import ssl

        context = ssl.create_default_context(cafile=ca)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as e:
        return e.code, str(e)
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def cmd_http_ready(args):
    auth = None
    if args.auth_env:
        user = os.environ.get(args.auth_env + "_KEY", "")
        password = os.environ.get(args.auth_env + "_SECRET", "")
        auth = user + ":" + password
    deadline = time.monotonic() + args.timeout
    last = ""
    while True:
        status, err = http_status(args.url, auth, timeout=2, ca=args.ca)
        if status == args.expect:
            return 0
        last = "status %s %s" % (status, err)
        if not pid_alive(args.pid):
            print("process %d exited; %s: %s" % (args.pid, args.url, last), file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print("not ready: %s: %s" % (args.url, last), file=sys.stderr)
            return 1
        time.sleep(0.2)


def kafka_config(args):
    conf = {
        "bootstrap.servers": args.bootstrap,
        "socket.timeout.ms": 2000,
        "socket.connection.setup.timeout.ms": 2000,
        "log_level": 0,
    }
    if args.sasl_username is not None:
        conf.update(
            {
                "security.protocol": args.security_protocol,
                "sasl.mechanisms": args.sasl_mechanism,
                "sasl.username": args.sasl_username,
                "sasl.password": args.sasl_password,
            }
        )
        if args.ca_location:
            conf["ssl.ca.location"] = args.ca_location
    return conf


def cmd_kafka_ready(args):
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:
        print("confluent-kafka is not installed in this python", file=sys.stderr)
        return 2
    errors = []
    conf = kafka_config(args)
    conf["error_cb"] = lambda err: errors.append(str(err))
    deadline = time.monotonic() + args.timeout
    client = AdminClient(conf)
    while True:
        try:
            md = client.list_topics(timeout=2)
            if md.brokers:
                if args.verbose:
                    print(
                        json.dumps(
                            {
                                "cluster_id": md.cluster_id,
                                "brokers": [str(b) for b in md.brokers.values()],
                                "topics": sorted(md.topics),
                            }
                        )
                    )
                return 0
        except Exception as e:  # KafkaException on timeout
            errors.append(str(e))
        if not pid_alive(args.pid):
            print(
                "process %d exited; kafka at %s: %s"
                % (args.pid, args.bootstrap, "; ".join(errors[-3:])),
                file=sys.stderr,
            )
            return 1
        if time.monotonic() >= deadline:
            print(
                "kafka not ready at %s: %s" % (args.bootstrap, "; ".join(errors[-3:])),
                file=sys.stderr,
            )
            return 1
        time.sleep(0.2)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("free-port")
    s.add_argument("--count", type=int, default=1)
    s.set_defaults(func=cmd_free_port)

    s = sub.add_parser("gen-key")
    s.set_defaults(func=cmd_gen_key)

    s = sub.add_parser("gen-secret")
    s.set_defaults(func=cmd_gen_secret)

    s = sub.add_parser("make-certs")
    s.add_argument("--dir", required=True)
    s.add_argument("--days", type=int, default=30)
    s.set_defaults(func=cmd_make_certs)

    s = sub.add_parser("http-ready")
    s.add_argument("url")
    s.add_argument("--expect", type=int, default=200)
    s.add_argument("--timeout", type=float, default=30)
    s.add_argument(
        "--auth-env",
        help="basic auth from env vars PREFIX_KEY and PREFIX_SECRET "
        "(never on the command line, so secrets stay out of ps)",
    )
    s.add_argument("--pid", type=int, help="give up as soon as this process exits")
    s.add_argument("--ca", help="CA certificate (PEM) to verify an https URL with")
    s.set_defaults(func=cmd_http_ready)

    s = sub.add_parser("kafka-ready")
    s.add_argument("bootstrap")
    s.add_argument("--timeout", type=float, default=30)
    s.add_argument("--security-protocol", default="SASL_SSL")
    s.add_argument("--sasl-mechanism", default="PLAIN")
    s.add_argument("--sasl-username")
    s.add_argument("--sasl-password")
    s.add_argument("--ca-location")
    s.add_argument("--verbose", action="store_true")
    s.add_argument("--pid", type=int, help="give up as soon as this process exits")
    s.set_defaults(func=cmd_kafka_ready)

    args = p.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
