"""Suite-wide Hypothesis settings: judge the code, not the machine's load.

CI runs on two shared cores; Hypothesis' per-example deadline and its "data generation is too
slow" health check measure that load, not the code under test, and failed runs that were
correct. Tests still set their own example counts and seeds.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("cimp", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cimp")
