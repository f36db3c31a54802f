"""Cognito, and cdk-nag AwsSolutions with every finding fixed or suppressed with a reason."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match


def test_user_pool_self_signup_email_password_policy(dev):
    (pool,) = dev.of_type("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert "UsernameAttributes" not in props  # people sign up and sign in with a username ...
    # ... never with an email no one verified: the auth function confirms sign-ups itself, so Cognito
    # verifies no email and sends no message (its own mailer allows about 50 a day per account)
    assert not props.get("AliasAttributes")
    assert not props.get("AutoVerifiedAttributes")
    assert {"Name": "email", "Mutable": True, "Required": True} in props["Schema"]
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 8
    assert all(
        policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )


def test_app_client_password_auth_without_secret(dev):
    (client,) = dev.of_type("AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert "ALLOW_USER_PASSWORD_AUTH" in props["ExplicitAuthFlows"]
    assert props.get("GenerateSecret", False) is False
    # no OAuth: CDK's defaults (implicit and code grants, callback https://example.com) are off
    assert props["AllowedOAuthFlowsUserPoolClient"] is False
    assert not props.get("AllowedOAuthFlows") and not props.get("CallbackURLs")


@pytest.mark.parametrize("env_fixture", ["dev", "prod"])
def test_cdk_nag_has_no_unsuppressed_findings(request, env_fixture):
    synth = request.getfixturevalue(env_fixture)
    annotations = Annotations.from_stack(synth.stack)
    findings = annotations.find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    ) + annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert findings == [], "\n".join(f"{f.id}: {f.entry.data}" for f in findings)


def test_every_suppression_has_a_reason(dev):
    reasons = []
    for resource in dev.resources.values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            reasons.append((rule["id"], rule["reason"]))
    assert reasons
    for rule_id, reason in reasons:
        assert rule_id.startswith("AwsSolutions-") and len(reason) >= 40, (rule_id, reason)
