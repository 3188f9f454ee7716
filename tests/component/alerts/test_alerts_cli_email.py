"""`ha-cfg email` / `email_debug` run for real (console script, subprocess) against a loopback SMTP server.

The host root has no XAPI credentials, so ha-cfg uses the cached pool
configuration, exactly as on a host whose master is down.
"""
import base64
import os
import subprocess
import sys

from alerts_smtp_server import PASSWORD, USER

from halizard.config import effective


def ha_cfg(root, *args, env=None):
    script = os.path.join(os.path.dirname(sys.executable), "ha-cfg")
    return subprocess.run([script, "--root", root] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, env=env, check=False)


def prepare(tmp_path, server, **pool_values):
    root = str(tmp_path / "host")
    values = {"HA_SMTP_SERVER": server.host if server else "127.0.0.1",
              "HA_SMTP_PORT": str(server.port if server else 1), "HA_SMTP_USER": USER, "HA_SMTP_PASS": PASSWORD,
              "HA_MAIL_FROM": "ha@localhost", "HA_MAIL_TO": "ops@localhost"}
    values.update(pool_values)
    effective.save_pool_cache(root, "00000000-0000-0000-0000-000000000001", values)
    return root


def test_email_sends_a_test_mail_and_exits_0(smtp_factory, trust, tmp_path):
    server = smtp_factory("starttls")
    root = prepare(tmp_path, server)
    result = ha_cfg(root, "email")
    assert result.returncode == 0, result.stderr
    assert "accepted" in result.stdout and "ops@localhost" in result.stdout
    assert len(server.received) == 1
    message = server.received[0]["message"]
    assert "test alert" in message.get_body(preferencelist=("plain",)).get_content()
    assert PASSWORD not in result.stdout + result.stderr


def test_email_debug_prints_the_conversation_with_the_password_masked(smtp_factory, trust, tmp_path):
    server = smtp_factory("starttls")
    root = prepare(tmp_path, server)
    result = ha_cfg(root, "email_debug")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "S: 220" in out and "STARTTLS" in out.upper() and "AUTH PLAIN ****" in out and "S: 235" in out
    assert "S: 250 Message accepted" in out
    for secret in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
                   base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode()):
        assert secret not in out + result.stderr


def test_email_wrong_password_is_one_clear_line_and_exit_1(smtp_factory, trust, tmp_path):
    server = smtp_factory("starttls")
    root = prepare(tmp_path, server, HA_SMTP_PASS="Not-The-Password")
    result = ha_cfg(root, "email")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "warning" not in line]
    assert len(errors) == 1 and "login refused" in errors[0]
    assert "Not-The-Password" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_email_unreachable_server_and_refused_recipient(smtp_factory, trust, tmp_path):
    root = prepare(tmp_path, None)
    result = ha_cfg(root, "email")
    assert result.returncode == 1 and "cannot reach SMTP server 127.0.0.1:1" in result.stderr

    server = smtp_factory("starttls")
    server.refuse.add("ops@localhost")
    root = prepare(tmp_path, server)
    result = ha_cfg(root, "email")
    assert result.returncode == 1 and "recipient refused" in result.stderr and "ops@localhost" in result.stderr


def test_email_tls_failure(smtp_factory, tmp_path):
    server = smtp_factory("starttls")
    root = prepare(tmp_path, server)
    env = dict(os.environ)
    env.pop("SSL_CERT_FILE", None)  # the system trust store does not know the test certificate
    result = ha_cfg(root, "email", env=env)
    assert result.returncode == 1 and "TLS failure" in result.stderr
    assert server.received == []
