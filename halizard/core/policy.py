"""The typed, frozen view of the parameters the core decides with.

Built from a plain mapping of parameter values (`Policy.from_mapping`), so the
core never imports the configuration package: the config layer hands over
`EffectiveConfig.items()` (already typed) or the raw pool strings in the old
product's literal format (quotes kept, `:`-separated lists, `()` for empty).
Unknown names are ignored (LOG_*, MAIL_* ... belong to other layers); a bad
value raises PolicyError naming the parameter.

Defaults are those of behaviour.md section 1; the parameters added for the
new behaviour (VM_RESPECT_OPERATOR_STOP, VM_START_CONCURRENCY, SELF_FENCE_*,
VM_START_RETRY_*) are documented in docs/decisions.md.
"""


from dataclasses import dataclass, fields
from typing import Any, Mapping, Tuple


class PolicyError(ValueError):
    """A parameter value the core cannot use; the message names the parameter."""


FENCE_ACTIONS = ("start", "stop", "reset")
MIN_WATCHDOG = 5  # s: the service feeds the device every quarter of its timeout


@dataclass(frozen=True)
class Policy:
    """Every parameter a core decision reads, typed."""

    OP_MODE: int = 2
    GLOBAL_VM_HA: bool = True
    XC_FIELD_NAME: str = "ha-lizard-enabled"
    DISABLED_VAPPS: Tuple[str, ...] = ()
    MONITOR_DELAY: float = 15.0
    XE_TIMEOUT: float = 10.0
    XAPI_COUNT: int = 2
    XAPI_DELAY: float = 10.0
    SLAVE_HA: bool = True
    PROMOTE_SLAVE: bool = True
    SLAVE_VM_STAT: bool = False
    FENCE_ENABLED: bool = True
    FENCE_HA_ONFAIL: bool = False
    FENCE_METHOD: str = "POOL"
    FENCE_ACTION: str = "stop"
    FENCE_REBOOT_LONE_HOST: bool = False
    FENCE_HOST_FORGET: bool = False
    FENCE_MIN_HOSTS: int = 2
    FENCE_QUORUM_REQUIRED: bool = True
    FENCE_USE_IP_HEURISTICS: bool = True
    FENCE_HEURISTICS_IPS: Tuple[str, ...] = ()
    MGT_LINK_LOSS_TOLERANCE: float = 5.0
    HOST_SELECT_METHOD: int = 0
    VM_RESPECT_OPERATOR_STOP: bool = True
    VM_START_CONCURRENCY: int = 16
    # Self-fencing (docs/decisions.md, "The timing rule").
    SELF_FENCE_STOP_TIMEOUT: float = 30.0
    SELF_FENCE_CHECK_INTERVAL: float = 1.0
    SELF_FENCE_WAIT: float = 0.0  # 0 = derive from the self-fence deadline
    SELF_FENCE_WATCHDOG: float = 0.0  # 0 = off; else the watchdog device's timeout in seconds
    # The witness (docs/membership.md): its address ("" = none) and lease.
    WITNESS_ADDRESS: str = ""
    WITNESS_LEASE: float = 4.0
    # Back-off for a VM whose start keeps failing.
    VM_START_RETRY_BASE: float = 5.0
    VM_START_RETRY_CAP: float = 300.0
    VM_START_RETRY_ALERT_AFTER: int = 3

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "Policy":
        """Typed Policy from names -> values (typed or old-format strings)."""
        kwargs = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            kwargs[f.name] = _convert(f.name, f.default, values[f.name])
        policy = cls(**kwargs)
        policy.check_ranges()
        return policy

    def check_ranges(self) -> None:
        """Raise PolicyError for a value outside what the core can use."""
        self._check_choices()
        for names, bad, rule in _BOUNDS:
            for name in names:
                if bad(getattr(self, name)):
                    raise PolicyError("%s must %s, got %r" % (name, rule, getattr(self, name)))
        if 0 < self.SELF_FENCE_WATCHDOG < MIN_WATCHDOG or self.SELF_FENCE_WATCHDOG < 0:
            raise PolicyError("SELF_FENCE_WATCHDOG must be 0 (off) or at least %d, got %r"
                              % (MIN_WATCHDOG, self.SELF_FENCE_WATCHDOG))
        if self.VM_START_RETRY_CAP < self.VM_START_RETRY_BASE:
            raise PolicyError("VM_START_RETRY_CAP must be at least VM_START_RETRY_BASE")
        if not self.XC_FIELD_NAME:
            raise PolicyError("XC_FIELD_NAME must not be empty")

    def _check_choices(self) -> None:
        if self.OP_MODE not in (1, 2):
            raise PolicyError("OP_MODE must be 1 (appliances) or 2 (VMs), got %r" % self.OP_MODE)
        if self.HOST_SELECT_METHOD not in (0, 1):
            raise PolicyError("HOST_SELECT_METHOD must be 0 or 1, got %r" % self.HOST_SELECT_METHOD)
        if self.FENCE_ACTION not in FENCE_ACTIONS:
            raise PolicyError("FENCE_ACTION must be one of start, stop, reset, got %r" % self.FENCE_ACTION)

    @property
    def fences_by_agent(self) -> bool:
        """True when fencing calls an agent that can verify a power-off (not POOL)."""
        return self.FENCE_ENABLED and self.FENCE_METHOD.upper() != "POOL"

    @property
    def ha_field_key(self) -> str:
        """The other_config key of the XenCenter HA field."""
        return "XenCenter.CustomFields." + self.XC_FIELD_NAME

    @property
    def witness_configured(self) -> bool:
        """True when a witness vote exists in this pool."""
        return bool(self.WITNESS_ADDRESS)

    @property
    def heuristics_configured(self) -> bool:
        """True when a heuristic vote can exist at all."""
        return self.FENCE_USE_IP_HEURISTICS and bool(self.FENCE_HEURISTICS_IPS)


