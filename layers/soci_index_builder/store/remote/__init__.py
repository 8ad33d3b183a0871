"""OCI distribution API client (urllib3) for ECR and every other registry."""
