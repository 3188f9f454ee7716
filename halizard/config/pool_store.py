"""The pool's `HA_<NAME>` keys (pool other_config) and the XenCenter HA field.

Why: existing pools already hold these keys, written by the old bash tool;
reading them as they are is how users migrate in place, and every write keeps
the old format so the old reader (and a downgrade) still works. Writes touch
only the keys that change, one key at a time (remove + add, as `xe
pool-param-set other-config:KEY=...` does), and only after every new value
has been validated, so bad input never reaches the pool.
"""
from collections import OrderedDict

from halizard.config import schema, values
from halizard.core.strenum import StrEnum

TRUE_FALSE = ("true", "false")


class FlagState(StrEnum):
    """What a XenCenter HA field (the pool's or a VM's) holds: HA acts only on TRUE."""

    TRUE = "true"
    FALSE = "false"
    MISSING = "missing"
    INVALID = "invalid"


def pool_ref(session):
    pools = session.xenapi.pool.get_all()
    if not pools:
        raise LookupError("XAPI reports no pool")
    return pools[0]


def read_other_config(session):
    """(pool_ref, pool_uuid, other_config) of this pool."""
    ref = pool_ref(session)
    record = session.xenapi.pool.get_record(ref)
    return ref, record.get("uuid", ""), dict(record.get("other_config") or {})


def relevant_keys(other_config):
    """The part of other_config ha-lizard reads (HA_* keys and XenCenter custom fields)."""
    return {key: value for key, value in other_config.items()
            if key.startswith(schema.POOL_KEY_PREFIX) or key.startswith(schema.XC_FIELD_PREFIX)}


def stored_literals(other_config):
    """OrderedDict NAME -> raw literal for every schema pool parameter present."""
    found = OrderedDict()
    for param in schema.POOL_PARAMETERS:
        if param.pool_key in other_config:
            found[param.name] = other_config[param.pool_key]
    return found


def foreign_keys(other_config):
    """`HA_*` keys present in the pool that our schema does not define (left untouched)."""
    known = {p.pool_key for p in schema.POOL_PARAMETERS}
    return sorted(k for k in other_config if k.startswith(schema.POOL_KEY_PREFIX) and k not in known)


_DECODED = {}        # (kind, literal, env) -> typed value; ("default", kind, default, style) -> literal
_DECODED_MAX = 4096  # a bound: literals change rarely, but nothing here may grow without one


def _remembered(key, compute):
    """compute(), remembered under `key` (a bounded memo of pure results); an unhashable key or a
    failing compute() is never remembered."""
    try:
        return _DECODED[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable literal or default: computed without the memo
        return compute()
    value = compute()
    if len(_DECODED) < _DECODED_MAX:
        _DECODED[key] = value
    return value


def decode(param, raw, env=None):
    """Typed value of a stored literal; ValueError when it is not valid for `param`.

    Remembered per (the parameter's kind, the literal, `env`): decoding is pure and the values are
    immutable, and every job run builds its configuration from the same ~200 literals (about half of a
    no-op run's CPU before). A literal that fails is decoded again each time (it raises).
    """
    key = (param.type, raw, tuple(sorted(env.items())) if env else None)
    return _remembered(key, lambda: param.validator(values.parse_literal(raw, env).text))


def encode(param, user_text, previous_raw=None):
    """The literal to store for a value typed by an admin (quotes optional), in the key's old style.

    Raises ValueError (with the reason) for anything invalid or anything the pool cannot hold.
    """
    if param.host_local_only:
        raise ValueError("%s is host-local: set it in /etc/ha-lizard/ha-lizard.conf" % param.name)
    text = user_text.strip()
    if text[:1] in ("'", '"', "("):
        text = values.parse_literal(text).text
    values.check_pool_text(text)
    value = param.validator(text)
    text = param.type.text(value)
    values.check_pool_text(text)
    style = (values.style_of(previous_raw) if previous_raw is not None else None) or param.style
    if param.type.is_list and style not in ("paren", "bare"):
        style = "bare"
    if not param.type.is_list and style == "paren":
        style = "bare"
    raw = values.format_literal(text, style)
    # Round trip: what we store must read back as exactly this value.
    if decode(param, raw) != value:
        raise ValueError("%s cannot be stored in the old format" % param.name)
    return raw


def validate_literal(param, raw):
    """Check a literal taken verbatim (backup files); returns the raw literal to store."""
    if param.host_local_only:
        raise ValueError("%s is host-local and cannot be restored into the pool" % param.name)
    values.check_pool_text(raw)
    decode(param, raw)
    return raw


def default_literal(param):
    """The literal `insert` writes: the old product's own format for each default (remembered like
    decode's values: the same for every build of the configuration)."""
    return _remembered(("default", param.type, param.default, param.style),
                       lambda: values.format_literal(param.default_text(), param.style))


def apply_changes(session, ref, changes):
    """Write `changes` (pool key -> raw literal, or None to remove) to the pool other_config.

    Only keys whose stored value differs are touched. If a write fails, keys
    already changed by this call are put back as they were, best effort.
    """
    current = session.xenapi.pool.get_other_config(ref)
    done = []
    try:
        for key, raw in changes.items():
            old = current.get(key)
            if old == raw:
                continue
            if old is not None:
                session.xenapi.pool.remove_from_other_config(ref, key)
            done.append((key, old))
            if raw is not None:
                session.xenapi.pool.add_to_other_config(ref, key, raw)
    except Exception:
        _rollback(session, ref, done)
        raise
    return [key for key, _old in done]


def set_parameters(session, parameters):
    """Store pool parameters {NAME: value} (pool other_config HA_<NAME>), each in the literal format
    already stored for it; ValueError for a value the parameter refuses. For tools that set many
    at once (the demo, the tests); `ha-cfg set` adds its own checks around encode/apply_changes."""
    ref, _uuid, other = read_other_config(session)
    changes = {}
    for name, value in parameters.items():
        param = schema.get_param(name)
        changes[param.pool_key] = encode(param, str(value), other.get(param.pool_key))
    apply_changes(session, ref, changes)
    return ref


def _rollback(session, ref, done):
    for key, old in reversed(done):
        try:
            session.xenapi.pool.remove_from_other_config(ref, key)
        except Exception:  # noqa: BLE001 - the key may not exist; continue restoring the rest
            pass
        if old is not None:
            try:
                session.xenapi.pool.add_to_other_config(ref, key, old)
            except Exception:  # noqa: BLE001 - best effort; the caller reports the original error
                pass


def flag_state(raw):
    """The FlagState of a XenCenter HA field value (None: missing)."""
    if raw is None:
        return FlagState.MISSING
    return FlagState(raw) if raw in TRUE_FALSE else FlagState.INVALID
