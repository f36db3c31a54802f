"""The CDK app: one stack per environment (`ingestplane-<env>`), checked by cdk-nag AwsSolutions.

    node_modules/.bin/cdk synth -c env=prod     # through the CDK CLI (cdk.json runs this module)
    .venv/bin/python -m infra.app -c env=prod   # without the CLI: writes cdk.out/
    from infra.app import synth_template        # the template as a dict, for tests and the local cloud

Prerequisite: the Lambda layers exist (`.venv/bin/python layers/build.py`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# jsii prints a banner on every start under Node 20 (end of life); the CDK still works there.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Aspects, Environment  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.stacks.config import EnvConfig  # noqa: E402
from infra.stacks.ingestplane import IngestPlaneStack, stack_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV = "dev"


def cdk_json_context() -> dict[str, Any]:
    """The `context` of cdk.json (environments and feature flags), used when no CDK CLI passes it."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


def build_app(
    env_name: str | None = None,
    *,
    outdir: str | None = None,
    nag: bool = True,
    stage_assets: bool = True,
    context: dict[str, Any] | None = None,
) -> tuple[App, IngestPlaneStack]:
    """The app with the stack of `env_name` (default: context `env`, then dev), cdk-nag applied.

    `stage_assets=False` leaves assets where they are instead of copying ~220 MB of layers into the
    output directory: the template is the same, only the asset paths differ (for tests; not deployable).
    `context` replaces top-level keys of cdk.json's context (tests use it to vary an environment).
    """
    context = {**cdk_json_context(), **(context or {})}
    if env_name is not None:
        context["env"] = env_name
    if not stage_assets:
        context["aws:cdk:disable-asset-staging"] = True
    app = App(context=context, outdir=outdir)  # CLI context (-c) overrides these defaults
    name = app.node.try_get_context("env") or DEFAULT_ENV
    config = EnvConfig.from_context(name, app.node.try_get_context("environments"))
    # Environment-agnostic unless CDK_DEFAULT_ACCOUNT/REGION are set (by the CLI with credentials).
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    stack = IngestPlaneStack(app, stack_name(name), stack_name=stack_name(name), config=config, env=env)
    if nag:
        Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def synth_template(env_name: str = "dev", *, stage_assets: bool = True) -> dict:
    """The synthesized CloudFormation template of `ingestplane-<env_name>` (one stack) as a dict.

    Needs no CDK CLI, Docker or AWS credentials; the layers must be built. cdk-nag runs too: its
    findings are annotations (see tests/infra), not exceptions.
    """
    with tempfile.TemporaryDirectory(prefix="ingestplane-synth-") as outdir:
        app, stack = build_app(env_name, outdir=outdir, stage_assets=stage_assets)
        assembly = app.synth()
        return assembly.get_stack_by_name(stack.stack_name).template


def _cli_context(argv: list[str]) -> dict[str, str]:
    """`-c KEY=VALUE` / `--context KEY=VALUE` pairs, as the CDK CLI accepts them."""
    pairs: dict[str, str] = {}
    it = iter(argv)
    for arg in it:
        if arg in ("-c", "--context"):
            key, _, value = next(it, "").partition("=")
            pairs[key] = value
    return pairs


def main(argv: list[str] | None = None) -> int:
    extra = _cli_context(sys.argv[1:] if argv is None else argv)
    # Under the CDK CLI, CDK_OUTDIR says where; run alone, write cdk.out/ as the CLI would.
    app, _ = build_app(extra.get("env"), outdir=os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out"))
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
