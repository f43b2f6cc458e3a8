"""The embedded platform and its runner, the main job (`make local`, ``python -m tools.local.run``).

moto's server stands in for AWS (``emulator``, ``emulator_server``); the local stage's real templates are created
there (``deploy``); the deployed processor code runs in worker processes (``function``, ``lambda_worker``) behind
a local event source mapping, and a local Firehose feeds the raw archive (``event_source_mapping``, ``firehose``,
``shard_reader``): the two things the emulator cannot do.
"""
