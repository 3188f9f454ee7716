"""The witness service and its client over real loopback TCP: votes, replays, restarts, bad input."""
import socket
import subprocess
import sys
import threading
import time

import pytest

from halizard.probes import witness as client
from halizard.probes.deadline import after
from halizard.witness import protocol, server

SECRET = b"s3cret-for-tests"


@pytest.fixture
def running(tmp_path):
    started = []

    def start(margin=0.5, max_lease=2.0, secret=SECRET):
        w = server.WitnessServer(("127.0.0.1", 0), secret, str(tmp_path / "witness.json"), margin=margin,
                                 max_lease=max_lease)
        threading.Thread(target=w.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(w)
        return w, "127.0.0.1:%d" % w.server_address[1]

    yield start
    for w in started:
        w.close()


def ask(address, host, secret=SECRET, lease=1.0, seconds=2.0):
    return client.ask(client.Witness(address, secret), "pool-1", host, lease, after(seconds))


def test_one_side_at_a_time_then_the_other_after_expiry_and_margin(running):
    w, address = running(margin=0.3)
    first = ask(address, "h1")
    assert first.held_until is not None and first.held_until <= time.monotonic() + 1.0
    refused = ask(address, "h2")
    assert refused.held_until is None and refused.holder == "h1"
    limit = time.monotonic() + 5.0
    while time.monotonic() < limit:
        vote = ask(address, "h2")
        if vote.held_until is not None:
            break
        time.sleep(0.05)
    # h2 got it no earlier than h1's lease plus the margin after h1's grant
    assert vote.held_until is not None and time.monotonic() >= first.held_until + 0.3
    assert ask(address, "h1").held_until is None


def test_restarted_witness_keeps_the_vote_away_from_the_other_side(running):
    w, address = running(margin=0.2, max_lease=1.5)
    assert ask(address, "h1", lease=1.5).held_until is not None
    w.restart()  # as a fresh process reading its state file
    assert ask(address, "h2").held_until is None
    assert ask(address, "h1").held_until is not None  # the recorded holder renews at once


def test_restart_hold_survives_a_new_process_from_the_state_file(running, tmp_path):
    w, address = running(margin=0.2, max_lease=1.5)
    assert ask(address, "h1").held_until is not None
    w.close()
    _, address2 = running(margin=0.2, max_lease=1.5)
    assert ask(address2, "h2").held_until is None


def test_replayed_request_is_refused(running):
    _, address = running()
    host, port = protocol.split_address(address)
    line = protocol.encode(SECRET, protocol.lease_request("pool-1", "h1", 1.0, time.time(), "n-1"))
    answers = []
    for _ in range(2):
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(line)
            answers.append(protocol.decode(SECRET, protocol.read_line(sock, after(2))))
    assert answers[0]["granted"] is True
    assert answers[1]["granted"] is False and "replayed" in answers[1]["error"]


def test_stale_timestamp_is_refused(running):
    _, address = running()
    host, port = protocol.split_address(address)
    line = protocol.encode(SECRET, protocol.lease_request("pool-1", "h1", 1.0, time.time() - 3600, "n-2"))
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(line)
        answer = protocol.decode(SECRET, protocol.read_line(sock, after(2)))
    assert answer["granted"] is False and "timestamp" in answer["error"]


def test_wrong_secret_is_no_vote_with_one_line(running, caplog_lines):
    _, address = running()
    vote = ask(address, "h1", secret=b"not-the-secret")
    assert vote.held_until is None and "authentication failed" in vote.why
    assert len([r for r in caplog_lines() if "no vote" in r]) == 1


def _fake_server(reply):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            if reply is not None:
                conn.sendall(reply)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, "127.0.0.1:%d" % listener.getsockname()[1]


@pytest.mark.parametrize("reply,why", [(b"garbage\n", "not a JSON message"),
                                       (b'{"granted": true, "lease": 9}\n', "not a signed message"),
                                       (b"x" * 5000, "longer than")])
def test_garbage_answer_is_no_vote(reply, why, caplog_lines):
    listener, address = _fake_server(reply)
    try:
        vote = ask(address, "h1")
    finally:
        listener.close()
    assert vote.held_until is None and why in vote.why
    assert len([r for r in caplog_lines() if "no vote" in r]) == 1


def test_hanging_witness_is_no_vote_within_the_deadline(caplog_lines):
    listener, address = _fake_server(None)
    started = time.monotonic()
    try:
        vote = ask(address, "h1", seconds=0.5)
    finally:
        listener.close()
    assert vote.held_until is None and vote.why == "no answer in time"
    assert time.monotonic() - started < 1.5


def test_unreachable_and_malformed_addresses_are_no_vote(caplog_lines):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    assert ask("127.0.0.1:%d" % port, "h1").why.startswith("unreachable")
    assert "host:port" in ask("127.0.0.1", "h1").why
    assert len([r for r in caplog_lines() if "no vote" in r]) == 2


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "halizard.cli.ha_lizard", "witness"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30)


def test_cli_refuses_bad_input_with_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    state = str(tmp_path / "w.json")
    cases = [
        (["--listen", "127.0.0.1", "--secret-file", str(empty), "--state-file", state], 2, "host:port"),
        (["--listen", "127.0.0.1:0", "--secret-file", str(tmp_path / "missing"), "--state-file", state], 1,
         "cannot read secret file"),
        (["--listen", "127.0.0.1:0", "--secret-file", str(empty), "--state-file", state], 1, "is empty"),
        (["--listen", "127.0.0.1:0", "--secret-file", str(empty), "--state-file", str(tmp_path / "w.txt")], 1,
         None),
    ]
    for args, code, text in cases:
        done = _cli(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == code, (args, done.stderr)
        assert len(lines) == 1 and (text is None or text in lines[0]), done.stderr
    assert not (tmp_path / "w.json").exists()


def test_cli_serves_and_stops_on_sigterm(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("abc123\n")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    proc = subprocess.Popen([sys.executable, "-m", "halizard.cli.ha_lizard", "witness", "--listen",
                             "127.0.0.1:%d" % port, "--secret-file", str(secret), "--state-file",
                             str(tmp_path / "w.json")], stderr=subprocess.PIPE, universal_newlines=True)
    try:
        limit = time.monotonic() + 20
        vote = None
        while time.monotonic() < limit:
            vote = client.ask(client.Witness("127.0.0.1:%d" % port, b"abc123"), "p", "h1", 1.0, after(1))
            if vote.held_until is not None:
                break
            time.sleep(0.1)
        assert vote is not None and vote.held_until is not None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "abc123" not in err


def test_cli_after_global_options_is_the_witness_too():
    done = subprocess.run([sys.executable, "-m", "halizard.cli.ha_lizard", "--root", "/nonexistent", "witness",
                           "--listen", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30)
    assert done.returncode == 2 and done.stderr.startswith("ha-lizard witness: ")
