"""Kinesis record formats every service may meet on a stream: the KPL aggregate decoder (part of the Lambda asset)."""
