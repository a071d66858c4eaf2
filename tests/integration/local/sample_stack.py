"""A small CDK stack that exercises the local deployer, the moto patches and the gateway.

The Lambda code is inline (nothing is bundled); the local Lambda runtime imports the handlers from
``tests.integration.local.sample_handlers`` in its execution environments.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_apigateway as apigw,
)
from aws_cdk import (
    aws_dynamodb as ddb,
)
from aws_cdk import (
    aws_ecr as ecr,
)
from aws_cdk import (
    aws_events as events,
)
from aws_cdk import (
    aws_events_targets as targets,
)
from aws_cdk import (
    aws_kms as kms,
)
from aws_cdk import (
    aws_lambda as lambda_,
)
from aws_cdk import (
    aws_logs as logs,
)
from aws_cdk import (
    aws_s3 as s3,
)
from aws_cdk import (
    aws_s3_notifications as s3n,
)
from aws_cdk import (
    aws_secretsmanager as secretsmanager,
)
from aws_cdk import (
    aws_sqs as sqs,
)
from aws_cdk import (
    aws_ssm as ssm,
)
from aws_cdk import (
    aws_stepfunctions as sfn,
)
from aws_cdk import (
    aws_stepfunctions_tasks as tasks,
)
from constructs import Construct

HANDLERS = "tests.integration.local.sample_handlers"
BUS_NAME = "sample-bus"
SOURCE = "sample.local"


class SampleStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        table = ddb.Table(
            self,
            "Table",
            partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="sk", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            stream=ddb.StreamViewType.NEW_AND_OLD_IMAGES,
            encryption=ddb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        table.add_global_secondary_index(
            index_name="by-status",
            partition_key=ddb.Attribute(name="status", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
        )

        key = kms.Key(self, "Key", enable_key_rotation=True, alias="alias/sample-key")
        secret = secretsmanager.Secret(
            self,
            "Secret",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"username": "swap"}',
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=24,
            ),
        )
        param = ssm.StringParameter(self, "Param", parameter_name="/sample/greeting", string_value="hello")

        bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
        )
        dlq = sqs.Queue(self, "Dlq")
        queue = sqs.Queue(
            self,
            "EventsQueue",
            visibility_timeout=cdk.Duration.seconds(30),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
        )
        bus = events.EventBus(self, "Bus", event_bus_name=BUS_NAME)
        logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_WEEK)

        shared_env = {
            "TABLE_NAME": table.table_name,
            "BUCKET_NAME": bucket.bucket_name,
            "SECRET_ARN": secret.secret_arn,
            "EVENT_BUS_NAME": bus.event_bus_name,
            "PARAM_NAME": param.parameter_name,
        }

        def fn(name: str, handler: str, **extra: Any) -> lambda_.Function:
            return lambda_.Function(
                self,
                name,
                runtime=lambda_.Runtime.PYTHON_3_12,
                code=lambda_.Code.from_inline("# the handler is imported by name locally"),
                handler=f"{HANDLERS}.{handler}",
                timeout=cdk.Duration.seconds(30),
                memory_size=256,
                environment={**shared_env, "POWERTOOLS_SERVICE_NAME": name.lower()},
                **extra,
            )

        api_fn = fn("ApiFn", "api_handler")
        s3_fn = fn("S3Fn", "s3_handler")
        token_fn = fn("TokenFn", "token_handler")
        flaky_fn = fn("FlakyFn", "flaky_handler")
        events_fn = fn("EventsFn", "events_handler")
        fn("SlowFn", "slow_handler")
        image_fn = lambda_.Function(
            self,
            "ImageFn",
            runtime=lambda_.Runtime.FROM_IMAGE,
            handler=lambda_.Handler.FROM_IMAGE,
            code=lambda_.Code.from_ecr_image(
                ecr.Repository.from_repository_name(self, "Repo", "sample-engine"),
                cmd=[f"{HANDLERS}.image_handler"],
                tag_or_digest="latest",
            ),
            environment=shared_env,
            timeout=cdk.Duration.seconds(60),
            memory_size=1024,
        )
        for f in (api_fn, s3_fn, token_fn, flaky_fn, events_fn, image_fn):
            table.grant_read_write_data(f)
            bus.grant_put_events_to(f)
        bucket.grant_read_write(api_fn)
        secret.grant_read(api_fn)

        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(s3_fn),
            s3.NotificationKeyFilter(prefix="uploads/"),
        )

        api = apigw.LambdaRestApi(
            self,
            "Api",
            handler=api_fn,
            proxy=True,
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=apigw.Cors.ALL_ORIGINS, allow_methods=apigw.Cors.ALL_METHODS
            ),
            binary_media_types=["image/*"],
        )

        # --- state machine ---------------------------------------------------------------
        wait_token = tasks.LambdaInvoke(
            self,
            "WaitToken",
            lambda_function=token_fn,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {"token": sfn.JsonPath.task_token, "input.$": "$", "attempt.$": "$$.State.RetryCount"}
            ),
            # 3 s at the tests' time scale: room for a cold start on a loaded machine
            task_timeout=sfn.Timeout.duration(cdk.Duration.seconds(60)),
            result_path="$.token_result",
        )
        wait_token.add_retry(errors=["TokenRejected"], interval=cdk.Duration.seconds(1), max_attempts=2, backoff_rate=1)
        flaky = tasks.LambdaInvoke(
            self,
            "Flaky",
            lambda_function=flaky_fn,
            payload_response_only=True,
            result_path="$.flaky",
            retry_on_service_exceptions=False,
        )
        flaky.add_retry(
            errors=["FlakyError"],
            interval=cdk.Duration.seconds(2),
            max_attempts=3,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        recovered = sfn.Pass(
            self, "Recovered", result=sfn.Result.from_object({"recovered": True}), result_path="$.recovered"
        )
        flaky.add_catch(recovered, errors=["FatalError"], result_path="$.error")
        pause = sfn.Wait(self, "Pause", time=sfn.WaitTime.duration(cdk.Duration.seconds(10)))
        record = tasks.DynamoUpdateItem(
            self,
            "Record",
            table=table,
            key={
                "pk": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.job_id")),
                "sk": tasks.DynamoAttributeValue.from_string("state"),
            },
            update_expression="SET #s = :s",
            expression_attribute_names={"#s": "status"},
            expression_attribute_values={":s": tasks.DynamoAttributeValue.from_string("DONE")},
            result_path=sfn.JsonPath.DISCARD,
        )
        notify = tasks.EventBridgePutEvents(
            self,
            "Notify",
            entries=[
                tasks.EventBridgePutEventsEntry(
                    event_bus=bus,
                    source=SOURCE,
                    detail_type="JobDone",
                    detail=sfn.TaskInput.from_object({"job_id.$": "$.job_id"}),
                )
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        items = sfn.Map(self, "Items", items_path="$.items", max_concurrency=2, result_path="$.items_out")
        items.item_processor(
            tasks.LambdaInvoke(
                self,
                "ItemToken",
                lambda_function=token_fn,
                integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
                payload=sfn.TaskInput.from_object({"token": sfn.JsonPath.task_token, "input.$": "$"}),
                task_timeout=sfn.Timeout.at("$.timeout_s"),
            )
        )
        main = wait_token.next(flaky).next(pause).next(record).next(notify)
        choose = (
            sfn.Choice(self, "Mode")
            .when(
                sfn.Condition.and_(sfn.Condition.is_present("$.mode"), sfn.Condition.string_equals("$.mode", "map")),
                items,
            )
            .otherwise(main)
        )
        machine = sfn.StateMachine(
            self,
            "Machine",
            definition_body=sfn.DefinitionBody.from_chainable(choose),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=cdk.Duration.minutes(10),
        )

        # --- EventBridge -----------------------------------------------------------------
        events.Rule(
            self,
            "DoneRule",
            event_bus=bus,
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=["JobDone"]),
            targets=[targets.SqsQueue(queue), targets.LambdaFunction(events_fn)],
        )
        events.Rule(
            self,
            "StartRule",
            event_bus=bus,
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=["StartJob"]),
            targets=[targets.SfnStateMachine(machine, input=events.RuleTargetInput.from_event_path("$.detail"))],
        )

        cdk.CfnOutput(self, "ApiUrl", value=api.url)
        cdk.CfnOutput(self, "TableName", value=table.table_name)
        cdk.CfnOutput(self, "BucketName", value=bucket.bucket_name)
        cdk.CfnOutput(self, "MachineArn", value=machine.state_machine_arn)
        cdk.CfnOutput(self, "QueueUrl", value=queue.queue_url)
        cdk.CfnOutput(self, "SecretArn", value=secret.secret_arn)
        cdk.CfnOutput(self, "ImageFnName", value=image_fn.function_name)
        cdk.CfnOutput(self, "TokenFnArn", value=token_fn.function_arn)


def synth_template() -> dict[str, Any]:
    """Synthesize the sample stack and return its CloudFormation template."""
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = SampleStack(app, "Sample", env=cdk.Environment(account="123456789012", region="us-east-1"))
    return app.synth().get_stack_by_name(stack.stack_name).template  # type: ignore[no-any-return]
