"""Sign-in (text2image:auth cognito): a Cognito user pool of people an administrator creates
(or, with text2image:signUpDomains, who sign up with an address of those domains), and the app
client the page and the CLI sign in with (no secret: both are public clients)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.functions import project_function
from infra.nag import acknowledge
from infra.powertools import layer_arn
from text2image.discovery import CognitoAuth, cognito_endpoint
from text2image.manifest import PRE_SIGN_UP

# The ID token the page and the CLI send lives an hour (Cognito's default), refreshed with the
# refresh token until it expires: a month, then the password again.
ID_TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.days(30)


class Auth(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        sign_up_domains: tuple[str, ...],
        powertools_layer_version: int,
        powertools_layer_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = self._build_user_pool(bool(sign_up_domains))
        if sign_up_domains:
            self._build_pre_sign_up(sign_up_domains, powertools_layer_version, powertools_layer_arn)
        self.client = self._build_client()
        self._acknowledge_findings()

    @property
    def discovery(self) -> CognitoAuth:
        """What /config.json tells the page and the CLI (CloudFormation's values at deploy)."""
        stack = Stack.of(self)
        return CognitoAuth(
            region=stack.region,
            userPoolId=self.user_pool.user_pool_id,
            clientId=self.client.user_pool_client_id,
            endpoint=cognito_endpoint(stack.region, stack.url_suffix),
        )

    def _build_user_pool(self, self_sign_up: bool) -> cognito.UserPool:
        return cognito.UserPool(
            self,
            "UserPool",
            # Without signUpDomains only an administrator creates users (AdminCreateUser, README);
            # with them anyone may try, and the pre sign-up trigger refuses other domains.
            self_sign_up_enabled=self_sign_up,
            # A user name to sign in with, or the e-mail address once verified.
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(email=cognito.StandardAttribute(required=True, mutable=True)),
            # A self sign-up proves the address (and so its domain) with the code Cognito mails.
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),  # a changed address counts once verified
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(7),  # an admin-created user's first password
            ),
            mfa=cognito.Mfa.OFF,
            # Lite: password sign-in and Lambda triggers are all this stack uses (Essentials and Plus bill more per user).
            feature_plan=cognito.FeaturePlan.LITE,
            # The accounts outlive the stack, as the images' bucket does: deleting the stack
            # must not delete the people who use it. A new stack makes a new pool.
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_pre_sign_up(self, domains: tuple[str, ...], layer_version: int, layer_arn_override: str) -> None:
        layer = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", layer_arn(Stack.of(self), layer_version, layer_arn_override))
        environment = {"SIGN_UP_DOMAINS": ",".join(domains), "POWERTOOLS_SERVICE_NAME": "text2image"}
        function = project_function(self, PRE_SIGN_UP, layer, environment)
        self.user_pool.add_trigger(cognito.UserPoolOperation.PRE_SIGN_UP, function)

    def _build_client(self) -> cognito.UserPoolClient:
        return self.user_pool.add_client(
            "Client",
            generate_secret=False,  # the page and the CLI cannot keep a secret
            # USER_PASSWORD_AUTH: InitiateAuth with the password over TLS, the same against
            # Cognito and moto; CDK adds ALLOW_REFRESH_TOKEN_AUTH to any flow.
            auth_flows=cognito.AuthFlow(user_password=True),
            disable_o_auth=True,  # no hosted UI, no redirects: the page has its own form
            prevent_user_existence_errors=True,  # a wrong user name and a wrong password read the same
            id_token_validity=ID_TOKEN_VALIDITY,
            access_token_validity=ID_TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            enable_token_revocation=True,  # sign-out revokes the refresh token
        )

    def _acknowledge_findings(self) -> None:
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "No MFA: a demo's users sign in with a 12-character password of four character classes; "
            "MFA would need a second factor in the page's and the CLI's sign-in, and can be added later.",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "Lite feature plan: threat protection (Plus) is billed per active user, out of scale for a demo; "
            "admin-created users (or sign-up for listed domains), the daily image quota and stage throttling bound the abuse instead.",
        )
