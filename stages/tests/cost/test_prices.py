"""The price list: every price the model names is there, bands charge each part of a quantity at its own rate."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from stages.cost.prices import Band, Price, PriceError, load_prices, parse_prices

TIERED = Price(
    name="tiered",
    per="GB",
    bands=(Band(up_to=10, usd=1.0), Band(up_to=30, usd=0.5), Band(up_to=math.inf, usd=0.25)),
    region="us-east-1",
    source="https://example.invalid/",
    read_on=date(2026, 12, 6),
)


@pytest.mark.parametrize(
    ("quantity", "usd"),
    [(0, 0.0), (9.5, 9.5), (10, 10.0), (10.5, 10.25), (30, 20.0), (31, 20.25), (100, 37.5)],
)
def test_each_band_of_a_quantity_is_charged_at_its_own_rate(quantity: float, usd: float) -> None:
    assert TIERED.cost(quantity) == pytest.approx(usd)


def test_a_negative_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match="tiered: a quantity cannot be negative"):
        TIERED.cost(-1)


def test_the_committed_list_names_region_source_and_date_for_every_price() -> None:
    prices = load_prices()
    assert prices.currency == "USD"
    assert prices.regions == {"us-east-1"}
    for price in prices.prices.values():
        assert price.source.startswith("https://aws.amazon.com/"), price.name
        assert price.read_on == date(2026, 12, 6), price.name
        assert price.bands[-1].up_to == math.inf


def flat(**changes: Any) -> dict[str, Any]:
    return {"usd": 1.0, "per": "GB", "region": "us-east-1", "source": "https://x/", "read_on": "2026-12-06", **changes}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({k: v for k, v in flat().items() if k != "usd"}, "p: 'usd'"),
        (flat(read_on="yesterday"), "p: Invalid isoformat string"),
        (flat(usd=-1), "p: a price cannot be negative"),
        (flat(tiers=[{"up_to": 10, "usd": 1}, {"up_to": 5, "usd": 1}, {"up_to": None, "usd": 1}]), "must rise"),
        (flat(tiers=[{"up_to": 10, "usd": 1}]), "end with an unbounded one"),
    ],
)
def test_a_malformed_price_is_named(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(PriceError, match=problem):
        parse_prices({"prices": {"p": raw}})


def test_an_unknown_price_is_named() -> None:
    with pytest.raises(PriceError, match="no price named 'gold'"):
        load_prices()["gold"]


def test_a_document_without_prices_is_refused() -> None:
    with pytest.raises(PriceError, match="expected an object with a 'prices' object"):
        parse_prices([])
