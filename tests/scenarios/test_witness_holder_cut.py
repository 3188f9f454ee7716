"""Issue 14, the lost VM of test_witness_2host's master-alone partition, made deterministic: the master
(host1) holds the witness's lease when it is cut off from host2 and the witness. For up to the lease,
host1 keeps 2 of 3 votes and host2 has 1 of 3; host2 must still end up running every VM once."""
import pytest

import harness
from harness import vms_on
from test_witness_2host import SHORT, _holder, _pool, _wait

scenario = harness.scenario_fixture()


def _make_host1_the_holder(sc):
    if _holder(sc) == "host1":
        return
    sc.pool.fault("cut", "host2", "witness")
    sc.wait_until(lambda: _holder(sc) == "host1", 30, interval=0.2, message="host1 getting the witness's lease")
    sc.pool.fault("heal")


@pytest.mark.timeout(300)
@pytest.mark.slow
def test_partition_cuts_off_the_lease_holding_master(scenario):
    sc = _pool(scenario)
    _make_host1_the_holder(sc)
    sc.wait_until(lambda: all(not (sc.supervisor(n).state("self-fence") or {}).get("stopping_since")
                              for n in ("host1", "host2")), 30, interval=0.3, message="no self-fence after the heal")
    victims = vms_on(sc, "host1")
    own = vms_on(sc, "host2")
    assert victims and own
    sc.pool.fault("partition", "host1", "host2,witness")
    for vm in victims + own:
        sc.wait_vm_running(vm, _wait(SHORT) + 40, where="host2")
    sc.check_final()
