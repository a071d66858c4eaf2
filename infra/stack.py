"""SwapflowStack: composes storage, engine, workflow, api, notifications and observability."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct
from swapflow.providers.registry import secret_families
from swapflow.settings import env_name

from .constructs.api import Api
from .constructs.batches import Batches
from .constructs.client_webhooks import ClientWebhooks
from .constructs.engine import Engine
from .constructs.event_schemas import EventSchemas
from .constructs.functions import grant_read_put, grant_task_callbacks
from .constructs.notifications import Notifications
from .constructs.observability import Observability
from .constructs.retention import Retention
from .constructs.secrets import json_secret
from .constructs.storage import Storage
from .constructs.triggers import Triggers
from .constructs.workflow import Workflow
from .nag import acknowledge_wildcard, executions_of

BUS_NAME = "swapflow"

# Stack-wide cdk-nag acknowledgements, each with its reason (resource-specific ones sit on the resource).
NAG_ACKNOWLEDGEMENTS = {
    "AwsSolutions-L1": "Pinned to python3.13: the runtime the locked aarch64 wheels are bundled and checked for "
    "(tests/infra/test_bundling.py); python3.14 is a deliberate move once measured (docs/cost.md).",
    "AwsSolutions-APIG2": "Bodies are validated by the API function, which answers with the documented "
    "machine-readable error codes (a model validator would answer in another shape).",
    "AwsSolutions-APIG3": "WAF is an account-level choice with its own cost; the README shows how to attach a "
    "web ACL. Stage throttling is on.",
    "AwsSolutions-APIG4": "Callers authenticate with per-tenant API keys checked (hashed) by the API function; "
    "provider webhooks authenticate by their signature, verified in constant time.",
    "AwsSolutions-COG4": "No Cognito: machine clients use API keys; webhooks use provider signatures.",
    "AwsSolutions-SQS3": "These queues are themselves dead-letter queues (Lambda on-failure destinations).",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]": (
        "AWS's own minimal managed policy for a Lambda's logs, and nothing else."
    ),
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AmazonAPIGatewayPushToCloudWatchLogs]": "AWS's own managed policy for API Gateway's account logging role.",
    "AwsSolutions-IAM5[Action::s3:List*]": "CDK grant_read on our own buckets: list within the bucket only.",
    "AwsSolutions-IAM5[Action::s3:GetObject*]": "CDK grant_read on our own buckets: object reads (versions too).",
    "AwsSolutions-IAM5[Action::s3:GetBucket*]": "CDK grant_read on our own buckets: bucket metadata reads.",
}

# Wildcards below a resource we own, keyed by the construct holding the resource.
OWNED_WILDCARDS = {
    "index/*": "Queries on the jobs table's own secondary indexes.",
    "/*": "Objects inside our own bucket, under per-tenant, per-job keys.",
    ":*": "Versions and aliases of our own function (Step Functions and the engine provider invoke them).",
}


class SwapflowStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        storage = Storage(self, "Storage")
        notifications = Notifications(self, "Notifications", bus_name=BUS_NAME)
        # One secret per provider family with credentials (swapflow.providers.registry), e.g. AkoolSecret.
        provider_secrets = [
            (spec, self._provider_secret(f"{spec.title}Secret", f"{spec.title}: {{{', '.join(spec.credentials)}}}"))
            for spec in secret_families()
        ]
        secrets = [secret for _, secret in provider_secrets]
        public_url_param = f"/{self.stack_name}/public-url"

        # Every function shares these settings; none references the API or the state machine, so
        # there is no dependency cycle and the local stack can apply one environment to all.
        environment = {
            "SWAPFLOW_TABLE": storage.table.table_name,
            "SWAPFLOW_INPUT_BUCKET": storage.input_bucket.bucket_name,
            "SWAPFLOW_ARCHIVE_BUCKET": storage.archive_bucket.bucket_name,
            "SWAPFLOW_EVENT_BUS": BUS_NAME,
            "SWAPFLOW_PUBLIC_URL_PARAM": public_url_param,
            **{env_name(f"{spec.family}_secret_arn"): secret.secret_arn for spec, secret in provider_secrets},
            # Provider secrets are re-read this often (powertools Parameters), so a rotated key is picked up.
            "SWAPFLOW_SECRET_MAX_AGE_SECONDS": "300",
            # Seals tenants' webhook secrets; only the client-webhook function may decrypt (see below).
            "SWAPFLOW_WEBHOOK_SECRET_KEY": storage.webhook_secrets_key.key_arn,
        }
        engine = Engine(self, "Engine", storage=storage, environment=environment)
        workflow = Workflow(self, "Workflow", environment=environment, engine_function=engine.function)
        api = Api(
            self,
            "Api",
            environment={
                **environment,
                "SWAPFLOW_STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn,
            },
        )
        ssm.StringParameter(
            self,
            "PublicUrl",
            parameter_name=public_url_param,
            string_value=api.rest_api.url.rstrip("/"),
            description="Base URL providers call back (webhooks); override with a custom domain",
        )
        read_public_url = iam.PolicyStatement(
            actions=["ssm:GetParameter"],
            resources=[self.format_arn(service="ssm", resource="parameter", resource_name=public_url_param[1:])],
        )

        # Least privilege, per function.
        table, inputs, archive = storage.table, storage.input_bucket, storage.archive_bucket
        for fn in [*workflow.functions, api.api_fn, api.webhook_fn, api.compat_fn]:
            table.grant_read_write_data(fn)
        # Provider secrets: the API functions check a provider is configured before accepting a job.
        for fn in (workflow.run_fn, api.webhook_fn, api.api_fn, api.compat_fn):
            for secret in secrets:
                secret.grant_read(fn)
            fn.add_to_role_policy(read_public_url)
        grant_read_put(api.api_fn, inputs)
        grant_read_put(api.compat_fn, inputs)  # the drop-in surfaces: the same needs as the api function
        for fn in self._finishers(workflow, api, engine):  # the inputs: in _grant_batches
            grant_read_put(fn, archive)
            notifications.bus.grant_put_events_to(fn)
        archive.grant_read(api.api_fn)
        archive.grant_read(api.compat_fn)
        workflow.state_machine.grant_start_execution(api.api_fn)
        workflow.state_machine.grant_execution(api.api_fn, "states:StopExecution")  # POST /v1/jobs/{id}/cancel
        self._acknowledge_executions_wildcard(api.api_fn, workflow.state_machine)
        workflow.state_machine.grant_start_execution(api.compat_fn)
        grant_task_callbacks(api.webhook_fn)
        # Cancel: announce `Swap Job Cancelled` and free a batch slot waiting on the job's token.
        notifications.bus.grant_put_events_to(api.api_fn)
        grant_task_callbacks(api.api_fn)

        webhooks = ClientWebhooks(self, "ClientWebhooks", bus=notifications.bus, table=table, environment=environment)
        # The signers (first attempt, retries): they alone decrypt tenants' webhook secrets, and presign outputs.
        for fn in (webhooks.first_attempt_fn, webhooks.deliver_fn):
            storage.webhook_secrets_key.grant_decrypt(fn)
            archive.grant_read(fn)

        # Batches, S3 manifests and Swap Requested events (jobs that do not come one by one from the API).
        job_environment = {**environment, "SWAPFLOW_STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn}
        batches = Batches(self, "Batches", environment=job_environment, input_bucket=inputs)
        triggers = Triggers(
            self,
            "Triggers",
            input_bucket=inputs,
            bus=notifications.bus,
            environment={
                **job_environment,
                "SWAPFLOW_BATCH_STATE_MACHINE_ARN": batches.state_machine.state_machine_arn,
                "SWAPFLOW_MANIFEST_STATE_MACHINE_ARN": batches.manifest_state_machine.state_machine_arn,
            },
        )
        api.api_fn.add_environment("SWAPFLOW_BATCH_STATE_MACHINE_ARN", batches.state_machine.state_machine_arn)
        api.api_fn.add_environment(
            "SWAPFLOW_MANIFEST_STATE_MACHINE_ARN", batches.manifest_state_machine.state_machine_arn
        )
        self._grant_batches(workflow, api, engine, batches, triggers, storage, notifications, secrets)
        EventSchemas(self, "EventSchemas")
        retention = self._build_retention(environment, storage, notifications, workflow, api, engine, batches)
        # Only these speak as `swapflow` on the bus (terminal, batch, rejected and deleted events).
        publishers = [
            *self._finishers(workflow, api, engine),
            api.api_fn,
            triggers.ingest_fn,
            batches.run_job_fn,
            retention.eraser_fn,
        ]
        notifications.restrict_own_source([fn.role for fn in publishers if fn.role is not None])

        observability = Observability(
            self,
            "Observability",
            state_machines={
                "Workflow": workflow.state_machine,
                "Batches": batches.state_machine,
                "Manifests": batches.manifest_state_machine,
                "WebhookDelivery": webhooks.state_machine,
            },
            rest_api=api.rest_api,
            functions=[
                *workflow.functions,
                api.api_fn,
                api.webhook_fn,
                api.compat_fn,
                engine.function,
                webhooks.deliver_fn,
                webhooks.first_attempt_fn,
                *batches.functions,
                *triggers.functions,
                retention.eraser_fn,
            ],
            dead_letter_queues=[engine.dlq, webhooks.dlq, triggers.dlq],
        )
        CfnOutput(self, "ApiUrl", value=api.rest_api.url)
        CfnOutput(self, "InputBucketName", value=inputs.bucket_name)
        CfnOutput(self, "ArchiveBucketName", value=archive.bucket_name)
        CfnOutput(self, "TableName", value=table.table_name)
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "EventBusName", value=notifications.bus.event_bus_name)
        for spec, secret in provider_secrets:
            CfnOutput(self, f"{spec.title}SecretArn", value=secret.secret_arn)
        CfnOutput(self, "UndeliveredWebhooksQueueUrl", value=webhooks.dlq.queue_url)
        CfnOutput(self, "BatchStateMachineArn", value=batches.state_machine.state_machine_arn)
        CfnOutput(self, "RejectedRequestsQueueUrl", value=triggers.dlq.queue_url)
        CfnOutput(self, "EraserFunctionName", value=retention.eraser_fn.function_name)
        CfnOutput(self, "SigningSecretArn", value=retention.signing_secret.secret_arn)
        CfnOutput(self, "AlarmTopicArn", value=observability.topic.topic_arn)
        self._acknowledge_nag_findings(
            {
                "index/*": [table],
                "/*": [inputs, archive],
                ":*": [
                    *workflow.functions,
                    engine.function,
                    webhooks.deliver_fn,
                    webhooks.first_attempt_fn,
                    *batches.functions,
                    retention.eraser_fn,
                ],
            }
        )

    def _grant_batches(
        self,
        workflow: Workflow,
        api: Api,
        engine: Engine,
        batches: Batches,
        triggers: Triggers,
        storage: Storage,
        notifications: Notifications,
        secrets: list[secretsmanager.Secret],
    ) -> None:
        """Least privilege for the batch runner, the triggers and the finisher path's batch bookkeeping."""
        table, inputs = storage.table, storage.input_bucket
        # Create jobs: records, input images, their executions; provider checks may read provider secrets.
        for fn in (batches.run_job_fn, batches.register_fn, triggers.ingest_fn, triggers.s3_trigger_fn):
            table.grant_read_write_data(fn)
            grant_read_put(fn, inputs)
            for secret in secrets:
                secret.grant_read(fn)
        workflow.state_machine.grant_start_execution(batches.run_job_fn)
        # A job staged as its batch was being cancelled is cancelled there: its execution is stopped.
        workflow.state_machine.grant_execution(batches.run_job_fn, "states:StopExecution")
        self._acknowledge_executions_wildcard(batches.run_job_fn, workflow.state_machine)
        workflow.state_machine.grant_start_execution(triggers.ingest_fn)
        notifications.bus.grant_put_events_to(triggers.ingest_fn)  # Swap Request Rejected
        # A job that cannot even be created ends its batch item here, so this may end the batch too.
        notifications.bus.grant_put_events_to(batches.run_job_fn)
        for machine in (batches.state_machine, batches.manifest_state_machine):
            machine.grant_start_execution(triggers.s3_trigger_fn)
            machine.grant_start_execution(api.api_fn)
        # The finisher path: outputs to a manifest's outbox, result.json, and the batch slot's token.
        for fn in self._finishers(workflow, api, engine):
            grant_read_put(fn, inputs)
        # (the Run pass, the provider webhook and the engine complete task tokens already)
        grant_task_callbacks(workflow.finisher_fn)

    def _build_retention(
        self,
        environment: dict[str, str],
        storage: Storage,
        notifications: Notifications,
        workflow: Workflow,
        api: Api,
        engine: Engine,
        batches: Batches,
    ) -> Retention:
        """Deletion (the eraser, the only function that deletes objects) and the finisher's signing key."""
        retention = Retention(
            self, "Retention", environment=environment, buckets=[storage.input_bucket, storage.archive_bucket]
        )
        eraser = retention.eraser_fn
        storage.table.grant_read_write_data(eraser)
        notifications.bus.grant_put_events_to(eraser)  # Swap Job Deleted (and Cancelled, deleting open jobs)
        # Deleting a running batch: the API stops its runner; the eraser cancels its open jobs (stopping
        # their executions) and frees their batch slots.
        batches.state_machine.grant_execution(api.api_fn, "states:StopExecution")
        self._acknowledge_executions_wildcard(api.api_fn, batches.state_machine)
        eraser.add_environment("SWAPFLOW_STATE_MACHINE_ARN", workflow.state_machine.state_machine_arn)
        workflow.state_machine.grant_execution(eraser, "states:StopExecution")
        self._acknowledge_executions_wildcard(eraser, workflow.state_machine)
        grant_task_callbacks(eraser)
        retention.grant_erase_requests(api.api_fn)
        retention.grant_erase_requests(batches.run_job_fn)  # a job created as its batch was being deleted
        for fn in self._finishers(workflow, api, engine):  # each may archive (and so sign) outputs
            retention.grant_signing(fn)
        return retention

    @staticmethod
    def _finishers(workflow: Workflow, api: Api, engine: Engine) -> list[lambda_.Function]:
        """Whoever learns a job's result finishes it (archive, event): the Run pass, the provider webhook,
        the engine; the finisher records failures of the workflow itself."""
        return [workflow.run_fn, workflow.finisher_fn, api.webhook_fn, engine.function]

    def _provider_secret(self, construct_id: str, description: str) -> secretsmanager.Secret:
        return json_secret(
            self,
            construct_id,
            description=f"swapflow provider credentials, JSON. {description}",
            why_not_rotated="Third-party provider API keys are issued by the provider and cannot be rotated by AWS.",
        )

    def _acknowledge_executions_wildcard(self, fn: Construct, machine: Construct) -> None:
        acknowledge_wildcard(
            fn,
            executions_of(machine),
            "StopExecution (job cancel) on executions of our own state machine; names are job ids.",
        )

    def _acknowledge_nag_findings(self, owned: dict[str, list[Construct]]) -> None:
        findings = dict(NAG_ACKNOWLEDGEMENTS)
        for suffix, constructs in owned.items():
            for construct in constructs:
                child = construct.node.default_child
                logical_id = self.resolve(self.get_logical_id(child))  # type: ignore[arg-type]
                resource = f"<{logical_id}.Arn>{'/' if suffix == 'index/*' else ''}{suffix}"
                findings[f"AwsSolutions-IAM5[Resource::{resource}]"] = OWNED_WILDCARDS[suffix]
        for finding, reason in findings.items():
            Validations.of(self).acknowledge(Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason))
