"""Refuse an unsafe configuration, and say it once.

Why one helper: every HA job (VM protection, the master cycle and watch,
the takeover, the slave recovery, self-fencing) must refuse to act on a
configuration whose policy() raises (docs/timing.md), and each must say so
the same way: one ERROR line when its refusal starts or its reason
changes, DEBUG while it lasts, one INFO line when it acts again. What was
said is kept per job in one state file (STATE), so a job run every few
seconds does not repeat itself and `ha-lizard metrics` can tell that some
job refuses.
"""
from halizard.config.effective import UnsafeConfig
from halizard.core.policy import PolicyError

STATE = "refusals"   # {who: the refusal said last} while each refuses


def why_unsafe(config):
    """Why HA must not act on `config` (its policy() raises UnsafeConfig or PolicyError), or None."""
    try:
        config.policy()
    except (UnsafeConfig, PolicyError) as exc:
        return str(exc)
    return None


def say(state, log, who, why):
    """Say once that `who` refuses (`why`: the whole sentence) or acts again (`why` None); returns `why`.

    state: a statefiles.StateStore (or anything with read and update); log: a loguru logger.
    """
    said = state.read(STATE, {}) or {}
    before = said.get(who) if isinstance(said, dict) else None
    if why is None:
        if before is not None:
            log.info("{} acts again: the configuration is safe", who)
            state.update(STATE, lambda current: _set(current, who, None), {})
        return None
    if before == why:
        log.debug("{}", why)
        return why
    log.error("{}", why)
    state.update(STATE, lambda current: _set(current, who, why), {})
    return why


def refusing(state):
    """True while some job refuses to act on this host's configuration."""
    said = state.read(STATE, {}) or {}
    return isinstance(said, dict) and any(said.values())


def checked_policy(config, state, log, who, refuses):
    """(Policy, None), or (None, why) when HA must not act on `config`: "<who> <refuses>: <reason>", said once."""
    try:
        policy = config.policy()
    except (UnsafeConfig, PolicyError) as exc:
        return None, say(state, log, who, "%s %s: %s" % (who, refuses, exc))
    say(state, log, who, None)
    return policy, None


def _set(current, who, why):
    current = dict(current) if isinstance(current, dict) else {}
    if why is None:
        current.pop(who, None)
    else:
        current[who] = why
    return current
