"""core.roles: suspended hosts are never named takeover slave; two masters after a takeover."""
import pytest

from core_builders import host, policy, pool
from halizard.core import cycle, health, roles
from halizard.core.health import HealthVerdict

OK_V = HealthVerdict(health.HEALTHY, False, "up")
H = health.HEALTHY


# --- the takeover slave skips suspended hosts ------------------------------------------------

def test_a_suspended_current_winner_loses_its_place_and_stays_out_while_suspended():
    pv = pool(autopromote_uuid="h2")
    assert roles.choose_takeover(pv, {"h2": H, "h3": H}, suspended={"h2"}).value == "h3"
    assert roles.choose_takeover(pv, {"h2": H, "h3": H}, suspended={"h2", "h3"}).value == "none_available"


def test_once_its_suspension_is_lifted_the_host_is_eligible_again():
    pv = pool(autopromote_uuid="h3")
    assert roles.choose_takeover(pv, {"h2": H, "h3": H}).value == "h2"
    assert roles.choose_takeover(pool(autopromote_uuid="none_available"), {"h2": H, "h3": H}).value == "h2"


def test_master_start_names_no_suspended_host():
    pv = pool(autopromote_uuid="h2")
    res = cycle.master_start(pv, policy(), "h1", {"h2": OK_V, "h3": OK_V}, suspended=frozenset({"h2"}))
    assert [(a.kind, a.value) for a in res.actions if a.kind == "SetAutopromote"] == [("SetAutopromote", "h3")]


# --- two masters (resolve_masters) ------------------------------------------------------------

def _hosts(**health_fields):
    out = []
    for n in (1, 2, 3):
        uuid = "h%d" % n
        out.append(host(uuid, address="127.9.0.%d" % n, is_master=(n == 1),
                        health_field=health_fields.get(uuid, "master" if n == 1 else "healthy")))
    return out


def test_no_other_master_is_alone():
    pv = pool(_hosts())
    got = roles.resolve_masters(pv, "h1", {"h2": ("slave", "127.9.0.1"), "h3": ("timeout", None)})
    assert got.action == roles.ALONE and got.others == ()


def test_old_master_stands_down_before_a_master_it_did_not_replace():
    # the old master h1 powers on; h2 took over while it was gone
    pv = pool(_hosts(), autopromote_uuid="h2")
    got = roles.resolve_masters(pv, "h1", {"h2": ("master", None), "h3": ("slave", "127.9.0.2")})
    assert got.action == roles.STAND_DOWN and got.others == ("h2",)
    assert "did not take over from it" in got.why


def test_new_master_recovers_the_master_its_takeover_replaced():
    pv = pool(_hosts(h1="failed", h2="master"), master="h2", autopromote_uuid="none_available")
    got = roles.resolve_masters(pv, "h2", {"h1": ("master", None)}, replaced="h1")
    assert got.action == roles.RECOVER and got.others == ("h1",) and "took over from it" in got.why


def test_marked_failed_or_disabled_alone_does_not_make_a_master_recoverable():
    """Both databases can mark the other failed; only the takeover record is one-sided."""
    hosts = [host("h1", address="127.9.0.1", enabled=False), host("h2", address="127.9.0.2", is_master=True)]
    assert roles.resolve_masters(pool(hosts, master="h2"), "h2", {"h1": ("master", None)}).action == roles.STAND_DOWN


def test_neither_replaced_the_other_so_both_wait_then_the_smallest_uuid_recovers():
    pv1 = pool(_hosts(h2="healthy"), autopromote_uuid="h3")
    pv2 = pool(_hosts(h1="healthy", h2="master"), master="h2")
    assert roles.resolve_masters(pv1, "h1", {"h2": ("master", None)}).action == roles.STAND_DOWN
    assert roles.resolve_masters(pv2, "h2", {"h1": ("master", None)}).action == roles.STAND_DOWN
    assert roles.resolve_masters(pv1, "h1", {"h2": ("master", None)}, tie_due=True).action == roles.RECOVER
    assert roles.resolve_masters(pv2, "h2", {"h1": ("master", None)}, tie_due=True).action == roles.STAND_DOWN


@pytest.mark.parametrize("self_uuid,other,expected", [("h1", "h2", roles.STAND_DOWN), ("h2", "h1", roles.RECOVER)])
def test_both_sides_of_a_two_host_split_brain_agree(self_uuid, other, expected):
    """Each side's own database decides; the two answers never both say "recover"."""
    old_db = pool(_hosts(), autopromote_uuid="h2")                                       # h1's stale view
    new_db = pool(_hosts(h1="failed", h2="master"), master="h2", autopromote_uuid="h3")  # h2 took over
    view, replaced = (old_db, None) if self_uuid == "h1" else (new_db, "h1")
    assert roles.resolve_masters(view, self_uuid, {other: ("master", None)}, replaced).action == expected
