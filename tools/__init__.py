"""Everything that runs beside the platform rather than in it, in layers that import downwards only:

- ``steps``, ``local``, ``operations``, ``reports``: independent of each other (the pipeline's steps, the embedded
  platform and its runner, the operators' tools, report and doc generators);
- ``landing``: the library they share, which puts synthetic readings and locates where each one landed;
- ``common``: argument types, AWS sessions, the CDK app built in process.

``make lint`` enforces the layers (import-linter contracts in pyproject.toml).
"""
