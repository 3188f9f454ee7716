/*
 * Membership: exclusion and re-admission with epochs (halizard/core/membership.py,
 * halizard/jobs/membership.py, core/quorum.py), model-checked with spin.
 *
 * Checked by tests/component/witness/test_membership_model.py (spin -a; gcc; ./pan), which also
 * checks that the broken variants fail:
 *   safe: never two hosts that do not reach each other and both hold a strict majority of the
 *         voters they count (each could restart the other's VMs after the timed wait);
 *   live (built with -DLIVE): faults stop once every host but the master is up and has read the
 *         current membership; then every host comes up on one network, except a dead master,
 *         which stays dead. If the hosts left up hold a strict majority of the pool's voters, a
 *         master holds quorum again (the old one, or a host that took over from it).
 *   BROKEN_STALE: a rebooted or long-isolated host trusts the membership copy it read before
 *         (what jobs.membership's run identity and note_quorum prevent); "safe" must fail;
 *   BROKEN_NO_JOINT: a change counts at once, without the joint rule until every voter
 *         acknowledged it: a host whose copy lags one read counts the excluded hosts; "safe" fails.
 *   BROKEN_STACKED: re-admissions while one is pending, and any number of them counted like one
 *         (the new voters alone); "safe" fails: 3 of the 5 new voters against 2 of the 3 old ones.
 *   BROKEN_JOINT_ALWAYS: the joint rule for a single re-admission too (the rule before issue 14's
 *         fix); "live" fails with 3 hosts: the master re-admits host 2 and dies before anyone
 *         acknowledged it, and host 1 holds 2 of the 3 new voters but 1 of the 2 old ones for ever.
 *
 * What the model abstracts (and why that is sound):
 * - The pool database is one value (the excluded set X, its epoch is the number of changes),
 *   written only by the master; a host reads it (copy cx, fresh = read since its last boot)
 *   only while it reaches the master, and the master reads its own. A returning old master's
 *   own database is not modelled: roles.resolve_masters makes it stand down (issue 13's model).
 * - Quorum (core/quorum.py): a fresh, non-excluded host counts the voters of its copy (all
 *   hosts minus cx) that it reaches, itself included, and needs a strict majority; while its
 *   copy says a change is pending, also a strict majority of the joint voters (cj), unless the
 *   change re-admits exactly one host and excludes none (single: Raft's single-server change,
 *   whose majorities always meet the old ones). The master re-admits one host at a time and
 *   none while a change is pending; an exclusion on top of a pending single re-admission is
 *   joint with that re-admission's voters. Every read acknowledges the epoch; the master ends
 *   the joint rule when all voters did. Ties (the heuristic tie-break, the fence race) are left
 *   out: they never prove death by the timed wait. Which slave is the takeover slave is left
 *   out too: any host with quorum may take over (safe covers every choice; live needs one).
 * - Proof of death for an exclusion or a takeover: the host is down (a verified fence, or a
 *   crash), or it has been without quorum for long (long_lost: the self-fence wait W minus its
 *   own detection time) and the excluder does not reach it (the timed wait). Such a host drops
 *   its copy's freshness at that moment (jobs.membership.note_quorum), as a rebooted one does
 *   at its boot. Re-admission: the master reaches it.
 * - A partition is a network number per host (two networks). Faults: a host moved to the other
 *   network (any host), a crash of the master (whichever host it is), a crash and a long quorum
 *   loss of hosts VICTIM..N-1 (3 and 4: the ones the pool excludes; hosts 0-2 keep the voters'
 *   majority the attack needs); boots of any host at any time; at most MAXFAULTS faults, any
 *   order, any time. The pool's steps (read, exclude, re-admit, commit, take over) are one
 *   process each, so weak fairness lets each run again and again, as the service's jobs do.
 *
 * Bound: N = 5 hosts (the smallest pool where a stale copy can form a second majority after two
 * exclusions: 3 of the old 5 against 2 of the 3 voters), MAXFAULTS = 4 (the fewest that reach
 * that split: two exclusions and two moves); live is also searched with N = 3, VICTIM = 2 (the
 * pool where a single re-admission pending leaves an old membership of 2 voters). Every search
 * is exhaustive; the test states the numbers of states.
 */

#ifndef N
#define N         5
#endif
#ifndef VICTIM
#define VICTIM    3       /* the first host that can crash or lose quorum for long (hosts VICTIM..N-1) */
#endif
#ifndef MAXFAULTS
#define MAXFAULTS 4
#endif

