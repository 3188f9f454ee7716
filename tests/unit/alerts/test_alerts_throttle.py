"""Repeat screening on the real state store."""
import json
import os

from halizard.alerts import throttle


def test_screen_window(tmp_path):
    root = str(tmp_path)
    assert throttle.admit(root, "f", "text", 60, now=100.0)
    assert not throttle.admit(root, "f", "text", 60, now=159.0)
    assert throttle.admit(root, "f", "other text", 60, now=159.0)
    assert throttle.admit(root, "g", "text", 60, now=159.0)
    assert throttle.admit(root, "f", "text", 60, now=160.5)


def test_zero_screen_time_never_suppresses(tmp_path):
    root = str(tmp_path)
    assert all(throttle.admit(root, "f", "t", 0, now=1.0) for _ in range(3))


def test_state_holds_no_alert_text_and_expired_entries_are_pruned(tmp_path):
    root = str(tmp_path)
    throttle.admit(root, "f", "secret-ish text", 10, now=0.0)
    throttle.admit(root, "f", "second", 10, now=20.0)
    path = os.path.join(root, "var/lib/ha-lizard/alert-throttle.json")
    raw = open(path).read()
    assert "secret-ish" not in raw
    assert len(json.loads(raw)) == 1


def test_corrupt_state_lets_alerts_through(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "var/lib/ha-lizard"))
    with open(os.path.join(root, "var/lib/ha-lizard/alert-throttle.json"), "w") as handle:
        handle.write("[[[ not json")
    assert throttle.admit(root, "f", "t", 60, now=0.0)
    assert not throttle.admit(root, "f", "t", 60, now=1.0)


def test_forget(tmp_path):
    root = str(tmp_path)
    throttle.admit(root, "f", "t", 60, now=0.0)
    throttle.forget(root, "f", "t")
    assert throttle.admit(root, "f", "t", 60, now=1.0)
    throttle.forget(root)
    assert throttle.admit(root, "f", "t", 60, now=2.0)
