"""XAPI method semantics of the simulator: one module per class or group.

`registry.build_handlers()` maps every served wire name to a handler.
"""


def build_registry(reg):
    """Register every served call: generic ones first, explicit semantics override them."""
    from halizard.sim.api import appliance, event, host, implicit, message, pool_calls, session, task, vm

    implicit.register(reg)
    for module in (session, pool_calls, host, vm, appliance, message, task, event):
        module.register(reg)
