"""jobs/witness.held: the recorded lease counts only while both of its deadlines are ahead."""
import time

from halizard.core.policy import Policy
from halizard.jobs import witness
from halizard.statefiles import StateStore

POLICY = Policy(WITNESS_ADDRESS="127.0.0.1:5405")


def _store(tmp_path, **fields):
    store = StateStore(directory=str(tmp_path))
    record = {"address": "127.0.0.1:5405", "held_until": time.monotonic() + 3, "held_until_wall": time.time() + 3}
    record.update(fields)
    store.write(witness.STATE, record)
    return store


def test_no_witness_is_none_and_a_fresh_lease_is_held(tmp_path):
    store = _store(tmp_path)
    assert witness.held(store, Policy()) is None
    assert witness.held(store, POLICY) is True


def test_expired_missing_or_foreign_leases_are_not_held(tmp_path):
    assert witness.held(StateStore(directory=str(tmp_path / "empty")), POLICY) is False
    assert witness.held(_store(tmp_path, held_until=time.monotonic() - 1), POLICY) is False
    # a lease recorded before a reboot: its monotonic deadline may look ahead, its wall-clock one is past
    assert witness.held(_store(tmp_path, held_until_wall=time.time() - 100), POLICY) is False
    assert witness.held(_store(tmp_path, address="127.0.0.2:5405"), POLICY) is False
    assert witness.held(_store(tmp_path, held_until=None), POLICY) is False
