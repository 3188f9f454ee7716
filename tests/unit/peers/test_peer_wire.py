"""The peer query's datagrams (halizard.peers.wire) and its server and client over real loopback UDP:
only an authentic answer to this very query from the host asked counts; everything else is no answer."""
import socket
import threading
import time

import pytest

from halizard import paths, signing
from halizard.core.peers import PeerAnswer
from halizard.peers import client, server, wire

KEY = b"k" * 32
NONCE = "00112233445566778899aabbccddeeff"


def test_an_answer_round_trips():
    data = wire.answer(KEY, NONCE, "host-s", False, "127.9.9.1", 1.25)
    assert wire.read_answer(KEY, data, NONCE, "host-s") == PeerAnswer("host-s", False, "127.9.9.1", 1.25)
    never = wire.read_answer(KEY, wire.answer(KEY, NONCE, "m", True, "", None), NONCE, "m")
    assert never.is_master and never.master_age is None and never.votes
    voteless = wire.read_answer(KEY, wire.answer(KEY, NONCE, "s", False, "a", 3.0, votes=False), NONCE, "s")
    assert voteless.votes is False
    older = signing.sign(KEY, {"op": "master", "nonce": NONCE, "host": "s", "role": "slave", "master": "a",
                               "age": 1}, wire.VERSION)  # an answer from before "vote": counts as voting
    assert wire.read_answer(KEY, older, NONCE, "s").votes is True


@pytest.mark.parametrize("data, why", [
    (wire.answer(b"x" * 32, NONCE, "host-s", False, "a", 1.0), "authentication failed"),
    (wire.answer(KEY, "ffff", "host-s", False, "a", 1.0), "not for this query"),
    (wire.answer(KEY, NONCE, "host-t", False, "a", 1.0), "comes from"),
    (wire.query(KEY, NONCE, "host-s"), "not a 'master' message"),
    (b"garbage\xff", "not a JSON message"),
    (b"{}", "not a signed message"),
    (b"{" + b" " * wire.MAX_DATAGRAM + b"}", "longer than"),
    (signing.sign(KEY, {"op": "master", "nonce": NONCE, "host": "host-s", "role": "slave", "master": "a",
                        "age": -1}, wire.VERSION), "bad age"),
    (signing.sign(KEY, {"op": "master", "nonce": NONCE, "host": "host-s", "role": "slave", "master": "a",
                        "age": 1, "vote": "yes"}, wire.VERSION), "bad vote"),
    (signing.sign(KEY, {"op": "master", "nonce": NONCE, "host": "host-s", "role": "boss", "master": "a",
                        "age": 1}, wire.VERSION), "bad role"),
    (signing.sign(KEY, {"op": "master", "nonce": NONCE, "host": "host-s", "role": "slave", "master": "a",
                        "age": 1}, 2), "protocol version"),
])
def test_what_is_not_an_answer(data, why):
    with pytest.raises(wire.WireError, match=why):
        wire.read_answer(KEY, data, NONCE, "host-s")


def test_an_altered_answer_is_refused():
    data = wire.answer(KEY, NONCE, "host-s", False, "127.9.9.1", 100.0).replace(b"100.0", b"900.0")
    with pytest.raises(wire.WireError, match="authentication failed"):
        wire.read_answer(KEY, data, NONCE, "host-s")


def test_the_key_derives_from_the_pool_secret_and_is_not_the_secret(tmp_path):
    target = paths.under(str(tmp_path), paths.POOL_SECRET)
    with pytest.raises(wire.WireError, match="cannot read secret file"):
        wire.pool_key(str(tmp_path))
    import os
    os.makedirs(os.path.dirname(target))
    with open(target, "w") as handle:
        handle.write("a-pool-secret-of-xapi\n")
    key = wire.pool_key(str(tmp_path))
    assert key == wire.pool_key(str(tmp_path)) and len(key) == 32 and b"a-pool-secret" not in key


