"""The HTTPS entry point: API Gateway REST in front of the api, webhook and drop-in Lambdas.

One Lambda per drop-in surface: WaveSpeed (`/api/v3/...`) and Akool (`/api/open/...`, `/interface/...`,
and any other `/api/...` path, answered in Akool's envelope as before). The Akool one ships the engine
bundle because its detect_faces runs the engine's detector in-process (imported only by that route).
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .functions import FunctionSpec, python_function

# API Gateway's own answers (no Lambda involved) in our error envelope (DESIGN 3 and 7): response type ->
# (status, or None to keep API Gateway's, code, message). `$context.error.messageString` is API Gateway's
# own message, already a quoted JSON string. The local gateway (infra/local/gateway/) plays these too.
MAX_BODY_MB = 10
GATEWAY_RESPONSES: dict[str, tuple[str | None, str, str]] = {
    "REQUEST_TOO_LARGE": (
        "413",
        "request_too_large",
        f"\"the request body is over the API's {MAX_BODY_MB} MB limit: upload big images with POST /v1/uploads "
        'and pass the returned image_ref"',
    ),
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", '"no such route; see GET /v1/openapi.json"'),
    "RESOURCE_NOT_FOUND": ("404", "not_found", '"no such route; see GET /v1/openapi.json"'),
    "THROTTLED": ("429", "throttled", '"too many requests to this API; retry after a second"'),
    "DEFAULT_4XX": (None, "invalid_request", "$context.error.messageString"),
    "DEFAULT_5XX": (None, "internal", '"an internal error occurred; the request can be retried"'),
}


def gateway_response_template(code: str, message: str) -> str:
    """The VTL body of a gateway response: our envelope, plus the request id for support."""
    return (
        '{"error": {"code": ' + json.dumps(code) + ', "message": ' + message + ', "request_id": "$context.requestId"}}'
    )


API = FunctionSpec("api.handler", "swapflow: the HTTPS API", timeout_s=29)
# A callback finishes its job where it lands (archive, conform, sign): the run pass's work and memory.
# Past API Gateway's 29 s the provider's retry is a duplicate; the finish still ends.
WEBHOOK = FunctionSpec("webhook.handler", "swapflow: provider callbacks", timeout_s=60)
# base64 outputs: up to 4 MB read and encoded in the answer
COMPAT_WAVESPEED = FunctionSpec(
    "compat_wavespeed.handler", "swapflow: the WaveSpeed-compatible drop-in API", timeout_s=29
)
COMPAT_AKOOL = FunctionSpec(
    "compat_akool.handler",
    "swapflow: the Akool-compatible drop-in API",
    memory_mb=1536,
    timeout_s=29,
    with_engine=True,
)


class Api(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, environment: dict[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.api_fn = python_function(self, "ApiFn", API, environment)
        self.webhook_fn = python_function(self, "WebhookFn", WEBHOOK, environment)
        self.wavespeed_fn = python_function(self, "CompatWavespeedFn", COMPAT_WAVESPEED, environment)
        self.akool_fn = python_function(self, "CompatAkoolFn", COMPAT_AKOOL, environment)
        self.compat_fns = (self.wavespeed_fn, self.akool_fn)
        self.rest_api = self._build_rest_api()
        self._build_gateway_responses()
        self._build_routes(self.api_fn, self.webhook_fn)
        self._build_compat_routes()

    def _build_rest_api(self) -> apigw.RestApi:
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        return apigw.RestApi(
            self,
            "RestApi",
            description="swapflow face-swap jobs",
            binary_media_types=["image/*", "application/octet-stream", "multipart/form-data"],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.INFO,
                metrics_enabled=True,
                throttling_rate_limit=50,
                throttling_burst_limit=100,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )

    def _build_gateway_responses(self) -> None:
        for name, (status, code, message) in GATEWAY_RESPONSES.items():
            self.rest_api.add_gateway_response(
                f"Gateway{name.title().replace('_', '')}",
                type=apigw.ResponseType.of(name),
                status_code=status,
                templates={"application/json": gateway_response_template(code, message)},
                response_headers={"Retry-After": "'1'"} if name == "THROTTLED" else None,
            )

    def _build_routes(self, api_fn: lambda_.IFunction, webhook_fn: lambda_.IFunction) -> None:
        api_integration = apigw.LambdaIntegration(api_fn)
        v1 = self.rest_api.root.add_resource("v1")
        v1.add_proxy(default_integration=api_integration, any_method=True)
        # the playground page and its files: no key for the page, its calls carry the pasted key
        self.rest_api.root.add_method("GET", api_integration)
        playground = self.rest_api.root.add_resource("playground")
        playground.add_method("GET", api_integration)
        playground.add_resource("{name}").add_method("GET", api_integration)
        self.rest_api.root.add_resource("docs").add_method("GET", api_integration)  # = /v1/docs
        webhooks = self.rest_api.root.add_resource("webhooks").add_resource("{provider}")
        webhooks.add_method("POST", apigw.LambdaIntegration(webhook_fn))

    def _build_compat_routes(self) -> None:
        """Drop-in surfaces at the paths their clients already use (base URL swap only)."""
        akool = apigw.LambdaIntegration(self.akool_fn)
        api = self.rest_api.root.add_resource("api")
        api.add_proxy(default_integration=akool, any_method=True)
        self.rest_api.root.add_resource("interface").add_proxy(default_integration=akool, any_method=True)
        wavespeed = apigw.LambdaIntegration(self.wavespeed_fn)
        api.add_resource("v3").add_proxy(default_integration=wavespeed, any_method=True)
