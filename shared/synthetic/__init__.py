"""Synthetic data for tests, the smoke test, benchmarks and the local run: readings, Kinesis events, KPL aggregates.

Never part of a Lambda asset.
"""
