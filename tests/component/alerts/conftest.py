"""Fixtures for the alert component tests: a certificate and real SMTP servers on loopback."""
import pytest

from alerts_smtp_server import IMPLICIT_HOSTS, PASSWORD, USER, SmtpServer, make_certificate


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    return make_certificate(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def trust(certificate, monkeypatch):
    """Make the client trust the test certificate (the standard SSL_CERT_FILE variable)."""
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    return certificate[0]


@pytest.fixture
def smtp_factory(certificate):
    servers = []

    def start(mode="starttls", user=USER, password=PASSWORD, port=0, host=None, mechanisms=None):
        if host is None and port == 465:
            return _start_on_465(mode, user, password)
        server = SmtpServer(mode=mode, cert=certificate, user=user, password=password, port=port,
                            host=host or "127.0.0.1", mechanisms=mechanisms).start()
        servers.append(server)
        return server

    def _start_on_465(mode, user, password):
        last = None
        for address in IMPLICIT_HOSTS:
            try:
                return start(mode, user, password, 465, address)
            except OSError as exc:  # that address's 465 is taken: try the next one
                last = exc
        raise last

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sim_hosts(inproc_pool):
    """A 3-host simulated pool (in this process) whose host roots can log in (pool.json written)."""
    from halizard.sim.daemon import write_pool_file

    pool = inproc_pool(hosts=3, vms=2)
    write_pool_file(pool.dir, pool.json)
    return pool
