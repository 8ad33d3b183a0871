"""Lambda functions deployed by the CDK app (the asset root is this directory)."""
