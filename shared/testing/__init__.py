"""Test helpers every team's tests use: reading synthesized templates. Never part of a Lambda asset."""
