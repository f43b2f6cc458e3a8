"""What every tool builds on: argument types, AWS sessions, the CDK app built in process."""