bool up[N];
byte net[N];      /* the network a host is on (0 or 1) */
bool fresh[N];    /* its copy was read since its last boot */
byte cx[N];       /* its copy of the excluded set (bit i = host i excluded) */
byte X;           /* the pool database's excluded set */
byte J;           /* while pend: the excluded set of the last acknowledged membership (joint rule) */
bool pend;        /* a change is not yet acknowledged by every voter */
bool ack[N];      /* host i read the current epoch (host other_config ha-lizard-membership-epoch) */
byte cj[N];       /* its copy of J */
bool cpend[N];    /* its copy of pend */
byte master;
bool q[N];        /* host i holds quorum now (recomputed after every step) */
bool bad;         /* two disconnected hosts both hold quorum */
bool long_lost[N]; /* host i has been without quorum for the self-fence wait minus its detection time */
byte faults;
bool calm;
bool allread;      /* every host but the master is up and read the current epoch since its boot (recompute) */
bool premise;      /* at calm: the hosts left up hold a strict majority of the pool's current voters */

#define bit(i)       (1 << (i))
/* the pending change re-admits exactly one host and excludes none (core.membership.single_readmission) */
#define added(x, jx)  ((jx) & ~(x))
#ifndef BROKEN_STACKED
#define single(x, jx) (((x) & ~(jx)) == 0 && added(x, jx) != 0 && (added(x, jx) & (added(x, jx) - 1)) == 0)
#define may_readmit   (!pend)     /* one re-admission at a time, none while a change is pending */
#else
#define single(x, jx) (((x) & ~(jx)) == 0)   /* any number of re-admissions counts as one */
#define may_readmit   true
#endif
#define reach(i, j)  (up[i] && up[j] && net[i] == net[j])
#define can_fault    (!calm && faults < MAXFAULTS)

byte ri, rj, votes, total;   /* scratch of recompute */
#define i ri
#define j rj
byte jvotes, jtotal;
inline recompute() {
  i = 0;
  do
  :: i < N ->
     votes = 0; total = 0; jvotes = 0; jtotal = 0; j = 0;
     do
     :: j < N ->
        if
        :: (cx[i] & bit(j)) == 0 ->
           total++;
           if :: reach(i, j) -> votes++ :: else -> skip fi
        :: else -> skip
        fi;
        if
        :: (cj[i] & bit(j)) == 0 ->
           jtotal++;
           if :: reach(i, j) -> jvotes++ :: else -> skip fi
        :: else -> skip
        fi;
        j++
     :: else -> break
     od;
     q[i] = (up[i] && fresh[i] && (cx[i] & bit(i)) == 0 && 2 * votes > total
#ifndef BROKEN_NO_JOINT
             && (!cpend[i] || 2 * jvotes > jtotal
#ifndef BROKEN_JOINT_ALWAYS
                 || single(cx[i], cj[i])
#endif
                )
#endif
            );
     if :: q[i] -> long_lost[i] = false :: else -> skip fi;
     i++
  :: else -> break
  od;
  i = 0;
  do
  :: i < N ->
     j = i + 1;
     do
     :: j < N -> if :: q[i] && q[j] && !reach(i, j) -> bad = true :: else -> skip fi; j++
     :: else -> break
     od;
     i++
  :: else -> break
  od;
  allread = true;
  i = 0;
  do
  :: i < N -> if :: i != master && !(up[i] && fresh[i] && ack[i]) -> allread = false :: else -> skip fi; i++
  :: else -> break
  od;
  i = 0; j = 0; votes = 0; total = 0; jvotes = 0; jtotal = 0   /* scratch back to 0 */
}
#undef i
#undef j

inline changed() {   /* a new epoch: nobody but the master has read it */
  ri = 0;
  do
  :: ri < N -> ack[ri] = (ri == master); ri++
  :: else -> break
  od;
  cx[master] = X; cj[master] = J; cpend[master] = pend; ri = 0
}

#define proven(i, j) (!up[j] || (long_lost[j] && !reach(i, j)))

/* The pool's own steps, one process each: weak fairness (the liveness search) then lets every one of
   them run again and again, as the service's jobs do. */
