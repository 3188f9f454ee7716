"""Many peers probed at once: time is that of the slowest peer, not the sum."""
import threading
import time

import pytest

from halizard.probes.net import ProbeTarget
from halizard.probes.parallel import Peer, Round, probe_peer, probe_peers

U = "00000000-0000-0000-0000-00000000000%d"


def peer(n, server=None, port=None):
    xapi = server.url if server is not None else "http://127.0.0.1:%d/" % port
    return Peer(U % n, "127.0.0.1", xapi_address=xapi)


# A try gives half its time to the network probe (a `ping` subprocess) and the rest to the login, whose
# fake xapi shares this process's interpreter: on a loaded 2-core machine 2 s per try (about 1 s for the
# login) was not always enough. An answering peer returns at once, so a long try costs nothing here.
ANSWERING_TRY = 10.0


def test_slave_answering_is_healthy_in_one_try(fake_xapi):
    result = probe_peer(peer(1, fake_xapi("slave")), Round(tries=3, delay=5, try_timeout=ANSWERING_TRY))
    assert result.xapi_ok and result.tries == 1 and result.network_ok is True
    assert result.first_failure_at is None and result.xapi_state == "slave"


def test_hung_peers_are_probed_in_parallel_with_all_tries(fake_xapi, closed_port):
    peers = [peer(n, fake_xapi("hang")) for n in range(1, 5)]
    peers.append(peer(5, port=closed_port))
    peers.append(peer(6, fake_xapi("slave")))
    clock = iter(range(1000, 2000))
    started = time.monotonic()
    # 2 s tries: 0.6 s (0.3 s for the ping) failed the answering peer and the ping of loopback under load
    results = probe_peers(peers, Round(tries=2, delay=0.3, try_timeout=2.0, now=lambda: next(clock)))
    took = time.monotonic() - started
    serial = 4 * (2 * 2.0 + 0.3)
    assert took < serial * 0.75, "took %.2fs: not parallel" % took
    assert set(results) == {U % n for n in range(1, 7)}
    for n in range(1, 6):
        probe = results[U % n]
        assert not probe.xapi_ok and probe.tries == 2 and probe.first_failure_at is not None
        assert probe.network_ok is True  # 127.0.0.1 pings; only xapi is dead
    assert results[U % 5].xapi_state == "unreachable"
    assert results[U % 1].xapi_state == "timeout"
    assert results[U % 6].xapi_ok


def test_network_unreachable_is_recorded(fake_xapi, closed_port):
    target = ProbeTarget("127.0.0.1", method="tcp", port=closed_port)
    result = probe_peer(Peer(U % 1, "127.0.0.1", target=target, xapi_address="http://127.0.0.1:%d/" % closed_port),
                        Round(tries=2, delay=0.05, try_timeout=1))
    assert result.network_ok is False and not result.xapi_ok and result.tries == 2


def test_as_core_matches_the_core_probe_result(fake_xapi):
    from halizard.core import health as core
    result = probe_peer(peer(1, fake_xapi("booting")), Round(tries=1, delay=0, try_timeout=1))
    converted = result.as_core()
    assert isinstance(converted, core.ProbeResult)
    assert (converted.tries, converted.xapi_ok, converted.network_ok) == (1, False, True)
    assert converted.first_failure_at == result.first_failure_at
    assert result.as_core(streak_started_at=5.0).first_failure_at == 5.0


def test_as_core_ends_the_streak_when_xapi_answers(fake_xapi):
    result = probe_peer(peer(1, fake_xapi("slave")), Round(tries=1, delay=0, try_timeout=ANSWERING_TRY))
    assert result.as_core(streak_started_at=5.0).first_failure_at is None


def test_round_deadline_cuts_tries_short(fake_xapi):
    server = fake_xapi("hang")
    started = time.monotonic()
    result = probe_peer(peer(1, server), Round(tries=5, delay=0.2, try_timeout=0.5,
                                               deadline=time.monotonic() + 1.0))
    assert result.tries < 5 and not result.xapi_ok
    assert time.monotonic() - started < 3


def test_stop_event_ends_the_round(fake_xapi, closed_port):
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    result = probe_peer(peer(1, port=closed_port), Round(tries=3, delay=30, try_timeout=1, stop=stop))
    assert result.tries == 1 and time.monotonic() - started < 5


def test_recovery_on_second_try_clears_failure(fake_xapi):
    server = fake_xapi("booting")

    def answer_after_the_first_login():
        # not a fixed timer: under load the first try's ping alone could outlast it
        deadline = time.monotonic() + 20
        while not server.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.0)  # the first login is answered by now; the second try comes 2 s later
        server.mode = "slave"
    threading.Thread(target=answer_after_the_first_login, daemon=True).start()
    result = probe_peer(peer(1, server), Round(tries=3, delay=2.0, try_timeout=ANSWERING_TRY))
    assert result.xapi_ok and result.tries == 2 and result.first_failure_at is None


def test_bad_arguments():
    with pytest.raises(ValueError):
        probe_peer(Peer(U % 1, "127.0.0.1"), Round(tries=0, delay=1, try_timeout=1))
