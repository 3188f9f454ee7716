"""Pure decisions: frozen snapshots in, typed actions (each with a `why`) out.

No XenAPI, no os, no time, no logging here: the clock is an argument. See
docs/decisions.md for how each decision is made.
"""
