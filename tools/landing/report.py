"""What a smoke test or a local run prints: a summary table and, on failure, what is missing and where."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tools.landing.locate import Checks, Landing, missing
from tools.landing.producers import Sent


def report(sent: Sequence[Sent], landing: Landing, *, checks: Checks) -> tuple[str, bool]:
    """A summary table and, on failure, the precise list of what is missing where."""
    kinds = Counter("invalid" if s.record.invalid_reason else "anomaly" if s.record.anomaly else "normal" for s in sent)
    places = Counter(place for found in landing.places.values() for place in found)
    absent = missing(sent, landing, checks=checks)
    flagged = sum(
        1
        for index, item in enumerate(sent)
        if item.record.anomaly and "table" in landing.places.get(index, set()) and index not in landing.problems
    )
    reasons = dict(sorted(landing.quarantine_reasons.items()))
    lines = [
        f"{'records put':<28}{len(sent):>8}   "
        f"(normal {kinds['normal']}, anomalies {kinds['anomaly']}, invalid {kinds['invalid']})",
        f"{'in readings table':<28}{places['table']:>8}",
        f"{'  flagged as anomaly':<28}{flagged:>8}",
        *([f"{'  alerted':<28}{places['alert']:>8}"] if checks.alerts is not None else []),
        f"{'in quarantine':<28}{places['quarantine']:>8}   {reasons}",
        f"{'in failure destination':<28}{places['failure destination']:>8}",
    ]
    if checks.archive:
        lines.append(f"{'in raw archive':<28}{places['archive']:>8}")
    ok = not absent and not landing.problems
    lines.append(f"{'result':<28}{'PASS' if ok else 'FAIL':>8}")
    for index, what in sorted(absent.items())[:50]:
        item = sent[index]
        name = item.record.reading_id or "(invalid record)"
        lines.append(f"  missing from {what}: reading {name} sensor {item.record.sensor_id} seq {item.sequence_number}")
    for index, problem in sorted(landing.problems.items())[:50]:
        lines.append(f"  wrong: reading {sent[index].record.reading_id or sent[index].sequence_number}: {problem}")
    if len(absent) > 50:
        lines.append(f"  ... and {len(absent) - 50} more missing")
    return "\n".join(lines), ok
