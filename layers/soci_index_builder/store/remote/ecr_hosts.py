"""Amazon ECR registry host names: the one place that recognises and builds them.

Every form AWS serves the registry API under (see ``docs/credentials.md``): the standard
``<account>.dkr.ecr.<region>.amazonaws.com``, FIPS ``dkr.ecr-fips``, dual-stack
``<account>.dkr-ecr[-fips].<region>.on.aws``, China ``.amazonaws.com.cn`` and
``.on.amazonwebservices.com.cn``, the ISO partitions, the European Sovereign Cloud
(``.amazonaws.eu``) and PrivateLink endpoint names
``vpce-<id>.dkr.ecr.<region>.vpce.amazonaws.com``.
The pattern follows amazon-ecr-credential-helper's, which docker and containerd users rely on.
Stdlib only: the Lambda's event validation and the CLI use it without boto3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCOUNT_PATTERN = r"[0-9]{12}"
REGION_PATTERN = r"[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}"

#: Partitions by region prefix: (prefix, DNS suffix, dual-stack DNS suffix); first match wins.
_PARTITIONS: tuple[tuple[str, str, str], ...] = (
    ("cn-", "amazonaws.com.cn", "on.amazonwebservices.com.cn"),
    ("us-isob-", "sc2s.sgov.gov", "on.aws.scloud"),
    ("us-isof-", "csp.hci.ic.gov", "on.aws.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov", "on.aws.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk", "on.cloud-aws.adc-e.uk"),
    ("eusc-", "amazonaws.eu", "on.amazonwebservices.eu"),
    ("", "amazonaws.com", "on.aws"),
)
_STANDARD = frozenset(p[1] for p in _PARTITIONS)
_SUFFIXES = "|".join(re.escape(s) for p in _PARTITIONS for s in p[1:])
_HOST_RE = re.compile(
    rf"(?P<account>{ACCOUNT_PATTERN})\.dkr(?P<sep>[.-])ecr(?P<fips>-fips)?"
    rf"\.(?P<region>{REGION_PATTERN})\.(?P<suffix>{_SUFFIXES})"
)
_VPCE_RE = re.compile(
    rf"vpce-[0-9a-z]+(?:-[0-9a-z]+)*\.dkr\.ecr(?P<fips>-fips)?\.(?P<region>{REGION_PATTERN})"
    r"\.vpce\.amazonaws\.com(?:\.cn)?"
)


@dataclass(frozen=True)
class EcrHost:
    """What an ECR host name says: ``account`` is None for PrivateLink endpoint names."""

    account: str | None
    region: str
    fips: bool = False
    dualstack: bool = False
    privatelink: bool = False


def parse_ecr_host(host: str) -> EcrHost | None:
    """The ECR registry a host (``name[:port]``, any case) names, or None for other hosts."""
    name = host.lower().partition(":")[0].rstrip(".")
    if match := _HOST_RE.fullmatch(name):
        dualstack = match["sep"] == "-"
        if dualstack == (match["suffix"] in _STANDARD):
            return None  # dkr.ecr only under the standard suffixes, dkr-ecr only under on.*
        return EcrHost(match["account"], match["region"], bool(match["fips"]), dualstack)
    if match := _VPCE_RE.fullmatch(name):
        return EcrHost(None, match["region"], bool(match["fips"]), privatelink=True)
    return None


def is_ecr_host(host: str) -> bool:
    """True for an ECR private registry host in any of its forms (port ignored)."""
    return parse_ecr_host(host) is not None


def is_account(text: str) -> bool:
    return re.fullmatch(ACCOUNT_PATTERN, text) is not None


def is_region(text: str) -> bool:
    return re.fullmatch(REGION_PATTERN, text) is not None


def ecr_registry_host(account: str, region: str, *, dualstack: bool = False) -> str:
    """The registry host of ``account`` in ``region`` (partition suffix from the region)."""
    if not is_account(account):
        raise ValueError(f"not an AWS account id: {account!r}")
    if not is_region(region):
        raise ValueError(f"not an AWS region: {region!r}")
    standard, on_aws = next((s, d) for p, s, d in _PARTITIONS if region.startswith(p))
    if dualstack:
        return f"{account}.dkr-ecr.{region}.{on_aws}"
    return f"{account}.dkr.ecr.{region}.{standard}"
