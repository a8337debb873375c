"""Engines: where SQL runs. The mode logic talks to the ``Engine`` protocol only."""
