"""The `get_all_records_where` expression language, as XAPI's DB filter parses it.

Why: HA managers ask e.g. `field "power_state"="Running" and not field
"is_a_template"="true"`. Supported: `field "f" = "v"`, `field "f" <> "v"`,
`"v" = field "f"`, `and`, `or`, `not`, parentheses, `true`, `false`.
Values compare as their wire strings (bools as "true"/"false").
"""
from halizard.sim.api.errors import XapiError


def _tokens(text):
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= len(text):
                raise ValueError("unterminated string")
            out.append(("str", "".join(buf)))
            i = j + 1
        elif text.startswith("<>", i):
            out.append(("op", "<>"))
            i += 2
        elif ch in "=()":
            out.append(("op", ch))
            i += 1
        else:
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            if j == i:
                raise ValueError("unexpected character %r" % ch)
            out.append(("word", text[i:j].lower()))
            i = j
    return out


def as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Parser(object):
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise ValueError("unexpected %r" % (tok[1],))
        self.pos += 1
        return tok

    def parse(self):
        expr = self.disjunction()
        if self.pos != len(self.tokens):
            raise ValueError("trailing input")
        return expr

    def disjunction(self):
        left = self.conjunction()
        while self.peek() == ("word", "or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def conjunction(self):
        left = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self):
        tok = self.peek()
        if tok == ("word", "not"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if tok == ("op", "("):
            self.take()
            inner = self.disjunction()
            self.take("op", ")")
            return inner
        if tok == ("word", "true"):
            self.take()
            return lambda r: True
        if tok == ("word", "false"):
            self.take()
            return lambda r: False
        left = self.operand()
        op = self.take("op")[1]
        if op not in ("=", "<>"):
            raise ValueError("expected = or <>")
        right = self.operand()
        if op == "=":
            return lambda r: left(r) == right(r)
        return lambda r: left(r) != right(r)

    def operand(self):
        tok = self.peek()
        if tok == ("word", "field"):
            self.take()
            name = self.take("str")[1]
            return lambda r: as_text(r.get(name, ""))
        value = self.take("str")[1]
        return lambda r: value


def compile_where(expr):
    """A predicate over records; XapiError on a malformed expression."""
    try:
        return _Parser(_tokens(expr)).parse()
    except ValueError as exc:
        raise XapiError("INVALID_VALUE", "expr", "%s: %s" % (expr, exc)) from None
