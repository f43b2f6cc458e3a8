"""Report and doc generators: the architecture diagram, the cdk-nag report and the mutation report."""
