"""The indexer Lambda: ECR push events in, SOCI indexes out (entry point: ``handler.handler``)."""
