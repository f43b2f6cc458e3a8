"""Hypothesis settings for the property tests: the same examples on every run, and fewer under mutation testing."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Set throughout a mutmut run (make mutation), which reruns the covering properties for every mutant.
MUTATING = "MUTANT_UNDER_TEST" in os.environ
MUTATION_EXAMPLES = 20


def property_settings(examples: int) -> settings:
    """The same examples on every run; a mutation run takes fewer, as it runs the properties for every mutant."""
    return settings(
        derandomize=True,
        max_examples=min(examples, MUTATION_EXAMPLES) if MUTATING else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],  # generating nested JSON can be slow on a cold start
    )
