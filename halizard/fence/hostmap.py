"""`<FENCE_FILE_LOC>/<METHOD>/<METHOD>.hosts` map files: host UUID -> fence target.

Why: XVM, ILO, IRMC (and later ClusterLabs agents) all find "what to fence
for this host" in a file of `<host uuid>:<value>` lines. One strict parser
means a typo is reported as `file:line: reason` before it is needed during a
failure, instead of a silent "host not found" at 3 a.m.

Accepted: blank lines and `#` comments; surrounding whitespace and CRLF are
tolerated; the value is everything after the FIRST colon (so an IPv6 BMC
address keeps its colons); a `validate` callback may check the value.
"""
import os
import re
import stat

UUID_RE = re.compile(r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
METHOD_RE = re.compile(r"\A[A-Za-z0-9_-]+\Z")
MAX_BYTES = 1024 * 1024


class HostMapError(Exception):
    """A map file is missing, unreadable or malformed, or a host is not in it."""


def is_uuid(text):
    """True for a canonical 8-4-4-4-12 hex UUID."""
    return bool(UUID_RE.match(text or ""))


def map_path(file_loc, method):
    """`<file_loc>/<METHOD>/<METHOD>.hosts`; the method name is checked against path tricks."""
    if not METHOD_RE.match(method or ""):
        raise HostMapError("invalid fence method name %r (only letters, digits, '_' and '-')" % (method,))
    return os.path.join(file_loc, method, method + ".hosts")


def parse_text(text, source, validate=None):
    """Parse map text; `source` names the file in errors. Returns {host_uuid(lower): value}."""
    entries = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = "%s:%d" % (source, number)
        if ":" not in line:
            raise HostMapError("%s: expected '<host uuid>:<value>', got no ':'" % where)
        host, _, value = line.partition(":")
        host, value = host.strip(), value.strip()
        if not is_uuid(host):
            raise HostMapError("%s: %r is not a host UUID" % (where, host[:60]))
        if not value:
            raise HostMapError("%s: empty value for host %s" % (where, host))
        if any(ch.isspace() for ch in value):
            raise HostMapError("%s: value for host %s contains whitespace" % (where, host))
        if validate is not None:
            problem = validate(value)
            if problem:
                raise HostMapError("%s: %s" % (where, problem))
        key = host.lower()
        if key in entries:
            raise HostMapError("%s: host %s is listed twice" % (where, host))
        entries[key] = value
    return entries


def load(path, validate=None):
    """Read and parse one map file (regular file, at most 1 MiB, UTF-8)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise HostMapError("cannot read fence map %s: %s" % (path, exc.strerror)) from None
    if not stat.S_ISREG(info.st_mode):
        raise HostMapError("fence map %s is not a regular file" % path)
    if info.st_size > MAX_BYTES:
        raise HostMapError("fence map %s is larger than %d bytes" % (path, MAX_BYTES))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise HostMapError("cannot read fence map %s: %s" % (path, exc.strerror)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise HostMapError("%s:%d: not valid UTF-8" % (path, line)) from None
    return parse_text(text, path, validate)


def lookup(path, host_uuid, validate=None):
    """The value mapped to `host_uuid` in the file at `path`; unknown host -> HostMapError."""
    entries = load(path, validate)
    value = entries.get((host_uuid or "").lower())
    if value is None:
        raise HostMapError("host %s is not listed in %s" % (host_uuid, path))
    return value


def validate_uuid_value(value):
    """Validator for maps whose values are UUIDs (XVM: the outer VM)."""
    return None if is_uuid(value) else "%r is not a VM UUID" % value[:60]
