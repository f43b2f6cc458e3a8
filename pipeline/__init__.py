"""The delivery pipeline: a self-mutating CDK Pipeline that promotes the stages (platform team)."""
