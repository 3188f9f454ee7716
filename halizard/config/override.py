"""The host override file `/etc/ha-lizard/ha-lizard.conf` (under the root).

Why: a host may differ from the pool (e.g. SLAVE_VM_STAT on a few slaves) and
holds the host-local switches (LOG_*, MAIL_*, PRIORITY_*, MAIL_SCREEN_TIME).
The file is bash-like, `KEY=VALUE`, all commented out by default. It is read,
never executed; a line we cannot read is an error naming that line, and the
caller keeps the previous values (see effective.py).
"""
import re
from collections import OrderedDict

from halizard import paths
from halizard.config import schema, values

_ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


class OverrideError(ValueError):
    """A line of the override file cannot be used; `line` is 1-based."""

    def __init__(self, path, line, reason):
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__("%s line %d: %s" % (path, line, reason))


class Setting:
    """One override: typed `value`, the literal as written, the line it came from."""

    __slots__ = ("name", "value", "raw", "line")

    def __init__(self, name, value, raw, line):
        self.name = name
        self.value = value
        self.raw = raw
        self.line = line

    def __repr__(self):
        return "Setting(%s=%r, line %d)" % (self.name, self.value, self.line)


def override_path(root=None):
    return paths.under(root, paths.OVERRIDE_FILE)


def parse_override(text, path="ha-lizard.conf"):
    """All settings of an override file's text; OverrideError on the first bad line."""
    settings = OrderedDict()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGN.match(stripped)
        if not match:
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s+=", stripped) or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=\s", stripped):
                raise OverrideError(path, number, "no spaces allowed around '=' (write KEY=VALUE)")
            # Show only the first word: the rest of a broken line may be a password.
            first = re.split(r"[\s=]", stripped, maxsplit=1)[0][:30]
            raise OverrideError(path, number, "expected KEY=VALUE (the line starts with %r)" % first)
        key, rest = match.group(1), match.group(2)
        try:
            name = schema.canonical_name(key)
        except schema.UnknownParameter:
            raise OverrideError(path, number, "unknown parameter %s" % key) from None
        param = schema.PARAMETERS[name]
        try:
            literal, value = _read_value(param, rest)
        except ValueError as exc:
            reason = "the value is not valid (not shown: secret)" if param.secret else str(exc)
            raise OverrideError(path, number, "%s: %s" % (name, reason)) from None
        settings[name] = Setting(name, value, literal.raw, number)
    return settings


def _read_value(param, rest):
    """(Literal, typed value) of the text after `KEY=`; ValueError says why not."""
    literal, remainder = values.parse_leading_word(rest)
    remainder = remainder.strip()
    if remainder and not remainder.startswith("#"):
        raise ValueError("unexpected text after the value: %r (quote values with spaces)" % remainder[:40])
    return literal, param.validator(literal.text)


def load_override(root=None):
    """Settings of this host's override file (empty when there is none)."""
    path = override_path(root)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return OrderedDict()
    except UnicodeDecodeError:
        raise OverrideError(path, 1, "not UTF-8 text") from None
    except OSError as exc:
        raise OverrideError(path, 0, "cannot read: %s" % exc.strerror) from None
    return parse_override(text, path)
