"""What runs in the observability service's Lambda: the drift check. No CDK here."""
