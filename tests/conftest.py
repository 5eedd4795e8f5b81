"""Shared test settings.

Rules for every test here: loopback only, port 0, trio's MockClock (`autojump_clock`)
for anything timed, and a `trio.fail_after` bound on every network test.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# CI machines are small and shared: judge properties by their examples, not by speed.
settings.register_profile(
    "ttrec", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("ttrec")
