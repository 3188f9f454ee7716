"""ha-cfg fence-test: read a host's power state through the configured fence agent.

Why: the admin proves fencing works before HA ever needs it; nothing is switched.
"""
from halizard.cli.common import EXIT_OK, CliError

FENCE_TEST_SECONDS = 30


def _fence_target(ctx, host):
    """(uuid, label) of HOST: a host uuid as is, else a name label looked up on the master."""
    from halizard.fence.hostmap import is_uuid

    if is_uuid(host):
        return host.lower(), host
    session = ctx.session()
    refs = list(session.xenapi.host.get_by_name_label(host))
    if not refs:
        raise CliError("no host named %r in the pool" % host)
    if len(refs) > 1:
        raise CliError("%d hosts are named %r: give the host uuid" % (len(refs), host))
    return session.xenapi.host.get_uuid(refs[0]), host


def cmd_fence_test(ctx, args):
    """Ask the configured fence agent for HOST's power state; nothing is switched."""
    from halizard.fence import registry
    from halizard.fence.base import FenceConfigError
    from halizard.probes.deadline import after

    host_uuid, label = _fence_target(ctx, args.host)
    config = ctx.config()
    try:
        agent = registry.agent_from_config(config, ctx.root)
    except FenceConfigError as exc:
        raise CliError("fencing is not usable: %s" % exc) from None
    result = agent.status(host_uuid, after(FENCE_TEST_SECONDS))
    if result.verified:
        ctx.say("%s (%s): power %s, read by %s: %s" % (label, host_uuid, result.state, agent.name, result.detail))
        return EXIT_OK
    raise CliError("%s could not read the power state of %s (%s): %s" % (agent.name, label, host_uuid,
                                                                          result.detail))

