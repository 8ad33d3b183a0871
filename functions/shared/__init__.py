"""What the Lambdas share: the operator's SSM configuration and one registry client per host."""
