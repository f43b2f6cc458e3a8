"""Benchmarks of the embedded platform (`make bench-emulator`): figures printed, never asserted."""
