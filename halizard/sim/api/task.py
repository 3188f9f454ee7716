"""task.*: tasks clients create themselves, and cancelling.

Why: `Async.*` calls return a task (made by SimPool); clients poll its status,
progress, result (an XML-RPC encoded string) and error_info, and may create,
cancel and destroy tasks of their own.
"""
import time

from halizard.sim.api.errors import XapiError
from halizard.sim.db import now_datetime


def create(call, label, description):
    return call.db.create("task", {"name_label": label, "name_description": description, "status": "pending",
                                   "created": now_datetime(time.time()),
                                   "resident_on": call.pool.host_refs[call.master_uuid]})


def destroy(call, self_ref):
    call.db.destroy("task", self_ref)
    return ""


def cancel(call, task):
    if call.db.field("task", task, "status") != "pending":
        raise XapiError("OPERATION_NOT_ALLOWED", "task %s is not pending" % task)
    call.db.set("task", task, status="cancelling")
    return ""


def register(reg):
    reg.explicit("task", "create", create)
    reg.explicit("task", "destroy", destroy)
    reg.explicit("task", "cancel", cancel)
