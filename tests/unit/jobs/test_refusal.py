"""config.refusal: one way to refuse an unsafe configuration and say it once, per job."""
from halizard.config import refusal
from halizard.config.effective import build_effective
from halizard.statefiles import StateStore
from recording_log import RecordingLog

SAFE = {"HA_XE_TIMEOUT": "5", "HA_MONITOR_DELAY": "2", "HA_XAPI_COUNT": "2", "HA_XAPI_DELAY": "1",
        "HA_FENCE_METHOD": "XVM", "HA_FENCE_IPADDRESS": "127.0.0.1"}
UNSAFE = dict(SAFE, HA_SELF_FENCE_WAIT="1")


def _config(values):
    return build_effective(values, {}, hostname="host1")


def test_a_refusal_is_one_error_while_it_lasts_then_one_info(tmp_path):
    store, log = StateStore(str(tmp_path)), RecordingLog()
    for _ in range(3):
        policy, why = refusal.checked_policy(_config(UNSAFE), store, log, "VM protection", "refuses to start VMs")
        assert policy is None and why.startswith("VM protection refuses to start VMs: ") and "SELF_FENCE_WAIT" in why
    assert len(log.at("ERROR")) == 1 and refusal.refusing(store)
    policy, why = refusal.checked_policy(_config(SAFE), store, log, "VM protection", "refuses to start VMs")
    assert policy is not None and why is None and not refusal.refusing(store)
    refusal.checked_policy(_config(SAFE), store, log, "VM protection", "refuses to start VMs")
    assert log.at("INFO") == ["VM protection acts again: the configuration is safe"]


def test_a_changed_reason_is_said_again_and_each_job_says_its_own(tmp_path):
    store, log = StateStore(str(tmp_path)), RecordingLog()
    refusal.say(store, log, "takeover", "takeover refused: a")
    refusal.say(store, log, "self-fence", "self-fence refuses to act: a")
    refusal.say(store, log, "takeover", "takeover refused: b")
    assert len(log.at("ERROR")) == 3
    refusal.say(store, log, "takeover", None)
    assert refusal.refusing(store)  # self-fence still refuses
    assert store.read(refusal.STATE) == {"self-fence": "self-fence refuses to act: a"}


def test_why_unsafe_names_the_reason_or_none():
    assert "SELF_FENCE_WAIT" in refusal.why_unsafe(_config(UNSAFE))
    assert refusal.why_unsafe(_config(SAFE)) is None
