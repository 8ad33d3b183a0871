"""ECR host recognition (finding 5): every form AWS serves the registry under, and no other."""

from __future__ import annotations

import pytest

from soci_index_builder.store.remote.ecr_hosts import (
    EcrHost,
    ecr_registry_host,
    is_ecr_host,
    parse_ecr_host,
)

A = "123456789012"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (f"{A}.dkr.ecr.eu-west-1.amazonaws.com", EcrHost(A, "eu-west-1")),
        (f"{A}.dkr.ecr.us-gov-west-1.amazonaws.com", EcrHost(A, "us-gov-west-1")),
        (f"{A}.dkr.ecr-fips.us-east-1.amazonaws.com:443", EcrHost(A, "us-east-1", fips=True)),
        (f"{A}.dkr-ecr.us-east-1.on.aws", EcrHost(A, "us-east-1", dualstack=True)),
        (
            f"{A}.dkr-ecr-fips.us-east-2.on.aws",
            EcrHost(A, "us-east-2", fips=True, dualstack=True),
        ),
        (f"{A}.DKR.ECR.cn-northwest-1.amazonaws.com.cn", EcrHost(A, "cn-northwest-1")),
        (
            f"{A}.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
            EcrHost(A, "cn-north-1", dualstack=True),
        ),
        (f"{A}.dkr.ecr.us-iso-east-1.c2s.ic.gov", EcrHost(A, "us-iso-east-1")),
        (f"{A}.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", EcrHost(A, "us-isob-east-1")),
        (f"{A}.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", EcrHost(A, "eu-isoe-west-1")),
        (f"{A}.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", EcrHost(A, "us-isof-south-1")),
        (f"{A}.dkr.ecr.eusc-de-east-1.amazonaws.eu", EcrHost(A, "eusc-de-east-1")),
        (
            "vpce-0a1b2c3d4e5f67890-abcdefgh.dkr.ecr.eu-central-1.vpce.amazonaws.com",
            EcrHost(None, "eu-central-1", privatelink=True),
        ),
    ],
)
def test_ecr_host_forms(host: str, expected: EcrHost) -> None:
    assert parse_ecr_host(host) == expected
    assert is_ecr_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "public.ecr.aws",
        "127.0.0.1:5000",
        "ghcr.io",
        "12345.dkr.ecr.us-east-1.amazonaws.com",  # not a 12-digit account
        f"{A}.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        f"{A}.dkr.ecr.us-east-1.on.aws",  # dkr.ecr is never under on.aws
        f"{A}.dkr-ecr.us-east-1.amazonaws.com",  # nor dkr-ecr under amazonaws.com
        f"evil.example/{A}.dkr.ecr.us-east-1.amazonaws.com",
        f"{A}.dkr.ecr.us-east-1.amazonaws.com@evil.example",
    ],
)
def test_not_ecr_hosts(host: str) -> None:
    assert parse_ecr_host(host) is None


def test_ecr_registry_host_per_partition() -> None:
    assert ecr_registry_host(A, "eu-west-1") == f"{A}.dkr.ecr.eu-west-1.amazonaws.com"
    assert ecr_registry_host(A, "cn-north-1") == f"{A}.dkr.ecr.cn-north-1.amazonaws.com.cn"
    assert ecr_registry_host(A, "us-iso-east-1").endswith(".c2s.ic.gov")
    assert ecr_registry_host(A, "us-east-1", dualstack=True) == f"{A}.dkr-ecr.us-east-1.on.aws"
    for region in ("eu-west-1", "cn-north-1", "us-isob-east-1", "eusc-de-east-1"):
        for dualstack in (False, True):
            host = ecr_registry_host(A, region, dualstack=dualstack)
            assert parse_ecr_host(host) == EcrHost(A, region, dualstack=dualstack)
    for account, region in (("12", "us-east-1"), (A, "moon-1"), (A, "us-east-1/x")):
        with pytest.raises(ValueError):
            ecr_registry_host(account, region)
