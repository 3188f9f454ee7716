"""Value kinds of configuration parameters: text -> typed value, with validation.

Why: one place decides what "a valid FENCE_HEURISTICS_IPS" is, for the CLI,
the override file, restore and the service alike. Each kind turns the text of
a value (quotes already removed, see values.py) into a Python value or raises
ValueError with a message fit for an admin.
"""
import ipaddress
import re

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EMAIL = re.compile(r"^[^@\s:,;<>\"']+@[A-Za-z0-9.-]+$")


def is_address(text):
    """An IPv4/IPv6 literal or a DNS host name (all-numeric names must be valid IPv4)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    if re.match(r"^[0-9.]+$", text) or len(text) > 253:
        return False
    labels = text.rstrip(".").split(".")
    return bool(text) and all(_HOSTNAME_LABEL.match(label) for label in labels)


class Kind:
    """Base kind: `parse(text)` -> value, `text(value)` -> canonical text."""

    name = "text"
    is_list = False

    def __init__(self, allow_empty=False):
        self.allow_empty = allow_empty

    def parse(self, text):
        text = text.strip()
        if text == "":
            if self.allow_empty:
                return self.empty()
            raise ValueError("a value is required")
        return self.parse_value(text)

    def empty(self):
        return ""

    def parse_value(self, text):
        return text

    def text(self, value):
        return "" if value is None else str(value)

    def describe(self):
        return self.name + (" (may be empty)" if self.allow_empty else "")


class Text(Kind):
    name = "text"

    def __init__(self, allow_empty=False, pattern=None, what="text"):
        super().__init__(allow_empty)
        self.pattern = re.compile(pattern) if pattern else None
        self.what = what
        self.name = what

    def parse_value(self, text):
        if self.pattern and not self.pattern.match(text):
            raise ValueError("%r is not a valid %s" % (text, self.what))
        return text


class Int(Kind):
    name = "integer"

    def __init__(self, minimum=None, maximum=None, unit="", allow_empty=False):
        super().__init__(allow_empty)
        self.minimum = minimum
        self.maximum = maximum
        self.unit = unit

    def empty(self):
        return None

    def parse_value(self, text):
        if not re.match(r"^[+-]?[0-9]+$", text):
            raise ValueError("%r is not a whole number" % text)
        value = int(text)
        if self.minimum is not None and value < self.minimum:
            raise ValueError("%d is below the minimum %d" % (value, self.minimum))
        if self.maximum is not None and value > self.maximum:
            raise ValueError("%d is above the maximum %d" % (value, self.maximum))
        return value

    def describe(self):
        parts = [self.unit or "integer"]
        if self.minimum is not None and self.maximum is not None:
            parts.append("%d..%d" % (self.minimum, self.maximum))
        elif self.minimum is not None:
            parts.append(">= %d" % self.minimum)
        return " ".join(parts) + (" (may be empty)" if self.allow_empty else "")


class Flag(Int):
    name = "0/1"

    def __init__(self):
        super().__init__(0, 1)

    def parse_value(self, text):
        if text not in ("0", "1"):
            raise ValueError("%r is not 0 or 1" % text)
        return int(text)

    def describe(self):
        return "0/1"


class Choice(Kind):
    """One of fixed values (case-insensitive), or also a free agent name when `names_ok`."""

    name = "choice"

    def __init__(self, choices, ints=False, names_ok=False, canonical_upper=False):
        super().__init__(False)
        self.choices = list(choices)
        self.ints = ints
        self.names_ok = names_ok
        self.canonical_upper = canonical_upper

    def parse_value(self, text):
        for choice in self.choices:
            if text.lower() == str(choice).lower():
                return choice
        if self.names_ok and _NAME.match(text):
            return text
        extra = " or a custom agent name" if self.names_ok else ""
        raise ValueError("%r is not one of %s%s" % (text, ", ".join(str(c) for c in self.choices), extra))

    def describe(self):
        return " | ".join(str(c) for c in self.choices) + (" | custom agent name" if self.names_ok else "")


class Address(Kind):
    name = "address"

    def parse_value(self, text):
        if not is_address(text):
            raise ValueError("%r is not a valid IP address or host name" % text)
        return text

    def describe(self):
        return "IP address or host name" + (" (may be empty)" if self.allow_empty else "")


class ColonList(Kind):
    """`a:b:c` lists (stored `(a:b)` or `a:b`, see values.py); value is a tuple."""

    is_list = True

    def __init__(self, item_check, what, item_what, allow_empty=True):
        super().__init__(allow_empty)
        self.item_check = item_check
        self.what = what
        self.item_what = item_what
        self.name = "list of %s" % what

    def empty(self):
        return ()

    def parse_value(self, text):
        items = tuple(item for item in re.split(r"[:\s]+", text) if item)
        for item in items:
            if not self.item_check(item):
                raise ValueError("%r in the list is not a valid %s" % (item, self.item_what))
        if not items and not self.allow_empty:
            raise ValueError("a value is required")
        return items

    def text(self, value):
        return ":".join(value or ())

    def describe(self):
        return "`:`-separated %s" % self.what + (" (may be empty)" if self.allow_empty else "")


class Emails(Kind):
    """One or more mail addresses separated by `,` or `:` (no spaces: the pool cannot hold them)."""

    name = "mail address(es)"

    def parse_value(self, text):
        items = [item for item in re.split(r"[,:]", text) if item]
        for item in items:
            if not _EMAIL.match(item):
                raise ValueError("%r is not a valid mail address" % item)
        if not items:
            raise ValueError("a mail address is required")
        return text


class Path(Kind):
    name = "absolute path"

    def parse_value(self, text):
        if not text.startswith("/") or "\0" in text:
            raise ValueError("%r is not an absolute path" % text)
        return text


def is_uuid(text):
    return bool(_UUID.match(text))
