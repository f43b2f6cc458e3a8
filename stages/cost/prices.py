"""AWS list prices as data: ``prices.json`` beside this module, read and checked here (docs/cost.md).

Each price carries its unit, its region, the page it is published on and the day it was read. A tiered price lists
its bands; ``Price.cost`` charges each band of a quantity at its own rate, as AWS bills a month's usage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("prices.json")


class PriceError(ValueError):
    """The price list is missing a price or holds a malformed one; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Band:
    up_to: float  # the band's upper bound in the price's unit, cumulative; math.inf for the last band
    usd: float


@dataclass(frozen=True, kw_only=True)
class Price:
    name: str
    per: str
    bands: tuple[Band, ...]  # one band for a flat price
    region: str
    source: str
    read_on: date

    def cost(self, quantity: float) -> float:
        """What ``quantity`` units cost in a month, each band of it at its own rate."""
        if quantity < 0:
            raise ValueError(f"{self.name}: a quantity cannot be negative, got {quantity}")
        total, below = 0.0, 0.0
        for band in self.bands:
            total += max(0.0, min(quantity, band.up_to) - below) * band.usd
            below = band.up_to
        return total


@dataclass(frozen=True, kw_only=True)
class PriceList:
    currency: str
    prices: Mapping[str, Price]

    def __getitem__(self, name: str) -> Price:
        try:
            return self.prices[name]
        except KeyError:
            raise PriceError(f"price list: no price named {name!r}") from None

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(price.region for price in self.prices.values())

    @property
    def oldest_reading(self) -> date:
        return min(price.read_on for price in self.prices.values())


def load_prices(path: Path = PRICES_FILE) -> PriceList:
    document = json.loads(path.read_text(encoding="utf-8"))
    return parse_prices(document)


def parse_prices(document: Any) -> PriceList:
    """The price list from its JSON document; a PriceError names every malformed price."""
    if not isinstance(document, dict) or not isinstance(document.get("prices"), dict):
        raise PriceError("price list: expected an object with a 'prices' object")
    errors: list[str] = []
    prices = {}
    for name, raw in document["prices"].items():
        try:
            prices[name] = _price(name, raw)
        except (KeyError, TypeError, ValueError) as error:
            errors.append(f"{name}: {error}")
    if errors:
        raise PriceError("price list:\n  - " + "\n  - ".join(errors))
    return PriceList(currency=str(document.get("currency", "USD")), prices=prices)


def _price(name: str, raw: dict[str, Any]) -> Price:
    if "tiers" in raw:
        bands = tuple(
            Band(up_to=math.inf if tier["up_to"] is None else float(tier["up_to"]), usd=float(tier["usd"]))
            for tier in raw["tiers"]
        )
    else:
        bands = (Band(up_to=math.inf, usd=float(raw["usd"])),)
    bounds = [band.up_to for band in bands]
    if not bands or bounds != sorted(set(bounds)) or bounds[-1] != math.inf:
        raise ValueError(f"tiers must rise strictly and end with an unbounded one (up_to null), got {bounds}")
    if any(band.usd < 0 for band in bands):
        raise ValueError("a price cannot be negative")
    return Price(
        name=name,
        per=str(raw["per"]),
        bands=bands,
        region=str(raw["region"]),
        source=str(raw["source"]),
        read_on=date.fromisoformat(str(raw["read_on"])),
    )
