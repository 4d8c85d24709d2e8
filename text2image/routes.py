"""What the deployed edge answers, declared once for infra/ and the local gateway."""

from __future__ import annotations

# A method or path the REST API does not declare: API Gateway raises MISSING_AUTHENTICATION_TOKEN
# (a 403 by default, misleading for a public API); the stack answers it as this 404 instead,
# and the local gateway answers the same.
UNDECLARED_ROUTE_STATUS = 404
UNDECLARED_ROUTE_ERROR = "NotFound"
UNDECLARED_ROUTE_MESSAGE = "no such method or path on this API; see /openapi.json"
