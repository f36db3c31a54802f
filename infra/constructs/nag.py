"""cdk-nag suppression helpers: every suppression names its rule, the findings it covers, and why."""

from __future__ import annotations

from collections.abc import Sequence

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct


def suppress(
    construct: IConstruct | Sequence[IConstruct],
    rule: str,
    reason: str,
    applies_to: Sequence[str] | None = None,
    children: bool = True,
) -> None:
    """Suppress `AwsSolutions-<rule>` on `construct` (and its children); `applies_to` entries are regexes."""
    findings = [RegexAppliesTo(regex=f"/{pattern}/") for pattern in applies_to] if applies_to else None
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=f"AwsSolutions-{rule}", reason=reason, applies_to=findings)],
        apply_to_children=children,
    )


XRAY_REASON = (
    "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; CDK adds them "
    "for active tracing on Resource '*'."
)
