"""CDK entry point (``cdk.json``): context in, one stack out, cdk-nag always on.

Context keys are listed in :data:`infra.settings.CONTEXT_KEYS` and docs/deploy.md.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from .settings import CONTEXT_KEYS, ContextError, props_from_context
from .stack import SociIndexBuilderStack

DEFAULT_STACK_NAME = "SociIndexBuilder"


def build_app(app: cdk.App) -> SociIndexBuilderStack:
    """Add the stack described by ``app``'s context; also used by the tests."""
    context = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    stack = SociIndexBuilderStack(
        app,
        str(app.node.try_get_context("stackName") or DEFAULT_STACK_NAME),
        props=props_from_context(context),
        alarm_email=app.node.try_get_context("alarmEmail"),
        alarm_topic_arn=app.node.try_get_context("alarmTopicArn"),
    )
    if str(app.node.try_get_context("nag")).lower() != "false":
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> None:
    """Synthesize the app into cdk.out (run by the CDK CLI); a bad input is one line."""
    app = cdk.App()
    try:
        build_app(app)
    except ContextError as exc:
        sys.exit(f"error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
