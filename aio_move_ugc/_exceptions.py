"""Every error the SDK raises, under one root.

    MoveUgcError
    ├── InvalidInputError            bad input caught before anything is sent (also a ValueError)
    │   ├── ConfigurationError       missing/short API key, malformed endpoint URL
    │   └── OutputMissingError       an output asked for is not among a ready job's outputs
    ├── ClientClosedError            the client was closed and cannot be used again
    ├── APIConnectionError           no answer: connection refused/reset, DNS, TLS
    │   ├── APITimeoutError          no answer in time
    │   └── OutcomeUnknownError      a create mutation may or may not have happened
    ├── APIError                     an answer came back (status, errors, data, request id)
    │   ├── APIStatusError           an HTTP error status without a more specific meaning (5xx...)
    │   ├── AuthenticationError      401 / UnauthorizedException
    │   ├── RateLimitError           429 / throttling; `retry_after` when the server said
    │   └── GraphQLResponseError     HTTP 200 with GraphQL `errors`
    │       ├── NotFoundError        MoveNotFoundError
    │       ├── ValidationError      the document or variables were rejected
    │       ├── BadRequestError      a business rule was violated (e.g. video not uploaded)
    │       └── BackendError         a data source behind the API failed (Lambda:Unhandled...)
    ├── StorageError                 a presigned-URL transfer failed (status, S3 error code)
    │   ├── StorageConnectionError   no answer from storage: refused, reset, cut, timed out
    │   ├── URLExpiredError          the presigned URL has expired
    │   └── IntegrityError           bytes on the wire do not match the promised size or ETag
    ├── DiskError                    the local disk refused a write (also an OSError)
    ├── JobFailedError               a watched job ended FAILED
    ├── WatchTimeoutError            a job or its outputs did not get ready in time
    │   └── OutputsNotReadyError     the job finished; these requested outputs had no URL yet
    └── WebhookVerificationError     a webhook delivery failed verification

No message or attribute ever holds the API key or a presigned URL's signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class MoveUgcError(Exception):
    """Root of every error raised by aio_move_ugc."""


class InvalidInputError(MoveUgcError, ValueError):
    """The caller gave something the API would reject; nothing was sent."""


class ConfigurationError(InvalidInputError):
    """The client cannot be configured as asked (API key, endpoint URL, limits)."""


class ClientClosedError(MoveUgcError, RuntimeError):
    """The client was closed; create a new one."""


class APIConnectionError(MoveUgcError):
    """The API could not be reached or the connection broke before an answer arrived.

    `request_sent` is False when the connection could not even be made, so the request never
    left (repeating it is safe, creates included).

    Args:
        message: what went wrong.
        operation_name: the GraphQL operation that was being sent, when known.
        request_sent: False when the request never left.
    """

    def __init__(
        self, message: str, *, operation_name: str | None = None, request_sent: bool = True
    ) -> None:
        super().__init__(message)
        self.operation_name = operation_name
        self.request_sent = request_sent
        """False when the connection could not be made, so the request never left."""


class APITimeoutError(APIConnectionError):
    """No answer arrived in time."""


class OutcomeUnknownError(APIConnectionError):
    """A mutation that creates something may have been applied; look it up before retrying.

    Args:
        message: what went wrong; the error's text is this followed by `lookup`.
        operation_name: the create mutation that was being sent, when known.
        lookup: what to look up to learn whether it was applied.
    """

    def __init__(self, message: str, *, operation_name: str | None = None, lookup: str) -> None:
        super().__init__(f"{message}; {lookup}", operation_name=operation_name)
        self.lookup = lookup
        """What to look up to learn whether the mutation was applied."""


class APIError(MoveUgcError):
    """The API answered with an error.

    Args:
        message: what went wrong; the error's text adds the operation, status and request id.
        status: the HTTP status of the answer.
        errors: the GraphQL `errors` of the answer (each with `errorType`, `message`...).
        data: the answer's `data`, whatever partial data came back.
        request_id: the request id the API gave the answer, when it did.
        operation_name: the GraphQL operation that was sent, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        errors: list[dict[str, Any]] | None = None,
        data: Any = None,
        request_id: str | None = None,
        operation_name: str | None = None,
    ) -> None:
        details = [f"status={status}"]
        if operation_name:
            details.insert(0, f"operation={operation_name}")
        if request_id:
            details.append(f"request_id={request_id}")
        super().__init__(f"{message} ({', '.join(details)})")
        self.status = status
        self.errors = errors or []
        self.data = data
        self.request_id = request_id
        self.operation_name = operation_name

    @property
    def error_type(self) -> str | None:
        """The `errorType` of the first error, as AppSync names it."""
        return self.errors[0].get("errorType") if self.errors else None