# (names, test that a value is out of range, the rule the message states): checked in this order
_BOUNDS = (
    (("XAPI_COUNT", "FENCE_MIN_HOSTS", "VM_START_CONCURRENCY", "VM_START_RETRY_ALERT_AFTER"),
     lambda v: v < 1, "be at least 1"),
    (("MONITOR_DELAY", "XE_TIMEOUT", "XAPI_DELAY", "SELF_FENCE_STOP_TIMEOUT", "SELF_FENCE_CHECK_INTERVAL",
      "VM_START_RETRY_BASE", "WITNESS_LEASE"), lambda v: v <= 0, "be greater than 0"),
    (("MGT_LINK_LOSS_TOLERANCE", "SELF_FENCE_WAIT"), lambda v: v < 0, "not be negative"),
)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and _unquote(value) in ("0", "1"):
        return _unquote(value) == "1"
    raise ValueError("expected 0 or 1")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(_unquote(value), 10)
    raise ValueError("expected an integer")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        result = float(_unquote(value))
    else:
        raise ValueError("expected a number")
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    return result


def _to_list(value: Any) -> Tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    elif isinstance(value, str):
        text = _unquote(value)
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1]
        items = text.replace(",", ":").replace(" ", ":").split(":")
    else:
        raise ValueError("expected a list")
    return tuple(i for i in (x.strip() for x in items) if i)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return _unquote(value)
    raise ValueError("expected text")


# A parameter's value is converted to the type of its default (anything else is text)
_CONVERT = {bool: _to_bool, int: _to_int, float: _to_float, tuple: _to_list}


def _convert(name: str, default: Any, value: Any) -> Any:
    try:
        return _CONVERT.get(type(default), _to_text)(value)
    except (TypeError, ValueError) as exc:
        raise PolicyError("%s: invalid value %r (%s)" % (name, value, exc)) from None
