"""The ingest team's benchmarks of the processor (`make bench`): figures printed, never asserted."""
