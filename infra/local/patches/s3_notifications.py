"""P1b: S3 -> Lambda notifications are asynchronous invocations, as in AWS."""

from __future__ import annotations

import json
import logging
from typing import Any

from .bookkeeping import replace

LOG = logging.getLogger(__name__)

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.s3.notifications",
        "_invoke_awslambda",
    ): "3e321d949008d14e252d81e9e43fbb1ae0a76db6da39cfcd4cd2d4300f3dcb3b",
    (
        "moto.s3.notifications",
        "_get_s3_event",
    ): "e3f2ed740c7b2971d1a9eaadd72062ac371ba6b116b49efcb29634e05803a17c",
}


def _s3_invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    try:
        from moto.awslambda.utils import get_backend

        func = get_backend(account_id, region_name).get_function(fn_arn)
        func.invoke(json.dumps(event_body), {"X-Amz-Invocation-Type": "Event"}, {})
    except Exception:  # as moto: never fail the S3 call because of its notification
        LOG.exception("S3 notification to %s failed", fn_arn)


def patch_s3_notifications_async() -> None:
    """P1b: S3 -> Lambda notifications are asynchronous invocations, as in AWS.

    moto invokes the function synchronously inside PutObject (so a slow handler blocks the upload
    and runs on the uploader's thread). Keys already arrive ``quote_plus``-encoded (moto does it).
    """
    from moto.s3 import notifications

    replace(notifications, "_invoke_awslambda", _s3_invoke_awslambda)
