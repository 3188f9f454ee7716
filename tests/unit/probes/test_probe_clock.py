"""probes.clock.to_wall: boot-clock instants shown to people as wall time (the incident journal)."""
import time

from halizard.probes import clock


def test_a_boot_clock_instant_maps_to_the_wall_time_it_happened():
    # the journal read a boot-clock first_failure_at as a Unix time: host-failed sorted before 1970
    ten_seconds_ago = clock.now() - 10.0
    assert abs(clock.to_wall(ten_seconds_ago) - (time.time() - 10.0)) < 1.0
