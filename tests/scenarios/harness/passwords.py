"""Checks that no password travels in clear or rests on a host's disk readable by others."""
import os
import stat

TOOLING = "ha-lizard-tests"   # the harness's own XenAPI sessions (test tooling, not the product)


def files_holding(root, secret):
    """(path, mode) of every regular file under `root` whose bytes contain `secret`."""
    found = []
    needle = secret.encode()
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode):
                    continue  # the xapi socket, links
                with open(path, "rb") as handle:
                    held = needle in handle.read()
            except FileNotFoundError:
                continue  # the running services' atomic writes rename their temporary files away
            if held:
                found.append((path, stat.S_IMODE(info.st_mode)))
    return found


def assert_no_password_in_clear(sc):
    """No password login crossed plain HTTP but the harness's own, no host root holds the pool password,
    and the fence password (cached so a slave can fence a dead master) only in root-only files.

    The simulator records every TCP login carrying a password (`sim status --json`
    "clear_password_logins", without the password).
    """
    logins = sc.pool.status()["clear_password_logins"]
    assert logins, "the harness's own password logins are recorded (the recorder works)"
    assert [entry for entry in logins if entry["originator"] != TOOLING] == []
    addresses = {host["address"] for host in sc.pool.hosts}
    assert [entry for entry in logins if entry["from"] in addresses] == []
    for host in sc.pool.hosts:
        assert files_holding(host["root"], sc.pool.password) == [], host["name_label"]
        cached = files_holding(host["root"], sc.pool.json["outer_password"])
        assert all(mode == 0o600 for _path, mode in cached), cached
