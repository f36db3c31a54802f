"""The seven functions: platform, layers, environment, least-privilege roles, and the 250 MB size limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.core.settings import Settings
from functions.families import FAMILIES, WORKERS
from infra.constructs.functions import DATA_FUNCTIONS, FUNCTIONS
from tests.infra.helpers import actions_of, function_id, mentions, role_statements, table_id

ALL = FAMILIES + WORKERS
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # code + layers, unzipped (262,144,000 bytes)
REQUIRED_SETTINGS = sorted(f.alias for f in Settings.model_fields.values() if f.is_required())


def our_layers(synth) -> dict[str, dict]:
    """Our layers (named); CDK's BucketDeployment brings an unnamed AWS CLI layer of its own."""
    return {
        k: v for k, v in synth.of_type("AWS::Lambda::LayerVersion").items() if "LayerName" in v["Properties"]
    }


def layer_ids(synth) -> dict[str, str]:
    return {v["Properties"]["LayerName"].rsplit("-", 2)[-2]: k for k, v in our_layers(synth).items()}


def test_seven_functions(dev):
    names = {v["Properties"].get("FunctionName") for v in dev.of_type("AWS::Lambda::Function").values()}
    assert {f"ingestplane-dev-{n}" for n in ALL} <= names
    assert set(FUNCTIONS) == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_function_platform_handler_tracing_layers(dev, name):
    props = dev.resources[function_id(dev, name)]["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == f"functions.{name}.handler.lambda_handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    layers = layer_ids(dev)
    expected = [{"Ref": layers["api"]}] + ([{"Ref": layers["data"]}] if name in DATA_FUNCTIONS else [])
    assert props["Layers"] == expected
    assert props["MemorySize"] == FUNCTIONS[name].memory
    assert props["Timeout"] == FUNCTIONS[name].timeout
    if name in FAMILIES:
        assert props["Timeout"] <= 29  # API Gateway's integration timeout is 30 s


def test_workers_get_more_memory_than_api_functions(dev):
    api = max(FUNCTIONS[n].memory for n in FAMILIES)
    assert all(FUNCTIONS[w].memory > api for w in WORKERS)


def test_layers_are_python312_arm64(dev):
    layers = our_layers(dev)
    assert len(layers) == 2
    for layer in layers.values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.parametrize("name", ALL)
def test_function_environment_has_every_required_setting(dev, name):
    env = dev.resources[function_id(dev, name)]["Properties"]["Environment"]["Variables"]
    assert set(REQUIRED_SETTINGS) <= set(env)
    assert env["ENV_NAME"] == "dev"
    assert env["POWERTOOLS_SERVICE_NAME"] == name
    assert {"POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"} <= set(env)
    assert env["PROJECTS_TABLE"] == {"Ref": table_id(dev, "projects")}
    if name in ("jobs", "workflow"):
        assert {"STATE_MACHINE_ARN", "SCHEDULER_GROUP", "SCHEDULER_ROLE_ARN"} <= set(env)
        assert env["SCHEDULER_GROUP"] == "ingestplane-dev-schedules"


@pytest.mark.parametrize("name", ALL)
def test_function_log_group_with_retention(dev, name):
    groups = [
        v
        for v in dev.of_type("AWS::Logs::LogGroup").values()
        if v["Properties"]["LogGroupName"] == f"/aws/lambda/ingestplane-dev-{name}"
    ]
    assert len(groups) == 1 and groups[0]["Properties"]["RetentionInDays"] == 14


@pytest.mark.parametrize("name", ALL)
def test_roles_have_no_wildcard_actions_and_no_managed_policies(dev, name):
    for statement in role_statements(dev, name):
        for action in actions_of(statement):
            assert action != "*" and not action.endswith(":*"), (name, action)
        if statement["Resource"] == "*":
            assert set(actions_of(statement)) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    role_id = dev.resources[function_id(dev, name)]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in dev.resources[role_id]["Properties"]


def _table_access(synth, name: str) -> dict[str, set[str]]:
    access: dict[str, set[str]] = {}
    for statement in role_statements(synth, name):
        dynamo = [a for a in actions_of(statement) if a.startswith("dynamodb:")]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                access.setdefault(resource["Fn::GetAtt"][0], set()).update(dynamo)
    return access


@pytest.mark.parametrize("name", ALL)
def test_each_function_reaches_only_its_tables(dev, name):
    access = _table_access(dev, name)
    for logical, mode in FUNCTIONS[name].tables.items():
        granted = access.pop(table_id(dev, logical))
        assert ("dynamodb:PutItem" in granted) == (mode == "rw"), (name, logical)
    assert not [k for k in access if k.startswith("Tables")], f"{name} reaches tables it should not: {access}"


def _grants(synth, name: str, action: str) -> bool:
    return any(action in actions_of(s) for s in role_statements(synth, name))


def test_only_jobs_starts_syncs_and_manages_schedules(dev):
    """ingest also starts the state machine, for an uploaded file too big for one invocation; projects stops
    a deleted project's runs (and deletes its schedules) but starts nothing."""
    for name in ALL:
        assert _grants(dev, name, "states:StartExecution") == (name in ("jobs", "ingest"))
        assert _grants(dev, name, "states:StopExecution") == (name in ("jobs", "projects"))
        assert _grants(dev, name, "scheduler:CreateSchedule") == (name == "jobs")
        assert _grants(dev, name, "iam:PassRole") == (name == "jobs")


def test_cognito_admin_actions_only_where_the_code_calls_them(dev):
    """signup confirms the user it made or removes it (auth); adding a member looks the user up."""
    wanted = {
        # and looks up the holder of an email claim to free a stale one
        "auth": {"cognito-idp:AdminConfirmSignUp", "cognito-idp:AdminDeleteUser", "cognito-idp:AdminGetUser"},
        "projects": {"cognito-idp:AdminGetUser"},
    }
    for name in ALL:
        statements = [
            s for s in role_statements(dev, name) if any(a.startswith("cognito-idp:") for a in actions_of(s))
        ]
        assert {a for s in statements for a in actions_of(s)} == wanted.get(name, set()), name
        for statement in statements:
            assert mentions(statement["Resource"], ":userpool/"), statement


def test_connector_secrets_are_scoped_to_the_environment(dev):
    for name in ALL:
        # connectors, and jobs which may create the connectors a job names
        assert _grants(dev, name, "secretsmanager:CreateSecret") == (name in ("connectors", "jobs"))
        for statement in role_statements(dev, name):
            if any(a.startswith("secretsmanager:") for a in actions_of(statement)):
                assert mentions(statement["Resource"], ":secret:ingestplane/dev/connectors/*")
    assert _grants(dev, "workflow", "secretsmanager:GetSecretValue")


def test_glue_only_for_functions_that_write_tables_and_s3_only_by_prefix(dev):
    for name in ALL:
        assert _grants(dev, name, "glue:UpdateTable") == (name in ("ingest", "workflow"))
        assert _grants(dev, name, "glue:CreateDatabase") == (name in ("connectors", "ingest", "workflow"))
        for statement in role_statements(dev, name):
            if any(a.startswith("glue:") for a in actions_of(statement)):
                assert not mentions(statement["Resource"], "database/*"), (name, statement)  # p_* only
        for statement in role_statements(dev, name):
            object_actions = [a for a in actions_of(statement) if a.startswith("s3:") and "Object" in a]
            if object_actions and "s3:ListBucket" not in actions_of(statement):
                resources = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                for resource in resources:
                    suffix = resource["Fn::Join"][1][-1]
                    assert suffix in ("/uploads/*", "/lake/*", "/trash/*", "/logs/*", "/rejects/*"), (
                        name,
                        suffix,
                    )
    assert not any(s for s in role_statements(dev, "auth") if any(a.startswith("s3:") for a in actions_of(s)))


def test_api_functions_reserve_concurrency_from_cdk_json_and_ingestion_is_capped(dev, prod):
    """Ingestion (the SQS trigger, the Map's children) cannot take the API functions' executions: prod
    reserves theirs; every environment caps the ingest trigger's concurrency (the Map's is
    map_concurrency)."""
    from infra.app import cdk_json_context

    environments = cdk_json_context()["environments"]
    reserved = environments["prod"]["api_reserved_concurrency"]
    assert set(reserved) == set(FAMILIES)

    def by_name(synth) -> dict[str, dict]:
        functions = synth.of_type("AWS::Lambda::Function").values()
        return {f["Properties"].get("FunctionName"): f["Properties"] for f in functions}

    prod_functions, dev_functions = by_name(prod), by_name(dev)
    for name in ALL:
        props = prod_functions[f"ingestplane-prod-{name}"]
        assert props.get("ReservedConcurrentExecutions") == reserved.get(name), name
        # dev reserves none (a new account's quota is too small to reserve from: see docs/operations.md)
        assert "ReservedConcurrentExecutions" not in dev_functions[f"ingestplane-dev-{name}"]
    for synth in (dev, prod):
        (mapping,) = synth.of_type("AWS::Lambda::EventSourceMapping").values()
        cap = environments[synth.env_name]["ingest_max_concurrency"]
        assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": cap}


# --- what gets deployed: code + layers under Lambda's unzipped limit, and only the code each function needs


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _asset_dir(synth, logical_id: str) -> Path:
    """The staged directory of a function's code asset (`<outdir>/asset.<hash>` for S3 key `<hash>.zip`)."""
    key = synth.resources[logical_id]["Properties"]["Code"]["S3Key"]
    return synth.outdir / f"asset.{key.removesuffix('.zip')}"


def test_function_code_stages_only_its_packages(dev):
    for name in ALL:
        staged = _asset_dir(dev, function_id(dev, name))
        top = sorted(p.name for p in staged.iterdir())
        assert top == ["functions"], (name, top)
        packages = sorted(p.name for p in (staged / "functions").iterdir())
        expected = sorted(["__init__.py", "core", name] + (["engine"] if name in DATA_FUNCTIONS else []))
        assert packages == expected, (name, packages)
        assert not list(staged.rglob("__pycache__"))


def test_each_function_code_plus_layers_is_under_250_mb(dev, built_layers, capsys):
    layers = {k: _dir_size(v) for k, v in built_layers.items()}
    report = {}
    for name in ALL:
        code = _dir_size(_asset_dir(dev, function_id(dev, name)))
        total = code + layers["api"] + (layers["data"] if name in DATA_FUNCTIONS else 0)
        report[name] = {"code": code, "total": total}
        assert total < LAMBDA_UNZIPPED_LIMIT, f"{name}: {total / 2**20:.1f} MiB unzipped"
    with capsys.disabled():
        print(
            "\nunzipped MiB (code + layers):",
            json.dumps({k: round(v["total"] / 2**20, 1) for k, v in report.items()}),
        )


def test_layer_build_is_cached(layer_builder, built_layers, monkeypatch):
    def no_install(*_args, **_kwargs):
        raise AssertionError("a built layer with the same requirements was installed again")

    monkeypatch.setattr(layer_builder, "pip_install", no_install)
    assert layer_builder.build_all() == built_layers


def test_layers_hold_their_requirement_sets(built_layers):
    api, data = built_layers["api"], built_layers["data"]
    assert (api / "aws_lambda_powertools").is_dir() and (api / "pydantic").is_dir()
    assert (data / "pyarrow").is_dir() and (data / "pyiceberg").is_dir() and (data / "fastavro").is_dir()
    assert not (data / "pydantic").exists()  # shipped once, by the API layer
    assert not (api / "pyarrow").exists()  # API functions never carry pyarrow
    assert not list(data.rglob("__pycache__")) and not list(data.glob("pyarrow/include"))


def test_the_local_cloud_gives_workers_their_deployed_timeouts():
    """The ingest function's remaining-time check reads its context: locally as deployed."""
    from infra.local.runtime import WORKER_TIMEOUT_SECONDS

    assert WORKER_TIMEOUT_SECONDS == {name: FUNCTIONS[name].timeout for name in WORKERS}