proctype read() {
  byte i, j;
  do
  :: d_step { /* a host reads the membership from the master (the master from its own database) */
       i = 0;
       do
       :: i < N && up[i] && reach(i, master) -> cx[i] = X; cj[i] = J; cpend[i] = pend; ack[i] = true;
          fresh[i] = true; long_lost[i] = false; i++   /* a read starts a new loss episode */
       :: i < N -> i++
       :: else -> break
       od;
       recompute(); i = 0; j = 0 }
  od
}

proctype exclude() {
  byte i, j;
  do
  :: d_step { /* the master excludes a proven-dead host (one epoch per change) */
       j = 0;
       do
       :: j < N && q[master] && j != master && (X & bit(j)) == 0 && proven(master, j) ->
          if
          :: !pend -> J = X; pend = true
          :: pend && single(X, J) -> J = X     /* joint with the pending re-admission's voters */
          :: else -> skip
          fi;
          X = X | bit(j); changed(); j = N
       :: j < N -> j++
       :: else -> break
       od;
       recompute(); i = 0; j = 0 }
  od
}

proctype readmit() {
  byte i, j;
  do
  :: d_step { /* the master re-admits an excluded host it reaches */
       j = 0;
       do
       :: j < N && q[master] && (X & bit(j)) != 0 && reach(master, j) && may_readmit ->
          if :: !pend -> J = X; pend = true :: else -> skip fi;
          X = X & ~bit(j); changed(); j = N
       :: j < N -> j++
       :: else -> break
       od;
       recompute(); i = 0; j = 0 }
  od
}

proctype commit() {
  byte i, j;
  do
  :: d_step { /* the master ends the joint rule once every voter acknowledged the epoch */
       if
       :: q[master] && pend -> 
          j = 0;
          do
          :: j < N && ((X & bit(j)) != 0 || ack[j]) -> j++
          :: j < N -> break
          :: else -> pend = false; cpend[master] = false; break
          od
       :: else -> skip
       fi;
       recompute(); i = 0; j = 0 }
  od
}

proctype takeover() {
  byte i, j;
  do
  :: d_step { /* takeover: a host with quorum replaces a master proven dead */
       i = 0;
       do
       :: i < N && q[i] && i != master && proven(i, master) -> master = i; i = N
       :: i < N -> i++
       :: else -> break
       od;
       recompute(); i = 0; j = 0 }
  od
}

proctype faults_() {
  byte i;
  do
  :: atomic { can_fault -> select(i : VICTIM .. N - 1); faults++;      /* crash */
       d_step { up[i] = false;
#ifndef BROKEN_STALE
                fresh[i] = false;
#endif
                recompute(); i = 0 } }
  :: d_step { can_fault && up[master] -> faults++;                  /* the master crashes */
       up[master] = false; fresh[master] = false; recompute() }
  :: atomic { select(i : 0 .. N - 1);                              /* boot (a wrong pick does nothing) */
       if :: !up[i] -> d_step { up[i] = true; recompute(); i = 0 } :: else -> i = 0 fi }
  :: atomic { can_fault -> select(i : 0 .. N - 1); faults++; d_step { net[i] = 1 - net[i]; recompute(); i = 0 } }
  :: atomic { select(i : VICTIM .. N - 1);                        /* time passes without quorum */
       if :: up[i] && !q[i] && !long_lost[i] -> skip :: else -> i = 0; goto done fi;
       d_step { long_lost[i] = true;
#ifndef BROKEN_STALE
                fresh[i] = false;                /* jobs.membership.note_quorum */
#endif
                recompute(); i = 0 };
       done: skip }
#ifdef LIVE
  :: d_step { !calm && allread -> calm = true;   /* faults stop once every host read the current epoch: */
       i = 0; votes = 0; total = 0;                  /* all up, one network; a dead master stays dead */
       do
       :: i < N -> if :: i != master || up[i] -> up[i] = true :: else -> skip fi; net[i] = 0;
          if :: (X & bit(i)) == 0 -> total++; if :: up[i] -> votes++ :: else -> skip fi :: else -> skip fi; i++
       :: else -> break
       od;
       premise = 2 * votes > total; votes = 0; total = 0;
       recompute(); i = 0 }
#endif
  od
}

ltl safe { [] !bad }
ltl live { [] ((calm && premise) -> <> (up[master] && q[master])) }

init {
  atomic {
    byte i;
    for (i : 0 .. N - 1) { up[i] = true; fresh[i] = true }
    recompute();
    run read(); run exclude(); run readmit(); run commit(); run takeover(); run faults_()
  }
}
