"""The Cognito user pool for people, and the app client the auth function logs them in with."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.constructs.nag import suppress
from infra.resources import physical_name
from infra.stacks.config import EnvConfig


class UserDirectory(Construct):
    """Self sign-up (confirmed by the auth function), a strong password policy, and a secretless
    USER_PASSWORD_AUTH client without OAuth."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        self.pool = cognito.UserPool(
            self,
            "Pool",
            user_pool_name=physical_name(config.name, "users"),
            self_sign_up_enabled=True,
            # People sign in with their username only. The auth function confirms each sign-up itself
            # (AdminConfirmSignUp), so Cognito verifies no email: auto-verifying would send a code on every
            # sign-up from Cognito's own mailer (about 50 a day per account) for nothing, and an email alias
            # would offer sign-in by an address no one verified. The auth function keeps emails unique.
            sign_in_aliases=cognito.SignInAliases(username=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=False, phone=False),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=8,  # the API's rule (functions/core/models/accounts.py POLICY_TEXT)
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal,
        )
        self.client = self.pool.add_client(
            "ApiClient",
            user_pool_client_name=physical_name(config.name, "api"),
            generate_secret=False,  # the auth function calls InitiateAuth without a secret hash
            auth_flows=cognito.AuthFlow(user_password=True),
            disable_o_auth=True,  # no hosted UI, no redirects: CDK's default would allow implicit grants
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        suppress(
            self.pool,
            "COG2",
            "MFA is optional (TOTP): the compatible API dialects log in with USER_PASSWORD_AUTH and machines "
            "use project API keys; requiring MFA would break those clients.",
        )
        plus_reason = (
            "Threat protection (advanced security) needs the Cognito Plus feature plan, a cost decision the "
            "project has not made; brute force is limited by Cognito's own lockout and API throttling."
        )
        suppress(self.pool, "COG3", plus_reason)
        suppress(self.pool, "COG8", plus_reason)
