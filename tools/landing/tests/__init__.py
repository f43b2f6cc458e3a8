"""Tests of the platform tools: the local emulator loops, the smoke test, replay, bake and the reports."""
