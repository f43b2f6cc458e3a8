"""Argument types the tools' command lines share: each refuses a bad value with a message that names it."""

from __future__ import annotations

import argparse
import math

from shared.synthetic.fleets import FleetMix, FleetMixError


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {raw}")
    return value


def port_number(raw: str) -> int:
    """A TCP port, or 0 for any free one."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, or 0 for any free one; got {raw}")
    return value


def positive_number(raw: str) -> float:
    """A finite number greater than 0 (a rate, a timeout)."""
    value = _finite(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {raw}")
    return value


def non_negative_number(raw: str) -> float:
    """A finite number, 0 or more (a duration that may be skipped)."""
    value = _finite(raw)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, got {raw}")
    return value


def share(raw: str) -> float:
    """A fraction from 0 to 1."""
    value = _finite(raw)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {raw}")
    return value


def _finite(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {raw}")
    return value


def fleet_mix(raw: str) -> FleetMix:
    """A device profile mix, ``steady=70,daily=10,...`` (shared/synthetic/fleets.py)."""
    try:
        return FleetMix.parse(raw)
    except FleetMixError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