class Log(object):
    def __init__(self):
        self.lines = []

    def warning(self, text, *args):
        self.lines.append(text.format(*args))

    debug = warning


def _serving(answer_for, gate=None, log=None):
    responder = server.Responder(KEY, "127.0.0.1", 0, answer_for, gate=gate, log=log)
    stop = time.monotonic() + 5.0
    thread = threading.Thread(target=responder.serve, args=(stop,), daemon=True)
    thread.start()
    return responder, responder.sock.getsockname()[1]


def test_the_client_gets_every_answer_at_once_and_none_from_a_silent_peer():
    responder, port = _serving(lambda: ("host-s", False, "127.9.9.1", 0.5, True))
    try:
        # host-t's address answers nothing on that port (no server): no answer, within the deadline
        began = time.monotonic()
        answers = client.ask([("host-s", "127.0.0.1"), ("host-t", "127.0.0.2")], port, KEY, "host-y",
                             time.monotonic() + 1.0)
        assert time.monotonic() - began < 2.0
        assert answers["host-s"] == PeerAnswer("host-s", False, "127.9.9.1", 0.5)
        assert answers["host-t"] is None
    finally:
        responder.close()


def test_a_wrong_host_or_key_is_no_answer():
    responder, port = _serving(lambda: ("host-x", False, "127.9.9.1", 0.5, True))
    try:
        assert client.ask([("host-s", "127.0.0.1")], port, KEY, "y", time.monotonic() + 0.5) == {"host-s": None}
        assert client.ask([("host-x", "127.0.0.1")], port, b"o" * 32, "y", time.monotonic() + 0.5) == {"host-x": None}
    finally:
        responder.close()


def test_the_server_drops_garbage_and_oversized_with_a_rate_limited_line_and_keeps_answering():
    log = Log()
    responder, port = _serving(lambda: ("host-s", False, "m", None, True), log=log)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for data in (b"garbage", b"x" * (wire.MAX_DATAGRAM + 50), b"garbage", wire.query(b"z" * 32, NONCE, "y")):
            sock.sendto(data, ("127.0.0.1", port))
        sock.close()
        answers = client.ask([("host-s", "127.0.0.1")], port, KEY, "y", time.monotonic() + 1.0)
        assert answers["host-s"] == PeerAnswer("host-s", False, "m", None)
        assert len([x for x in log.lines if "not a JSON message" in x]) == 1  # the second one is counted, not said
        assert any("longer than" in x for x in log.lines) and any("authentication failed" in x for x in log.lines)
    finally:
        responder.close()


def test_a_sender_the_network_would_not_carry_gets_nothing():
    responder, port = _serving(lambda: ("host-s", False, "m", 1.0, True), gate=lambda sender: False)
    try:
        assert client.ask([("host-s", "127.0.0.1")], port, KEY, "y", time.monotonic() + 0.5) == {"host-s": None}
    finally:
        responder.close()


def test_a_host_that_cannot_say_what_it_knows_does_not_answer():
    def broken():
        raise OSError("pool.conf unreadable")
    log = Log()
    responder, port = _serving(broken, log=log)
    try:
        assert client.ask([("host-s", "127.0.0.1")], port, KEY, "y", time.monotonic() + 0.5) == {"host-s": None}
        assert any("cannot answer" in x for x in log.lines)
    finally:
        responder.close()


def test_without_an_address_it_answers_on_every_address():
    responder = server.Responder(KEY, None, 0, lambda: ("host-s", False, "m", 3.0, True))
    threading.Thread(target=responder.serve, args=(time.monotonic() + 5.0,), daemon=True).start()
    try:
        port = responder.sock.getsockname()[1]
        for address in ("127.0.0.1", "127.0.0.5"):
            answers = client.ask([("host-s", address)], port, KEY, "y", time.monotonic() + 1.0)
            assert answers["host-s"] == PeerAnswer("host-s", False, "m", 3.0)
    finally:
        responder.close()
