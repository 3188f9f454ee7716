"""The simulator's change log: event.from reads only what changed since its token, in order.

Why: at 64 hosts and 1,000 VMs every host's event.from used to scan every
object of the pool per call; the log is now kept oldest change first and
read from the end back to the token. These tests hold it to what a full
scan of the log gives.
"""
import random

from halizard.sim import apidesc
from halizard.sim.db import Database


def _scan(db, event_id, classes):
    """What changes_since must answer, by the slow way: every entry, sorted by its last change."""
    out = []
    for (cls, ref), (last, created, gone) in db.changes.items():
        if last > event_id and (classes is None or cls.lower() in classes):
            out.append((last, cls, "del" if gone is not None else ("add" if created > event_id else "mod"), ref))
    return sorted(out)


def _shape(changes):
    return [(last, cls, operation, ref) for last, cls, operation, ref, _record in changes]


def test_changes_since_matches_a_full_scan_after_random_adds_mods_and_deletes():
    db = Database(apidesc.load())
    db.kept_deletions = 20
    rng = random.Random(16)
    refs = []
    tokens = [0]
    for step in range(600):
        roll = rng.random()
        if roll < 0.3 or not refs:
            refs.append(("VM", db.create("VM", {"name_label": "vm%d" % step})))
        elif roll < 0.8:
            cls, ref = rng.choice(refs)
            db.set(cls, ref, name_label="renamed%d" % step)
        else:
            cls, ref = refs.pop(rng.randrange(len(refs)))
            db.destroy(cls, ref)
        if step % 37 == 0:
            tokens.append(db.event_id)
    for token in tokens + [db.event_id]:
        for classes in (None, {"vm"}, {"host"}):
            assert _shape(db.changes_since(token, classes)) == _scan(db, token, classes), (token, classes)


def test_a_record_changed_again_moves_after_the_token():
    db = Database(apidesc.load())
    first = db.create("VM", {"name_label": "a"})
    second = db.create("VM", {"name_label": "b"})
    token = db.event_id
    db.set("VM", first, name_label="a2")
    assert [(cls, op, ref) for _l, cls, op, ref, _r in db.changes_since(token, None)] == [("VM", "mod", first)]
    assert [ref for _l, _c, _o, ref, _r in db.changes_since(0, None)] == [second, first]
