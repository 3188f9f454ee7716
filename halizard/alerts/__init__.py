"""Alerts: mail (spooled, never blocking HA), XAPI messages and repeat screening.

Every part of HA-Lizard raises alerts with `raise_alert(function, text, priority)`;
see api.py for the rules and docs/alerts.md for the admin's view.
"""
from halizard.alerts.api import AlertOutcome, alert_suspended_host, raise_alert

__all__ = ["raise_alert", "alert_suspended_host", "AlertOutcome"]
