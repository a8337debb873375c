"""Observability: run events fanned out to metrics, logs, alerts and live views."""
