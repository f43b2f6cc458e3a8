"""Put synthetic readings on a stage's stream and prove where each one landed: the smoke test's library, shared by
the pipeline's steps, the local run and the operators' tools.

``targets`` finds a stage's stream, table and buckets; ``producers`` puts readings (plain or KPL-aggregated);
``locate`` searches the table, the quarantine, the failure destination, the archive and the alerts; ``report``
says what is missing, and where.
"""
