"""What AWS would refuse, checked by validators no one here wrote: asl-validator on every state machine
(npm, pinned in package.json) and cfn-lint on the synthesized templates (pip, pinned in pyproject's dev
extras). cdk-nag runs in test_security.py. moto checks none of this."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.infra.conftest import ROOT

ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
ASL_FILES = sorted((ROOT / "infra" / "state_machines").glob("*.asl.json"))
# cfn-lint findings that are not defects, each with its reason. Anything else (any error, any other
# warning) fails the test.
ALLOWED = {
    "W3005": "CDK adds DependsOn on a resource that a GetAtt already depends on (its own ordering)",
}


def test_there_are_state_machines_to_validate():
    assert ASL_FILES, "no infra/state_machines/*.asl.json"


@pytest.mark.parametrize("path", ASL_FILES, ids=[p.name for p in ASL_FILES])
def test_asl_validator_accepts_the_state_machine(path):
    assert ASL_VALIDATOR.exists(), "asl-validator is not installed: run `make node_modules/.installed`"
    done = subprocess.run(  # noqa: S603 - the pinned validator on a file of this repository
        [str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_asl_validator_catches_duplicate_state_names(tmp_path):
    """The gate can fail: a second state named like one in another Map's processor is refused."""
    asl = json.loads(ASL_FILES[0].read_text())
    inline = asl["States"]["IngestUnitsInline"]["ItemProcessor"]
    (name,) = inline["States"]
    asl["States"][name] = {"Type": "Pass", "End": True}
    bad = tmp_path / "duplicate.asl.json"
    bad.write_text(json.dumps(asl))
    done = subprocess.run(  # noqa: S603
        [str(ASL_VALIDATOR), "--json-path", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "DUPLICATE_STATE_NAMES" in done.stdout + done.stderr


@pytest.mark.parametrize("env_fixture", ["dev", "prod"])
def test_cfn_lint_finds_nothing_in_the_template(request, env_fixture):
    from cfnlint.api import ManualArgs, lint

    template = request.getfixturevalue(env_fixture).template.to_json()
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    found = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches]
    assert [f for f in found if f.split()[0] not in ALLOWED] == []
