"""What an operator runs against a deployed stage: replaying readings from the archive or the failure destination."""
