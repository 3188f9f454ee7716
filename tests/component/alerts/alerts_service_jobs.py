"""A job for the service test: raises the same alert every run and records what raise_alert did."""
import json
import os

from halizard.alerts import raise_alert


def raise_each_cycle(ctx):
    outcome = raise_alert("vm_mon", "VM db is down (service test)", root=ctx.root, config=ctx.config,
                          delivery="spool")
    path = os.path.join(ctx.root, "evidence-alerts.jsonl")
    with open(path, "a") as handle:
        handle.write(json.dumps({"mail": outcome.mail, "xapi": outcome.xapi}) + "\n")
