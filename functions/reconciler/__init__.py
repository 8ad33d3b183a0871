"""The reconciler Lambda: converge the account's ECR repositories (docs/fleet.md)."""
