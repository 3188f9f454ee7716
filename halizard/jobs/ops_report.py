"""Job `ops_report`: rewrite the metrics textfile and publish this host's recent journal.

Why: node_exporter's textfile collector reads METRICS_FILE at its own pace,
so the service rewrites it atomically each cycle; `ha-cfg timeline` on any
host reads every host's recent decisions from the pool database, so each
host copies its journal's tail into its own host record (halizard.ops.journal)
and posts the decisions worth it as XAPI messages.
The metrics are written first: they need no network and a silent master
must not stop them.
"""


def run(ctx):
    from halizard import hostinfo
    from halizard.ops import journal, metrics
    from halizard.xapi.errors import XapiError
    from halizard.xapi.session import connect

    path = metrics.metrics_path(ctx.config)
    if path:
        metrics.write_file(ctx.root, path, metrics.render(ctx.root), ctx.log, ctx.config)
    timeout = float(ctx.config.get("XE_TIMEOUT") or 10)
    try:
        session = connect(ctx.root, timeout=timeout)
    except XapiError as exc:
        ctx.log.debug("journal not published: the pool does not answer ({})", type(exc).__name__)
        return
    try:
        ref = session.xenapi.host.get_by_uuid(hostinfo.local_host_uuid(ctx.root))
        name = session.xenapi.host.get_name_label(ref)
        journal.publish(session, ref, ctx.state, name)
        if str(ctx.config.get("ENABLE_ALERTS")) == "1":
            journal.post_messages(session, ctx.state, hostinfo.local_host_uuid(ctx.root))
    except (XapiError, hostinfo.HostInfoError) as exc:
        ctx.log.debug("journal not published: {}", exc)
    finally:
        session.logout()
