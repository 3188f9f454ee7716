"""The outcome enums (issue 18) keep the words the product always wrote: equal to them, printed as
them, stored as them; only a member's `.value` goes to XAPI (xmlrpc refuses a str subclass)."""
import json
import xmlrpc.client

import pytest

from core_builders import policy
from halizard.config.pool_store import FlagState, flag_state
from halizard.core import fencing, health, roles, vm_plan
from halizard.core import takeover as T
from halizard.core.health import ProbeResult
from halizard.core.strenum import StrEnum


class Colour(StrEnum):
    RED = "red"


def test_a_member_is_its_word_everywhere_but_xmlrpc():
    assert Colour.RED == "red" and Colour("red") is Colour.RED and {"red": 1}[Colour.RED] == 1
    assert str(Colour.RED) == "red" and "%s" % Colour.RED == "red"
    assert "{}|{:>5}".format(Colour.RED, Colour.RED) == "red|  red"
    assert json.dumps({Colour.RED: [Colour.RED]}) == '{"red": ["red"]}'
    assert json.dumps([Colour.RED], indent=1) == '[\n "red"\n]'
    assert type(Colour.RED.value) is str and xmlrpc.client.dumps((Colour.RED.value,))
    with pytest.raises(TypeError):
        xmlrpc.client.dumps((Colour.RED,))


@pytest.mark.parametrize("enum, words", [
    (health.Health, ["healthy", "failed", "unknown"]),
    (fencing.FenceOutcome, ["verified", "failed", "unknown"]),
    (fencing.PowerState, ["off", "on", "reset", "unknown", "failed", "unproven"]),
    (T.Phase, ["idle", "tie-wait", "fencing", "await-deadline", "transition", "await-master", "recover-slaves",
               "release", "restart", "done", "suspended", "failed"]),
    (T.Result, ["ok", "failed", "aborted", "refused"]),
    (health.Login, ["master", "slave", "refused", "timeout", "unreachable", "garbage"]),
    (roles.Conflict, ["alone", "recover", "stand_down"]),
    (FlagState, ["true", "false", "missing", "invalid"]),
    (vm_plan.Reason, ["will-start", "running", "control-domain", "template", "snapshot", "not-halted",
                      "operation-in-progress", "mode", "field-false", "field-missing", "field-invalid",
                      "home-pool-missing", "home-pool-mismatch", "operator-stop", "appliance-disabled",
                      "appliance-start", "no-capacity", "backing-off", "pool-ha-off"]),
])
def test_the_words_are_the_ones_stored_before(enum, words):
    assert [m.value for m in enum] == words


def test_verdicts_and_fence_outcomes_are_members():
    p = policy()
    assert health.classify(None, p).state is health.Health.UNKNOWN
    assert health.classify(ProbeResult(tries=1, xapi_ok=True), p).state is health.Health.HEALTHY
    assert fencing.outcome_of(True, "off") is fencing.FenceOutcome.VERIFIED
    assert [flag_state(raw) for raw in ("true", "false", None, "yes")] == list(FlagState)
    assert fencing.FenceOutcome.parse("unknown") is fencing.FenceOutcome.UNKNOWN
    assert fencing.FenceOutcome.parse(None) is None
    with pytest.raises(ValueError, match="'maybe' is not a valid FenceOutcome"):
        fencing.FenceOutcome.parse("maybe")


def test_the_takeover_state_file_keeps_its_words_and_reads_back_members():
    state = T.TakeoverState(phase=T.Phase.AWAIT_DEADLINE, master_uuid="h1",
                            fence_outcome=fencing.FenceOutcome.FAILED, wait_until=5.0)
    plain = T.state_to_plain(state)
    assert json.dumps(plain) == (  # byte for byte what the state file held before the enums
        '{"phase": "await-deadline", "master_uuid": "h1", "fence_outcome": "failed", "proof": null, '
        '"recover_attempts": 0, "wait_until": 5.0}')
    assert all(type(v) is not T.Phase and type(v) is not fencing.FenceOutcome for v in plain.values())
    back = T.state_from_plain(json.loads(json.dumps(plain)))
    assert back == state and back.phase is T.Phase.AWAIT_DEADLINE and back.fence_outcome is fencing.FENCE_FAILED
    for bad in ({"phase": "sleeping"}, {"phase": "idle", "fence_outcome": "maybe"}, {"phase": ["idle"]},
                {"phase": "idle", "proof": "hearsay"}, {}, ["idle"]):
        with pytest.raises(ValueError):
            T.state_from_plain(bad)
