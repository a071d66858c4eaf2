"""Domain errors become HTTP answers through one table keyed by exception type, walked along the MRO."""

from __future__ import annotations

import pickle

import pytest
from swapflow.http_errors import ANSWERS, describe
from swapflow.jobs.exceptions import (
    BatchInvalidError,
    JobAlreadyTerminalError,
    JobNotFoundError,
    RequestInvalidError,
    TenantThrottledError,
)
from swapflow.providers.exceptions import ProviderUnavailableError


class ArchivedJobNotFoundError(JobNotFoundError):
    """A subclass nobody added to the table."""


@pytest.mark.parametrize(
    ("exc", "status", "error"),
    [
        (
            RequestInvalidError("unsupported_by_provider", "no target_index here", "target_index"),
            422,
            {"code": "unsupported_by_provider", "message": "no target_index here", "field": "target_index"},
        ),
        (RequestInvalidError("invalid_request", "bad"), 400, {"code": "invalid_request", "message": "bad"}),
        (
            BatchInvalidError([{"path": "jobs[1].faces", "message": "too many"}]),
            400,
            {
                "code": "invalid_request",
                "message": "jobs[1].faces: too many",
                "field": "jobs[1].faces",
                "errors": [{"path": "jobs[1].faces", "message": "too many"}],
            },
        ),
        (ArchivedJobNotFoundError("01J"), 404, {"code": "not_found", "message": "job 01J not found"}),
        (
            JobAlreadyTerminalError("01J", "completed"),
            409,
            {
                "code": "conflict",
                "message": "job 01J is already completed: only queued or processing jobs can be cancelled",
            },
        ),
        (
            ProviderUnavailableError("akool", "SWAPFLOW_AKOOL_API_KEY"),
            422,
            {
                "code": "provider_unavailable",
                "message": "provider 'akool' is not available: set SWAPFLOW_AKOOL_API_KEY",
                "field": "provider",
            },
        ),
        (
            TenantThrottledError("t", 20),
            429,
            {"code": "throttled", "message": "more than 20 requests per second; retry after 1 s"},
        ),
    ],
)
def test_given_a_domain_error_when_described_then_the_table_answers_for_it_or_its_nearest_base(exc, status, error):
    assert describe(exc) == (status, {"error": error})


def test_given_an_error_outside_the_table_when_described_then_it_is_raised_for_the_caller_500() -> None:
    assert KeyError not in ANSWERS
    with pytest.raises(KeyError):
        describe(KeyError("x"))


@pytest.mark.parametrize(
    "exc",
    [
        JobAlreadyTerminalError("01J", "completed"),
        TenantThrottledError("acme", 5, retry_after=2),
        BatchInvalidError([{"path": "jobs[1].faces", "message": "too many"}]),
        ProviderUnavailableError("akool", "SWAPFLOW_AKOOL_API_KEY"),
    ],
)
def test_given_a_domain_error_when_pickled_then_it_comes_back_with_its_fields_and_message(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert vars(back) == vars(exc)
    assert str(back) == str(exc)
