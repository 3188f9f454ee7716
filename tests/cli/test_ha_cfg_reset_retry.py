"""A reset from the master's socket right after a takeover: ha-cfg reads once more, then fails in one line.

The host's real xapi socket is moved aside and a relay takes its place: it
resets the first connections it gets (the peer closes with the request unread,
as a restarting xapi does) and forwards every later one to the real socket.
"""
import os
import socket
import threading

import pytest

from ha_cfg_run import run_ha_cfg as run

POOL = (2, 1)


class ResettingRelay:
    """Unix socket relay at `path` to `path`.real: resets the first `resets` connections."""

    def __init__(self, path, resets):
        self.path, self.real, self.resets = path, path + ".real", resets
        self.connections = 0
        os.rename(path, self.real)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections <= self.resets:
                self._reset(client)
                continue
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.real)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _reset(client):
        """Close once the whole request arrived, unread: the client's read gets ECONNRESET."""
        client.settimeout(5)
        seen = b"-"
        while seen and b"</methodCall>" not in seen:
            seen = client.recv(65536, socket.MSG_PEEK)
        client.close()

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()
        os.unlink(self.path)
        os.rename(self.real, self.path)


@pytest.fixture
def relay(pool):
    made = []

    def start(resets):
        made.append(ResettingRelay(os.path.join(pool.host("host2")["root"], "var/lib/xcp/xapi"), resets))
        return made[-1]

    yield start
    for one in made:
        one.close()


def test_one_reset_is_read_again(pool, relay):
    """Failed before the retry: exit 3, 'cannot reach the local xapi ...: Connection reset by peer'."""
    assert run(pool, "host1", "insert")[0] == 0
    shown = relay(resets=1)
    status, out, err = run(pool, "host2", "get", "-l", "MONITOR_DELAY")
    assert (status, err) == (0, ""), err
    assert out.startswith("MONITOR_DELAY=")
    assert shown.connections >= 2


def test_a_reset_on_every_try_is_one_line_exit_3(pool, relay):
    relay(resets=1000)
    status, out, err = run(pool, "host2", "ha-status")
    assert status == 3 and out == ""
    assert err.splitlines() == [err.strip()] and "Connection reset by peer" in err, err
