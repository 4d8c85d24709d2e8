"""Sign-in on the synthesized stacks (infra/auth.py, infra/api.py, infra/cdn.py): the user pool
without open sign-up, the public app client, API Gateway's Cognito authorizer on every signed-in
route, CloudFront passing the token on, /config.json; and the open stack of auth=none."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template
from infra_synth import Synth
from template_queries import flattened, of_type, resource_path

from infra.api import declared_routes
from infra.auth import Auth
from text2image.discovery import CONFIG_FILE, CognitoAuth, config_document
from text2image.manifest import HISTORY, PRE_SIGN_UP
from text2image.routes import BEHAVIORS, HISTORY_ROUTE, SIGNED_IN_ROUTES, Origin

# CloudFront's managed policies (CloudFront developer guide, "Use managed cache policies" and
# "Use managed origin request policies").
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def user_pool(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((name, props),) = of_type(resources, "AWS::Cognito::UserPool").items()
    return name, props


def methods(resources: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = of_type(resources, "AWS::ApiGateway::Method").values()
    return {(m["HttpMethod"], resource_path(resources, m["ResourceId"])): m for m in found}


# -- the user pool and its client ----------------------------------------------------------


def test_the_default_pool_takes_only_users_an_administrator_creates(resources: dict[str, Any], template: Template) -> None:
    name, pool = user_pool(resources)
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "LambdaConfig" not in pool  # no trigger: nobody signs up
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 7,
    }
    assert (pool["AliasAttributes"], pool["AutoVerifiedAttributes"], pool["UsernameConfiguration"]) == (["email"], ["email"], {"CaseSensitive": False})
    assert {"Name": "email", "Required": True, "Mutable": True} in pool["Schema"]
    assert pool["AccountRecoverySetting"]["RecoveryMechanisms"] == [{"Name": "verified_email", "Priority": 1}]
    assert (pool["MfaConfiguration"], pool["UserPoolTier"]) == ("OFF", "LITE")
    # The accounts outlive the stack, as the images' bucket does.
    assert (resources[name]["DeletionPolicy"], resources[name]["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_sign_up_domains_let_people_sign_up_behind_the_pre_sign_up_trigger(created_template: Template) -> None:
    resources = created_template.to_json()["Resources"]
    _, pool = user_pool(resources)
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    trigger = pool["LambdaConfig"]["PreSignUp"]["Fn::GetAtt"][0]
    function = resources[trigger]["Properties"]
    assert function["Handler"] == PRE_SIGN_UP.handler and function["Environment"]["Variables"]["SIGN_UP_DOMAINS"] == "example.org"
    assert (function["MemorySize"], function["Timeout"], function["Architectures"]) == (PRE_SIGN_UP.memory_mb, PRE_SIGN_UP.timeout_seconds, ["arm64"])
    (permission,) = [p for p in of_type(resources, "AWS::Lambda::Permission").values() if p["FunctionName"] == {"Fn::GetAtt": [trigger, "Arn"]}]
    assert permission["Principal"] == "cognito-idp.amazonaws.com" and permission["SourceArn"]["Fn::GetAtt"][0].startswith("AuthUserPool")


def test_the_app_client_is_public_with_password_and_refresh_sign_in_only(stack_resources: dict[str, Any]) -> None:
    ((_, client),) = of_type(stack_resources, "AWS::Cognito::UserPoolClient").items()
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert client["AllowedOAuthFlowsUserPoolClient"] is False and "CallbackURLs" not in client
    assert (client["PreventUserExistenceErrors"], client["EnableTokenRevocation"]) == ("ENABLED", True)
    assert (client["IdTokenValidity"], client["AccessTokenValidity"], client["RefreshTokenValidity"]) == (60, 60, 43200)
    assert client["TokenValidityUnits"] == {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "minutes"}


# -- the authorizer ------------------------------------------------------------------------


def test_every_signed_in_route_takes_the_cognito_authorizer_and_nothing_else_does(request: pytest.FixtureRequest, stack_resources: dict[str, Any]) -> None:
    ((authorizer_name, authorizer),) = of_type(stack_resources, "AWS::ApiGateway::Authorizer").items()
    pool_name, _ = user_pool(stack_resources)
    assert authorizer["Type"] == "COGNITO_USER_POOLS" and authorizer["ProviderARNs"] == [{"Fn::GetAtt": [pool_name, "Arn"]}]
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0  # a cached answer would outlive the token
    # Only this stack's client: API Gateway matches the ID token's aud against this expression.
    ((client_name, _),) = of_type(stack_resources, "AWS::Cognito::UserPoolClient").items()
    assert authorizer["IdentityValidationExpression"] == {"Fn::Join": ["", ["^", {"Ref": client_name}, "$"]]}
    declared = methods(stack_resources)
    # Both stacks have sign-in; only the one that creates its endpoints scales them to zero (warm).
    scales_to_zero = request.node.callspec.params["stack_resources"] == "created"
    assert set(SIGNED_IN_ROUTES) & set(declared_routes(signed_in=True, scales_to_zero=scales_to_zero)) <= set(declared)
    for route, method in declared.items():
        if route in SIGNED_IN_ROUTES:
            assert (method["AuthorizationType"], method["AuthorizerId"]) == ("COGNITO_USER_POOLS", {"Ref": authorizer_name}), route
            assert "AuthorizationScopes" not in method, route  # no scopes: API Gateway takes the ID token, not the access token
        else:
            assert method["AuthorizationType"] == "NONE" and "AuthorizerId" not in method, route


def test_my_runs_are_the_history_function_behind_a_lambda_proxy_on_signed_in_stacks_only(resources: dict[str, Any], open_resources: dict[str, Any]) -> None:
    method = methods(resources)[HISTORY_ROUTE]
    integration = method["Integration"]
    assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
    (function,) = [part["Fn::GetAtt"][0] for part in integration["Uri"]["Fn::Join"][1] if isinstance(part, dict) and "Fn::GetAtt" in part]
    assert resources[function]["Properties"]["Handler"] == HISTORY.handler
    assert HISTORY_ROUTE not in methods(open_resources)  # an open stack keeps no runs: an undeclared route there


def test_cloudfront_passes_the_authorization_header_to_the_api(stack_resources: dict[str, Any]) -> None:
    """An origin request policy may forward Authorization only where caching is off (AWS
    re:Post knowledge center, "How do I configure CloudFront to forward the Authorization
    header to the origin?"): every API behaviour is CachingDisabled + AllViewerExceptHostHeader."""
    (distribution,) = of_type(stack_resources, "AWS::CloudFront::Distribution").values()
    behaviors = {b["PathPattern"]: b for b in distribution["DistributionConfig"]["CacheBehaviors"]}
    api = [b.path_pattern for b in BEHAVIORS if b.origin is Origin.API]
    assert api and {path: (behaviors[path]["CachePolicyId"], behaviors[path]["OriginRequestPolicyId"]) for path in api} == dict.fromkeys(
        api, (CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST)
    )


# -- /config.json ----------------------------------------------------------------------------

_MARKER = re.compile(r"<<marker:0xbaba:\d+>>")


def as_written(value: Any) -> str:
    """A CloudFormation value as the deployment writes it, each Ref as ${Name}."""
    return flattened(value, lambda token: "${" + str(token["Ref"]) + "}")


def deployed_config(synth: Synth, resources: dict[str, Any]) -> Any:
    """config.json as the BucketDeployment writes it under site/: the staged file with each of
    its markers replaced by the CloudFormation value it stands for."""
    (deployment,) = of_type(resources, "Custom::CDKBucketDeployment").values()
    sources = zip(deployment["SourceObjectKeys"], deployment["SourceMarkers"], strict=True)
    ((staged, markers),) = [(path, markers) for key, markers in sources if (path := synth.outdir / f"asset.{key.removesuffix('.zip')}" / CONFIG_FILE).is_file()]
    values = {marker: as_written(value) for marker, value in markers.items()}
    return json.loads(_MARKER.sub(lambda match: values[match.group(0)], staged.read_text(encoding="utf-8")))


def test_config_json_names_the_pool_the_client_and_cognitos_endpoint(synth: Synth, resources: dict[str, Any]) -> None:
    pool_name, _ = user_pool(resources)
    ((client_name, _),) = of_type(resources, "AWS::Cognito::UserPoolClient").items()
    auth = CognitoAuth(
        region="${AWS::Region}",
        userPoolId="${" + pool_name + "}",
        clientId="${" + client_name + "}",
        endpoint="https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/",
    )
    assert deployed_config(synth, resources) == config_document(auth, 200)


def test_the_first_user_is_one_command_away(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert {"UserPoolId", "UserPoolClientId", "CreateUserExample"} <= set(outputs)
    command = as_written(outputs["CreateUserExample"]["Value"])
    assert command.startswith("aws cognito-idp admin-create-user --region ${AWS::Region} --user-pool-id ${AuthUserPool")


# -- auth=none ----------------------------------------------------------------------------------


def test_the_open_stack_has_no_pool_no_authorizer_and_says_so_in_config_json(open_resources: dict[str, Any]) -> None:
    """-c text2image:auth=none synthesizes (its cdk-nag acknowledgment of APIG4 and COG4 giving
    the reason: the fixture's synth raises otherwise)."""
    assert not of_type(open_resources, "AWS::Cognito::UserPool") and not of_type(open_resources, "AWS::ApiGateway::Authorizer")
    assert {method["AuthorizationType"] for method in methods(open_resources).values()} == {"NONE"}
    (deployment,) = of_type(open_resources, "Custom::CDKBucketDeployment").values()
    assert deployment["SourceMarkers"][-1] == {}  # nothing to fill in: the document is fixed


@pytest.mark.parametrize("domains", [(), ("example.org",)])
def test_the_discovery_values_are_the_pool_and_client_of_the_construct(domains: tuple[str, ...]) -> None:
    from aws_cdk import App, Stack

    stack = Stack(App(), "Probe")
    auth = Auth(stack, "Auth", sign_up_domains=domains, powertools_layer_version=36, powertools_layer_arn="")
    resolved = stack.resolve(auth.discovery)
    assert resolved["userPoolId"] == stack.resolve(auth.user_pool.user_pool_id)
    assert resolved["clientId"] == stack.resolve(auth.client.user_pool_client_id)
