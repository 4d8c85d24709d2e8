"""Inference components: how an endpoint that scales to zero hosts the model, named once for the
deployed stack (infra/endpoints.py) and the local one (text2image/local/), and how their names
reach the Lambdas that call or warm them (``INFERENCE_COMPONENTS``, read by functions/invoke_endpoint
and functions/warm as a JSON object)."""

from __future__ import annotations

import json
from collections.abc import Iterable

# The Lambdas' environment variable: {endpoint name: inference component name}.
VARIABLE = "INFERENCE_COMPONENTS"


def component_name(endpoint: str) -> str:
    """The inference component that hosts the model on ``endpoint`` (one per endpoint)."""
    return f"{endpoint}-model"


def components_variable(endpoints: Iterable[str]) -> str:
    """``INFERENCE_COMPONENTS``'s value for endpoints that each host their model as a component."""
    return json.dumps({endpoint: component_name(endpoint) for endpoint in endpoints}, separators=(",", ":"))
