"""Signed JSON messages: an HMAC-SHA256 over the canonical JSON of the fields.

Why one module: the witness's lease protocol (TCP lines) and the peer query
(UDP datagrams) both decide who may restart VMs, so both must refuse a forged
or altered message the same way. Each protocol adds its own version and size
limit and its own rules (timestamps, nonces); the signature lives here.
"""
import hashlib
import hmac
import json
import os


class SignatureError(Exception):
    """Not a valid, authentic message; the text says why (never the secret)."""


def read_secret(path):
    """The secret in a file (surrounding whitespace ignored); SignatureError when unusable."""
    try:
        with open(path, "rb") as handle:
            secret = handle.read().strip()
    except OSError as exc:
        raise SignatureError("cannot read secret file %s: %s" % (path, exc.strerror or exc)) from None
    if not secret:
        raise SignatureError("secret file %s is empty" % path)
    return secret


def _mac(secret, fields):
    body = json.dumps({k: v for k, v in fields.items() if k != "mac"}, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def sign(secret, fields, version):
    """The signed message (bytes, newline-terminated) for `fields`, tagged with `version`."""
    signed = dict(fields, v=version)
    signed["mac"] = _mac(secret, signed)
    return (json.dumps(signed, sort_keys=True) + "\n").encode("utf-8")


def verify(secret, data, version, limit):
    """The fields of an authentic message of `version` at most `limit` bytes long; SignatureError otherwise."""
    if len(data) > limit:
        raise SignatureError("message longer than %d bytes" % limit)
    try:
        fields = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SignatureError("not a JSON message") from None
    if not isinstance(fields, dict) or not isinstance(fields.get("mac"), str):
        raise SignatureError("not a signed message")
    if not hmac.compare_digest(fields["mac"], _mac(secret, fields)):
        raise SignatureError("authentication failed (the shared secrets differ)")
    if fields.get("v") != version:
        raise SignatureError("protocol version %r, expected %d" % (fields.get("v"), version))
    return fields


def new_nonce():
    """A random request id (32 hex digits) an answer must repeat."""
    return os.urandom(16).hex()
