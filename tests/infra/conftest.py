"""Session fixtures for the infrastructure tests: the layers built once, each environment synthesized once."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_layer_builder():
    spec = importlib.util.spec_from_file_location("layers_build", ROOT / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Synth:
    """One synthesized environment: its template, the stack (for annotations) and the assembly directory."""

    env_name: str
    template: object  # aws_cdk.assertions.Template
    stack: object
    outdir: Path

    @property
    def resources(self) -> dict:
        return self.template.to_json()["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}


@pytest.fixture(scope="session")
def layer_builder():
    return _load_layer_builder()


@pytest.fixture(scope="session")
def built_layers(layer_builder) -> dict[str, Path]:
    """Both layers (downloads from PyPI the first time; cached by requirement hash afterwards)."""
    return layer_builder.build_all()


def _synth(env_name: str, stage_assets: bool) -> Iterator[Synth]:
    from aws_cdk.assertions import Template

    from infra.app import build_app

    with tempfile.TemporaryDirectory(prefix=f"ingestplane-{env_name}-") as outdir:
        app, stack = build_app(env_name, outdir=outdir, stage_assets=stage_assets)
        app.synth()
        yield Synth(env_name, Template.from_stack(stack), stack, Path(outdir))


@pytest.fixture(scope="session")
def built_console() -> Path:
    """console/dist, which the stack deploys (built from the package-lock; a no-op when current)."""
    spec = importlib.util.spec_from_file_location("console_build", ROOT / "console" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build()


@pytest.fixture(scope="session")
def dev(built_layers, built_console) -> Iterator[Synth]:
    """The dev stack, assets staged (the size test reads the staged function code)."""
    yield from _synth("dev", stage_assets=True)


@pytest.fixture(scope="session")
def prod(built_layers, built_console) -> Iterator[Synth]:
    yield from _synth("prod", stage_assets=False)


@pytest.fixture(scope="session")
def asl() -> dict:
    return json.loads((ROOT / "infra" / "state_machines" / "sync.asl.json").read_text())
