"""Job `ops_report`: rewrite the metrics textfile and publish this host's recent journal.

Why: node_exporter's textfile collector reads METRICS_FILE at its own pace,
so the service rewrites it atomically each cycle; `ha-cfg timeline` on any
host reads every host's recent decisions from the pool database, so each
host copies its journal's tail into its own host record (halizard.ops.journal)
and posts the decisions worth it as XAPI messages: only when its entries changed
since the last copy, or once an hour (journal.publish_due), so an idle cycle
asks the pool nothing.
The metrics are written first: they need no network and a silent master
must not stop them.
"""
from halizard.jobs.base import Outcome, Report
from halizard.ops import journal, metrics
from halizard.xapi.errors import XapiError


def run(env):
    """Metrics, then the journal; returns a Report (halizard.jobs.base)."""

    path = metrics.metrics_path(env.config)
    if path:
        metrics.write_file(env.root, path, metrics.render(env.root), env.log, env.config)
    wrote = "metrics written to %s" % path if path else "no metrics file"
    uuid = env.self_uuid()
    if not uuid:
        return Report(Outcome.SKIPPED, "%s; journal not published: this host's uuid is unknown" % wrote)
    entries, _doc = journal.read(env.state)
    now = env.clock.wall()
    alerts = str(env.config.get("ENABLE_ALERTS")) == "1"
    if not journal.publish_due(env.state, entries, now) and not (alerts and journal.unposted(env.state, entries)):
        return Report(Outcome.QUIET, "%s; journal unchanged since it was published" % wrote)
    session, why = env.try_session()
    if session is None:
        return Report(Outcome.SKIPPED, "%s; journal not published: the pool does not answer (%s)" % (wrote, why))
    try:
        ref = session.xenapi.host.get_by_uuid(uuid)
        name = session.xenapi.host.get_name_label(ref)
        journal.publish(session, ref, entries, name)
        if alerts:
            journal.post_messages(session, env.state, uuid)
        journal.mark_published(env.state, entries, now)
    except XapiError as exc:
        return Report(Outcome.SKIPPED, "%s; journal not published: %s" % (wrote, exc))
    finally:
        session.logout()
    return Report(Outcome.QUIET, "%s; journal published" % wrote)
