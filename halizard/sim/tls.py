"""The simulated pool's self-signed certificate, for the endpoints that take a password over HTTPS.

Why: a password never crosses the wire in clear (the outer dom0 of XVM
fencing is logged in to with FENCE_PASSWD). Like an XCP-ng 8.2 host, the
simulator serves a self-signed certificate made when the pool starts
(`openssl req -x509`, as xapi's own first-boot script does), one per pool,
kept beside pool.json, readable by root only.
"""
import os
import ssl
import subprocess

CERT_FILE = "pool-cert.pem"
KEY_FILE = "pool-key.pem"
SUBJECT = "/CN=ha-lizard-simulated-pool"


class TlsError(Exception):
    """The pool certificate could not be made (one line)."""


def pool_certificate(directory, days=3650):
    """(certificate path, key path) under `directory`, made once with openssl; TlsError when impossible."""
    cert = os.path.join(directory, CERT_FILE)
    key = os.path.join(directory, KEY_FILE)
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    os.makedirs(directory, exist_ok=True)
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(days),
               "-subj", SUBJECT, "-keyout", key, "-out", cert]
    old_mask = os.umask(0o077)
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TlsError("cannot run openssl to make the pool certificate: %s" % exc) from None
    finally:
        os.umask(old_mask)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["exit %d" % result.returncode])[-1]
        raise TlsError("openssl could not make the pool certificate: %s" % last)
    return cert, key


def server_context(cert, key):
    """A server-side TLS context serving the pool certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
