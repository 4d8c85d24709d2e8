"""The discovery document /config.json, built once for the deployed stack and the local gateway."""

from __future__ import annotations

import json

from text2image.discovery import CognitoAuth, cognito_endpoint, config_document

AUTH = CognitoAuth(region="eu-west-1", userPoolId="eu-west-1_AbC123", clientId="3n4b5urk1ft4fl3mg5e0dn8dp", endpoint=cognito_endpoint("eu-west-1"))


def test_an_open_stack_says_auth_null_and_how_large_a_batch_file_may_be() -> None:
    assert json.dumps(config_document(None, 200)) == '{"auth": null, "warm": null, "batchMaxBytes": 4194304}'


def test_endpoints_that_scale_to_zero_say_how_long_warming_takes() -> None:
    assert config_document(None, 200, warm_cold_start_seconds=420)["warm"] == {"coldStartSeconds": 420}
    assert config_document(AUTH, 150, warm_cold_start_seconds=60)["warm"] == {"coldStartSeconds": 60}


def test_a_signed_in_stack_names_its_pool_client_endpoint_and_quota() -> None:
    assert config_document(AUTH, 150) == {
        "auth": {
            "region": "eu-west-1",
            "userPoolId": "eu-west-1_AbC123",
            "clientId": "3n4b5urk1ft4fl3mg5e0dn8dp",
            "endpoint": "https://cognito-idp.eu-west-1.amazonaws.com/",
        },
        "dailyImagesPerUser": 150,
        "warm": None,
        "batchMaxBytes": 4194304,
    }


def test_cognitos_endpoint_follows_the_partitions_url_suffix() -> None:
    assert cognito_endpoint("cn-north-1", "amazonaws.com.cn") == "https://cognito-idp.cn-north-1.amazonaws.com.cn/"
