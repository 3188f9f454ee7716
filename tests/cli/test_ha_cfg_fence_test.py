"""`ha-cfg fence-test HOST`: the configured agent reads a simulated host's power through its
simulated BMC (real ipmitool / fence_ipmilan) and switches nothing; failures are one clear line."""
import os


from ha_cfg_run import run_ha_cfg as run

POOL = (3, 2, "--bmcs")  # BMCs are opt-in


def write_map(pool, host, method, lines):
    folder = os.path.join(pool.host(host)["root"], "etc/ha-lizard/fence", method)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, method + ".hosts"), "w") as handle:
        handle.write("".join(line + "\n" for line in lines))


def configure(pool, method, password=None):
    first = pool.json["bmcs"][pool.hosts[0]["uuid"]]
    for name, value in (("FENCE_METHOD", method), ("FENCE_USER", first["user"]),
                        ("FENCE_PASSWD", first["password"] if password is None else password)):
        status, _out, err = run(pool, "host1", "set", name, value)
        assert status == 0, err


def test_fence_test_reads_power_through_ilo_and_fence_ipmilan_without_changing_it(pool):
    bmcs = pool.json["bmcs"]
    assert len(bmcs) == 3 and "BMCs (IPMI lanplus" in pool.up_result.stdout  # `sim up --bmcs`
    write_map(pool, "host1", "ILO", ["%s:%s" % (h["uuid"], bmcs[h["uuid"]]["address"]) for h in pool.hosts])
    write_map(pool, "host1", "fence_ipmilan", ["%s:ip=%s,lanplus=1" % (h["uuid"], bmcs[h["uuid"]]["address"])
                                               for h in pool.hosts])
    pool.fault("power-off", "host3")
    for method in ("ILO", "fence_ipmilan"):
        configure(pool, method)
        status, out, err = run(pool, "host1", "fence-test", "host2")
        assert status == 0, err
        assert "host2" in out and "power on" in out
        status, out, err = run(pool, "host1", "fence-test", pool.host("host3")["uuid"], "--action", "status")
        assert status == 0, err
        assert "power off" in out
    assert pool.host_status("host2")["power"] == "on"
    assert pool.host_status("host3")["power"] == "off"


def test_fence_test_failures_are_one_line_and_never_show_the_password(pool):
    bmcs = pool.json["bmcs"]
    write_map(pool, "host1", "ILO", ["%s:%s" % (pool.host("host1")["uuid"], bmcs[pool.host("host1")["uuid"]]["address"])])
    configure(pool, "ILO")
    status, _out, err = run(pool, "host1", "fence-test", "host2")
    assert status == 1 and "not listed" in err and len(err.strip().splitlines()) == 1, err
    status, _out, err = run(pool, "host1", "fence-test", "no-such-host")
    assert status == 1 and "no host named" in err, err

    write_map(pool, "host1", "ILO", ["%s:%s" % (h["uuid"], bmcs[h["uuid"]]["address"]) for h in pool.hosts])
    configure(pool, "ILO", password="Secret-Wrong-1")
    status, out, err = run(pool, "host1", "fence-test", "host2")
    assert status == 1 and "could not read the power state" in err, err
    assert "Secret-Wrong-1" not in out + err
    assert pool.host_status("host2")["power"] == "on"


def test_fence_test_usage_errors_exit_2(pool):
    for argv in (["fence-test"], ["fence-test", "host2", "--action", "off"]):
        status, _out, err = run(pool, "host1", *argv)
        assert status == 2 and len(err.strip().splitlines()) == 1, (argv, err)
