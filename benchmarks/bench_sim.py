"""Simulator benchmark: `ha-lizard sim up --hosts 8 --vms 1000` and VM.get_all_records on it.

Targets (issue 2): the pool answers within 10 s of `up`; VM.get_all_records
answers within 1 s through the official XenAPI client. Prints both, tears
the pool down, exits 1 when a target is missed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import XenAPI

from halizard.sim.addresses import BoundTransport

HOSTS, VMS = 8, 1000
UP_TARGET, RECORDS_TARGET = 10.0, 1.0


def sim(*args):
    argv = [sys.executable, "-m", "halizard.cli.ha_lizard", "sim"] + list(args)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=120, check=False)


def main():
    directory = tempfile.mkdtemp(prefix="ha-lizard-bench-")
    try:
        started = time.monotonic()
        up = sim("up", "--dir", directory, "--hosts", str(HOSTS), "--vms", str(VMS))
        up_seconds = time.monotonic() - started
        if up.returncode != 0:
            sys.stderr.write("bench_sim: sim up failed: %s\n" % up.stderr.strip())
            return 1
        with open(os.path.join(directory, "pool.json"), encoding="utf-8") as handle:
            document = json.load(handle)
        session = XenAPI.Session(document["hosts"][0]["xapi_url"], transport=BoundTransport(timeout=30.0))
        session.login_with_password("root", document["password"], "2.0", "bench")
        timings = []
        for _ in range(3):
            started = time.monotonic()
            records = session.xenapi.VM.get_all_records()
            timings.append(time.monotonic() - started)
        session.xenapi.session.logout()
        records_seconds = min(timings)
        print("sim up --hosts %d --vms %d answered in %.2f s (target < %.0f s)" % (HOSTS, VMS, up_seconds, UP_TARGET))
        print("VM.get_all_records (%d records) in %.3f s, best of 3 (target < %.0f s)"
              % (len(records), records_seconds, RECORDS_TARGET))
        return 0 if up_seconds < UP_TARGET and records_seconds < RECORDS_TARGET else 1
    finally:
        sim("down", "--dir", directory)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