class APIStatusError(APIError):
    """An HTTP error status that no more specific error describes; `retry_after` is the wait
    the server asked for (its `Retry-After`), None when it did not say."""

    retry_after: float | None = None


class AuthenticationError(APIError):
    """The API key was missing or refused."""


class RateLimitError(APIError):
    """The API throttled the request.

    `retry_after` is how many seconds the server asked to wait (its `Retry-After`), None when
    it did not say; `message` and the other keywords are those of `APIError`.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GraphQLResponseError(APIError):
    """The API answered 200 with GraphQL errors; `data` keeps whatever partial data came back."""


class NotFoundError(GraphQLResponseError):
    """The resource does not exist (or belongs to another client)."""


class ValidationError(GraphQLResponseError):
    """The API rejected the document or its variables."""


class BadRequestError(GraphQLResponseError):
    """The API refused the request on a business rule."""


class BackendError(GraphQLResponseError):
    """A data source behind the API failed (a Lambda resolver's unhandled error, DynamoDB's
    internal error): a transient fault, tried again like a 5xx; a create may have been applied
    in part, so it is looked up before it is tried again."""


class DiskError(MoveUgcError, OSError):
    """The local file system refused a write (full, read-only, gone); `errno` says why. A
    download keeps what it had written, and resumes from there once space is made."""


class StorageError(MoveUgcError):
    """A transfer to or from storage failed.

    Args:
        message: what went wrong (never a presigned URL's signature).
        status: the storage's HTTP status, None when no answer came.
        code: the storage's error code (e.g. `AccessDenied`, `SlowDown`), when it gave one.

    `retry_after` is the wait the storage asked for (its `Retry-After`), None when it did not
    say.
    """

    retry_after: float | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        details = [f"status={status}"] if status else []
        if code:
            details.append(f"code={code}")
        super().__init__(f"{message} ({', '.join(details)})" if details else message)
        self.status = status
        self.code = code


class StorageConnectionError(StorageError):
    """Storage could not be reached, or the connection broke or stalled mid-transfer."""


class URLExpiredError(StorageError):
    """The presigned URL expired; a fresh one is needed."""


class IntegrityError(StorageError):
    """Size or checksum of the transferred bytes does not match what was promised."""


class JobFailedError(MoveUgcError):
    """A job ended in FAILED (or CANCELLED).

    Args:
        job_id: the job's id (a volume's, when `volumes.wait` raises it).
        state: the state it ended in, `FAILED` or `CANCELLED`.
        reason: why it failed, when the service said.
    """

    def __init__(self, job_id: str, state: str, reason: str | None = None) -> None:
        text = f"job {job_id} ended {state}"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.job_id = job_id
        self.state = state
        self.reason = reason


class WatchTimeoutError(MoveUgcError, TimeoutError):
    """A job (or its outputs) was not ready before the deadline.

    Args:
        message: what was not ready, and after how long.
        job_id: a job that was not ready (the first of several); None for volumes.
    """

    def __init__(self, message: str, *, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class OutputsNotReadyError(WatchTimeoutError):
    """A job finished, but some of its requested outputs had no download URL by the deadline.

    `job_id` is the job; `missing` names the outputs (`OutputType` values).
    """

    def __init__(self, job_id: str, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            f"job {job_id} finished but its outputs {', '.join(self.missing)} were not ready "
            "in time",
            job_id=job_id,
        )


class OutputMissingError(InvalidInputError):
    """A job (`job_id`) does not have an output asked for; `missing` names them (`OutputType`
    values) and `detail` says what the job has or was asked for."""

    def __init__(self, job_id: str, missing: Sequence[str], *, detail: str = "") -> None:
        self.job_id = job_id
        self.missing = [str(getattr(m, "value", m)) for m in missing]
        extra = f" ({detail})" if detail else ""
        super().__init__(f"job {job_id} has no output of type {', '.join(self.missing)}{extra}")


class WebhookVerificationError(MoveUgcError):
    """A webhook delivery's signature, timestamp or id did not check out."""
