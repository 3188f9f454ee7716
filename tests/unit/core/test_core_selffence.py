from core_builders import policy
from halizard.core import quorum, selffence

P = policy(MGT_LINK_LOSS_TOLERANCE=5, SELF_FENCE_STOP_TIMEOUT=30)
HEUR = policy(FENCE_HEURISTICS_IPS="127.0.0.1")
H3 = ["h1", "h2", "h3"]
MAJ = quorum.compute("h1", H3, ["h2"], None, P)
LONE3 = quorum.compute("h1", H3, [], None, P)               # other side (2 of 3) could win
LONE2 = quorum.compute("h1", ["h1", "h2"], [], None, P)     # nobody can win
LONE2H = quorum.compute("h1", ["h1", "h2"], [], False, HEUR)  # the peer could win the tie
IN_PROGRESS = selffence.InProgress(105.0)   # StopLocalVms issued at 105


def kinds(d):
    return [a.kind for a in d.actions]


def test_link_loss_below_tolerance_does_nothing():
    d = selffence.decide(104.9, P, link_down_since=100.0, quorum=MAJ, local_vms=["v1"])
    assert not d.fencing and d.actions == ()


def test_link_loss_at_tolerance_stops_vms_with_deadline():
    d = selffence.decide(105.0, P, link_down_since=100.0, quorum=MAJ, local_vms=["v2", "v1"])
    assert d.fencing and kinds(d) == ["StopLocalVms"]
    assert d.actions[0].vm_uuids == ("v1", "v2") and d.actions[0].deadline == 135.0


def test_quorum_loss_stops_vms_only_when_the_other_side_could_win():
    assert kinds(selffence.decide(0, P, link_down_since=None, quorum=LONE3, local_vms=["v"])) == ["StopLocalVms"]
    assert selffence.decide(0, P, link_down_since=None, quorum=LONE2, local_vms=["v"]).actions == ()
    assert kinds(selffence.decide(0, HEUR, link_down_since=None, quorum=LONE2H, local_vms=["v"])) == [
        "StopLocalVms"]


def test_only_a_loss_that_could_make_the_host_act_counts_toward_xapi_count():
    tie4 = quorum.compute("h1", ["h1", "h2", "h3", "h4"], ["h2"], None, P)   # 2 of 4: nobody can win
    assert not selffence.loss_counts(MAJ, is_master=True)
    assert selffence.loss_counts(LONE3, is_master=False)
    assert not selffence.loss_counts(tie4, is_master=True) and not selffence.loss_counts(tie4, is_master=False)
    assert not selffence.loss_counts(LONE2, is_master=False)
    assert selffence.loss_counts(LONE2, is_master=True)    # a master reaching nobody: the lone-host reboot


def test_in_progress_then_reboot_after_deadline_once():
    d = selffence.decide(120, P, link_down_since=100.0, quorum=MAJ, local_vms=["v1"], in_progress=IN_PROGRESS)
    assert d.fencing and kinds(d) == ["StopLocalVms"] and d.actions[0].deadline == 135.0
    d = selffence.decide(135, P, link_down_since=100.0, quorum=MAJ, local_vms=["v1"], in_progress=IN_PROGRESS)
    assert kinds(d) == ["RebootSelf"]
    d = selffence.decide(136, P, link_down_since=100.0, quorum=MAJ, local_vms=["v1"],
                         in_progress=selffence.InProgress(105.0, reboot_requested=True))
    assert d.fencing and d.actions == ()


def test_self_fence_finishes_even_if_link_returns_then_toolstack_restart():
    d = selffence.decide(110, P, link_down_since=None, quorum=MAJ, local_vms=["v1"], in_progress=IN_PROGRESS)
    assert d.fencing and kinds(d) == ["StopLocalVms"]
    d = selffence.decide(111, P, link_down_since=100.0, quorum=MAJ, local_vms=[], in_progress=IN_PROGRESS)
    assert d.fencing and d.actions == ()
    d = selffence.decide(112, P, link_down_since=None, quorum=MAJ, local_vms=[], in_progress=IN_PROGRESS)
    assert not d.fencing and kinds(d) == ["RestartToolstack"]


def test_lone_host_reboot():
    assert selffence.lone_host(LONE3, P, False) == ()
    pol = policy(FENCE_REBOOT_LONE_HOST=1)
    assert [a.kind for a in selffence.lone_host(LONE3, pol, False)] == ["RebootSelf"]
    assert selffence.lone_host(LONE3, pol, True) == ()
    assert selffence.lone_host(MAJ, pol, False) == ()
    single = quorum.compute("h1", ["h1"], [], None, pol)
    assert selffence.lone_host(single, pol, False) == ()


def test_domains_that_cannot_be_listed_count_as_running_until_the_reboot():
    d = selffence.decide(105, P, link_down_since=100.0, quorum=MAJ, local_vms=None)
    assert d.fencing and kinds(d) == ["StopLocalVms"] and d.actions[0].vm_uuids == ()
    d = selffence.decide(120, P, link_down_since=None, quorum=MAJ, local_vms=None, in_progress=IN_PROGRESS)
    assert d.fencing and kinds(d) == ["StopLocalVms"], "no toolstack restart while nothing is known"
    d = selffence.decide(135, P, link_down_since=None, quorum=MAJ, local_vms=None, in_progress=IN_PROGRESS)
    assert kinds(d) == ["RebootSelf"] and "cannot be listed" in d.actions[0].why


def test_a_held_self_fence_never_ends():
    d = selffence.decide(140, P, link_down_since=None, quorum=MAJ, local_vms=[],
                         in_progress=selffence.InProgress(105.0, held="unsafe configuration"))
    assert d.fencing and d.actions == () and "unsafe configuration" in d.why
    d = selffence.decide(140, P, link_down_since=None, quorum=MAJ, local_vms=["v1"],
                         in_progress=selffence.InProgress(105.0, held="unsafe configuration"))
    assert kinds(d) == ["RebootSelf"]
