"""The old product's literal value format: read it exactly, write it so the
old reader still parses it.

Why: existing pools hold `HA_<NAME>` keys written by the bash tool, e.g.
`'ha-lizard-enabled'`, `"SYSTEM_ALERT-FROM_HOST:$HOSTNAME"`, `()`, `"25"`.
The bash product sources them as `NAME=<literal>` lines, so a literal is a
bash word: quotes are syntax, `$HOSTNAME` expands on each host, `(a:b)` is
an array. We parse the same words (never evaluating anything) and, when we
write, keep the quoting style the key already had.
"""
import re

STYLES = ("bare", "double", "single", "paren")
_SAFE_BARE = re.compile(r"^[A-Za-z0-9@%+=:,./_-]*$")
_VAR = re.compile(r"\$(\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_FORBIDDEN_IN_POOL = re.compile(r"[\s;\x00-\x1f\x7f]")


class LiteralError(ValueError):
    """A literal the bash reader would not accept (or would execute)."""


class Literal:
    """A parsed literal: `text` (quotes removed, variables expanded) and its `style`."""

    __slots__ = ("text", "style", "raw")

    def __init__(self, text, style, raw):
        self.text = text
        self.style = style
        self.raw = raw

    def __repr__(self):
        return "Literal(%r, %r)" % (self.text, self.style)


def _expand(text, env):
    if not env:
        return text

    def repl(match):
        name = match.group(2) or match.group(3)
        return env.get(name, match.group(0))

    return _VAR.sub(repl, text)


def _single_quoted(raw, i, _env):
    """'...' at raw[i]: (text, index after the closing quote)."""
    end = raw.find("'", i + 1)
    if end < 0:
        raise LiteralError("unterminated single quote in %r" % raw)
    return raw[i + 1:end], end + 1


def _double_quoted(raw, i, env):
    """"..." at raw[i], with bash's backslash escapes and $VAR expansion: (text, index after it)."""
    n = len(raw)
    j = i + 1
    buf = []
    while True:
        if j >= n:
            raise LiteralError("unterminated double quote in %r" % raw)
        c = raw[j]
        if c == '"':
            break
        if c == "\\" and j + 1 < n and raw[j + 1] in '\\"$`':
            buf.append("\\" + raw[j + 1] if raw[j + 1] == "$" else raw[j + 1])
            j += 2
            continue
        if c == "`" or raw.startswith("$(", j):
            raise LiteralError("command substitution is not allowed in %r" % raw)
        buf.append(c)
        j += 1
    return _finish_expansion("".join(buf), env), j + 1


def _escaped(raw, i, _env):
    """A backslash-escaped character at raw[i]: (the character, index after it)."""
    if i + 1 >= len(raw):
        raise LiteralError("trailing backslash in %r" % raw)
    return raw[i + 1], i + 2


def _bare(raw, i, env):
    """Unquoted characters from raw[i] up to the next quote, space or operator: (text, end)."""
    j = i
    while j < len(raw) and not raw[j].isspace() and raw[j] not in "'\"\\;|&<>`()":
        if raw.startswith("$(", j):
            break
        j += 1
    return _finish_expansion(raw[i:j], env), j


# first character of a word part -> (its parser, its quote kind); anything else is _bare
_PARTS = {"'": (_single_quoted, "single"), '"': (_double_quoted, "double"), "\\": (_escaped, "bare")}


def _parse_word(raw, env, pos=0, stop_at_space=False):
    """Parse one bash word starting at `pos`; returns (text, end, quote_kinds)."""
    out = []
    kinds = set()
    i = pos
    while i < len(raw):
        ch = raw[i]
        if ch.isspace():
            if stop_at_space:
                break
            raise LiteralError("unquoted space in %r" % raw)
        if ch == "`" or raw.startswith("$(", i):
            raise LiteralError("command substitution is not allowed in %r" % raw)
        if ch in ";|&<>()":
            raise LiteralError("unquoted %r in %r" % (ch, raw))
        parse, kind = _PARTS.get(ch, (_bare, "bare"))
        text, i = parse(raw, i, env)
        out.append(text)
        kinds.add(kind)
    return "".join(out), i, kinds


def _finish_expansion(segment, env):
    """Expand `$VAR` in a segment, keeping `\\$` escapes as a literal dollar."""
    parts = segment.split("\\$")
    return "$".join(_expand(part, env) for part in parts)


def parse_literal(raw, env=None):
    """Parse a stored value the way bash would read `NAME=<raw>`, without executing anything.

    `env` maps variable names (HOSTNAME) to their values; unknown variables stay literal.
    """
    if raw is None:
        raise LiteralError("no value")
    stripped = raw.strip()
    if stripped.startswith("("):
        if not stripped.endswith(")"):
            raise LiteralError("unterminated ( in %r" % raw)
        inner = stripped[1:-1]
        words = []
        i = 0
        while i < len(inner):
            if inner[i].isspace():
                i += 1
                continue
            word, i, _kinds = _parse_word(inner, env, i, stop_at_space=True)
            words.append(word)
        return Literal(":".join(words), "paren", raw)
    text, _end, kinds = _parse_word(stripped, env)
    if not kinds:
        style = "bare"
    elif len(kinds) == 1:
        style = kinds.pop()
    else:
        style = "double"
    return Literal(text, style, raw)


def style_of(raw):
    """The quoting style of a stored literal (None when it does not parse)."""
    try:
        return parse_literal(raw).style
    except LiteralError:
        return None


def check_pool_text(text):
    """Refuse what the old product cannot hold in the pool: spaces, `;`, control characters."""
    bad = _FORBIDDEN_IN_POOL.search(text)
    if bad:
        what = "spaces" if bad.group(0).isspace() else repr(bad.group(0))
        raise LiteralError("values stored in the pool cannot contain %s" % what)


def format_literal(text, style="bare", keep_vars=("HOSTNAME",)):
    """Write `text` as a bash word in `style`, escalating the quoting when it must.

    `$HOSTNAME` (and `${HOSTNAME}`) stay expandable; any other `$` is escaped.
    """
    if style == "paren":
        return _paren_literal(text)
    has_vars = any(match.group(2) in keep_vars or match.group(3) in keep_vars
                   for match in _VAR.finditer(text))
    if style == "bare":
        if _SAFE_BARE.match(text) and text != "":
            return text
        if text == "":
            return ""
        style = "double" if has_vars else "single"
    if style == "single":
        if has_vars or "'" in text:
            style = "double"
        else:
            return "'" + text + "'"
    return _double_literal(text, keep_vars)


def _paren_literal(text):
    """`(a:b:c)`: the old product's list form; each item must be safe unquoted."""
    items = [item for item in text.split(":") if item] if text else []
    for item in items:
        if not _SAFE_BARE.match(item):
            raise LiteralError("list item %r contains characters a list cannot hold" % item)
    return "(" + ":".join(items) + ")"


def _double_literal(text, keep_vars):
    """`"..."` with every character bash would interpret escaped, but `$HOSTNAME` (keep_vars) kept."""
    escaped = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "$":
            match = _VAR.match(text, i)
            if match and (match.group(2) in keep_vars or match.group(3) in keep_vars):
                escaped.append(match.group(0))
                i = match.end()
                continue
            escaped.append("\\$")
        elif ch in '\\"`':
            escaped.append("\\" + ch)
        else:
            escaped.append(ch)
        i += 1
    return '"' + "".join(escaped) + '"'


def parse_leading_word(text, env=None):
    """Parse the bash word at the start of `text`; returns (Literal, rest_of_text).

    For `KEY=value  # comment` lines of the override file, where the word ends at
    the first unquoted space.
    """
    if text.startswith("("):
        depth_end = _closing_paren(text)
        raw = text[:depth_end + 1]
        return parse_literal(raw, env), text[depth_end + 1:]
    word, end, _kinds = _parse_word(text, env, 0, stop_at_space=True)
    raw = text[:end]
    return parse_literal(raw, env) if raw else Literal("", "bare", ""), text[end:]


def _closing_paren(text):
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == ")":
            return i
    raise LiteralError("unterminated ( in %r" % text)
