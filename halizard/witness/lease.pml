/*
 * The witness lease (halizard/core/witness.py, halizard/witness/server.py,
 * halizard/probes/witness.py, halizard/jobs/witness.py), model-checked with spin.
 *
 * Checked by tests/component/witness/test_lease_model.py (spin -a; gcc; ./pan -a -f), which
 * also checks that two broken variants (BROKEN_NO_HOLD, BROKEN_STUCK_HOLD) fail:
 *   safe: never two hosts that both believe they hold the vote (each would
 *         count it to a strict majority and may run the same VMs);
 *   live: after faults stop, a host gets the vote again.
 *
 * What the model abstracts (and why that is sound):
 * - Time is discrete ticks; every clock runs at the same rate. The real
 *   witness adds a margin (--margin) for clock-rate differences between
 *   hosts and witness; the model keeps MARGIN = 1 tick but is safe with 0.
 * - Timers are countdowns (bu, pend, w_exp, w_free, w_hold), all decreased
 *   together by one tick, so the state space is finite and runs are infinite.
 * - A host's belief starts when it SENDS its request (pend), never when the
 *   answer arrives: a delayed answer only shortens the belief.
 * - One exchange in flight per host. A request or answer may be lost or
 *   delayed (ticks pass while it is in flight). The real client gives up at
 *   its deadline and a late answer then carries another request's nonce and
 *   is ignored: the model treats that as a lost answer. A forged or replayed
 *   message (HMAC, nonce, timestamp window) is refused and is a loss too.
 * - A host crash ends its belief (its VMs are gone; it starts from nothing);
 *   the answer to a request it sent before is ignored.
 * - A witness crash loses its grants (volatile) but not its state file
 *   (w_rec: the holder is recorded before the answer is sent). Restarted, it
 *   grants only to the recorded holder for HOLD = max lease + margin ticks.
 *   A witness that never recorded a holder has no state file and no hold.
 * - A "side" is the host holding the lease: quorum (core/quorum.py) counts
 *   the vote only while the host believes it holds it.
 *
 * Bound: 2 hosts, lease L = 2 ticks, MARGIN = 1, HOLD = 3, at most MAXFAULTS
 * = 3 faults (message losses, host crashes, witness crashes) in any order at
 * any time, every interleaving of sends, answers and ticks; the search is
 * exhaustive (pan reports the full state space).
 */

#define L         2
#define MARGIN    1
#define HOLD      (L + MARGIN)
#define MAXFAULTS 3

byte bu[3];      /* host i believes it holds the vote for bu[i] more ticks */
byte pend[3];    /* ticks left of the lease host i would hold for its request in flight */
bool out[3];     /* host i has an exchange in flight */
bool forgot[3];  /* host i crashed since it sent it: the answer is ignored */
byte w_holder;   /* the witness's holder (volatile), 0 = none */
byte w_exp;      /* ticks until the holder's lease expires at the witness */
byte w_free;     /* ticks until another host may get the vote (expiry + margin) */
byte w_rec;      /* the holder recorded in the state file (survives crashes) */
byte w_hold;     /* ticks left of the restart hold */
bool w_up = true;
byte faults;
bool calm;       /* faults have stopped (and messages take less than a tick) */

chan req = [2] of { byte };
chan rep1 = [1] of { bool };
chan rep2 = [1] of { bool };

#define voted ((bu[1] > 0) || (bu[2] > 0))
ltl safe { [] !((bu[1] > 0) && (bu[2] > 0)) }
ltl live { [] (calm -> <> voted) }

/* core/witness.decide: the holder renews; in a restart hold only the recorded holder;
   else anyone, unless another host holds it and expiry + margin has not passed */
#define grants(h) (((w_holder == h) && (w_exp > 0)) || \
                   (!((w_hold > 0) && (h != w_rec)) && !((w_holder != 0) && (w_holder != h) && (w_free > 0))))
#define can_fault (!calm && faults < MAXFAULTS)

inline answer(h, g) {
  if
  :: h == 1 -> rep1!g
  :: else -> rep2!g
  fi
}

inline receive(h, g) {
  if
  :: g && !forgot[h] -> bu[h] = pend[h]
  :: else -> skip
  fi;
  out[h] = false; forgot[h] = false; pend[h] = 0
}

proctype host(byte i) {
  bool g;
  do
  :: atomic { !out[i] -> out[i] = true; pend[i] = L; req!i }
  :: atomic { i == 1 && nempty(rep1) -> rep1?g; receive(i, g) }
  :: atomic { i == 2 && nempty(rep2) -> rep2?g; receive(i, g) }
  :: atomic { can_fault -> faults++; bu[i] = 0; forgot[i] = out[i] }        /* crash and restart */
  od
}

proctype witness() {
  byte h;
  do
  :: atomic {
       w_up && nempty(req) -> req?h;
       if
       :: grants(h) ->
          w_rec = h;                        /* recorded before the answer */
          w_holder = h; w_exp = L; w_free = L + MARGIN;
          answer(h, true)
       :: else -> answer(h, false)
       fi
     }
  :: atomic { !w_up && nempty(req) -> req?h; out[h] = false; forgot[h] = false; pend[h] = 0 }  /* nobody answers */
  :: atomic { w_up && can_fault -> faults++; w_up = false; w_holder = 0; w_exp = 0; w_free = 0 }
#ifdef BROKEN_NO_HOLD
  :: atomic { !w_up -> w_up = true }   /* mutation: restart without the hold (the test expects "safe" to fail) */
#elif defined(BROKEN_STUCK_HOLD)
  :: atomic { !w_up -> w_up = true; w_hold = HOLD; w_rec = 9 }  /* mutation: a hold nobody passes ("live" fails) */
#else
  :: atomic { !w_up -> w_up = true; if :: w_rec != 0 -> w_hold = HOLD :: else -> skip fi }
#endif
  od
}

proctype network() {
  byte h;
  bool g;
  do
  :: atomic { can_fault && nempty(req) -> faults++; req?h; out[h] = false; forgot[h] = false; pend[h] = 0 }   /* request lost */
  :: atomic { can_fault && nempty(rep1) -> faults++; rep1?g; out[1] = false; forgot[1] = false; pend[1] = 0 }  /* answer lost */
  :: atomic { can_fault && nempty(rep2) -> faults++; rep2?g; out[2] = false; forgot[2] = false; pend[2] = 0 }
  :: atomic { !calm && w_up -> calm = true }       /* faults stop (the witness is up again) */
  od
}

#define down(x) if :: x > 0 -> x-- :: else -> skip fi
proctype clock() {
  do
  :: d_step { !(calm && (out[1] || out[2])) ->
       down(bu[1]); down(bu[2]); down(pend[1]); down(pend[2]);
       down(w_exp); down(w_free);
#ifndef BROKEN_STUCK_HOLD
       down(w_hold)
#endif
     }
  od
}

init {
  atomic {
    run host(1); run host(2); run witness(); run network(); run clock()
  }
}
