"""The pipeline's own steps (pipeline/pipeline_stack.py runs each through a Makefile target in CodeBuild): stage
verification, the smoke test and its MQTT leg, the bake, and prod's change report (also `make diff`)."""
