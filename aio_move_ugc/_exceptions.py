"""Every error the SDK raises, under one root.

    MoveUgcError
    ├── InvalidInputError             bad input, refused before anything is sent
    │   ├── ConfigurationError        a bad API key, endpoint URL or setting
    │   └── OutputMissingError        an output asked for that the job lacks
    ├── ClientClosedError             the client was closed for good
    ├── APIError                      a request to the API failed, for any reason
    │   ├── APIConnectionError        no answer: refused, reset, DNS, TLS
    │   │   └── APITimeoutError       no answer in time
    │   ├── OutcomeUnknownError       a create may have happened; `lookup`
    │   ├── APIStatusError            an error answer: status, errors, request id
    │   │   ├── AuthenticationError   401 / UnauthorizedException
    │   │   ├── RateLimitError        429 / throttling; `retry_after`
    │   │   ├── InternalServerError   5xx: the service's own failure
    │   │   └── GraphQLResponseError  HTTP 200 with GraphQL `errors`
    │   │       ├── NotFoundError     MoveNotFoundError
    │   │       ├── ValidationError   the document or variables were refused
    │   │       ├── BadRequestError   a business rule was broken
    │   │       └── BackendError      a data source behind the API failed
    │   └── UnexpectedResponseError   an answer the SDK cannot use
    ├── StorageError                  a presigned-URL transfer failed
    │   ├── StorageConnectionError    no answer from storage
    │   ├── URLExpiredError           the presigned URL has expired
    │   └── IntegrityError            bytes differ from the size or ETag
    ├── DiskError                     the local disk refused a write (an OSError)
    ├── JobFailedError                a followed job ended FAILED or CANCELLED
    ├── VolumeFailedError             a followed volume ended FAILED
    ├── JobNotFoundError              a followed job does not exist
    ├── VolumeNotFoundError           a followed volume does not exist
    ├── WatchTimeoutError             a job or volume was not ready in time
    │   └── OutputsNotReadyError      finished, but outputs had no URL
    └── WebhookVerificationError      a delivery failed verification

`tests/client/test_error_tree.py` pins this drawing: each class's parent is the one shown.
No message or attribute ever holds the API key or a presigned URL's signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class MoveUgcError(Exception):
    """Root of every error raised by aio_move_ugc."""


class InvalidInputError(MoveUgcError, ValueError):
    """The caller gave something that cannot work; nothing was sent because of it (an
    `OutputMissingError` is raised before any download starts)."""


class ConfigurationError(InvalidInputError):
    """The client cannot be configured as asked (API key, endpoint URL, limits)."""


class ClientClosedError(MoveUgcError, RuntimeError):
    """The client was closed; create a new one."""


class APIError(MoveUgcError):
    """A request to the API failed, whatever the reason: no answer, an unknown outcome, an
    error answer or one the SDK cannot read. `except APIError` catches every one of them.

    `status`, `request_id`, `errors` and `data` are those of the answer when one came back
    (None, None, `[]` and None when none did).

    Args:
        message: what went wrong; when an answer came back, the error's text adds the
            operation, status and request id.
        operation_name: the GraphQL operation that was being sent, when known.
        status: the HTTP status of the answer, when one came back.
        errors: the GraphQL `errors` of the answer (each with `errorType`, `message`...).
        data: the answer's `data`, whatever partial data came back.
        request_id: the request id the API gave the answer, when it did.
    """

    def __init__(
        self,
        message: str,
        *,
        operation_name: str | None = None,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        data: Any = None,
        request_id: str | None = None,
    ) -> None:
        if status is not None:
            details = [f"status={status}"]
            if operation_name:
                details.insert(0, f"operation={operation_name}")
            if request_id:
                details.append(f"request_id={request_id}")
            message = f"{message} ({', '.join(details)})"
        super().__init__(message)
        self.operation_name = operation_name
        self.status = status
        self.errors = errors or []
        self.data = data
        self.request_id = request_id

    @property
    def error_type(self) -> str | None:
        """The `errorType` of the first error, as AppSync names it."""
        return self.errors[0].get("errorType") if self.errors else None


class APIConnectionError(APIError):
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
        super().__init__(message, operation_name=operation_name)
        self.request_sent = request_sent
        """False when the connection could not be made, so the request never left."""


class APITimeoutError(APIConnectionError):
    """No answer arrived in time."""


class OutcomeUnknownError(APIError):
    """A mutation that creates something may have been applied; look it up before retrying.

    What was seen is the error's `__cause__`: a connection that broke, a timeout, or an
    answer such as a 500 that does not say whether the work was done (its `status` and
    `request_id` are copied here).

    Args:
        message: what went wrong; the error's text is this followed by `lookup`.
        operation_name: the create mutation that was being sent, when known.
        lookup: what to look up to learn whether it was applied.
        status: the HTTP status of the answer that left the outcome open, if any.
        request_id: that answer's request id, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        operation_name: str | None = None,
        lookup: str,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{message}; {lookup}", operation_name=operation_name)
        self.status = status
        self.request_id = request_id
        self.lookup = lookup
        """What to look up to learn whether the mutation was applied."""


class APIStatusError(APIError):
    """The API answered with an error: an HTTP error status, or GraphQL `errors` (the
    subclasses say which). `status` is always set; `retry_after` is the wait the server asked
    for (its `Retry-After`, in seconds), None when it did not say.

    Args:
        message: what went wrong; the error's text adds the operation, status and request id.
        status: the HTTP status of the answer.
        errors: the GraphQL `errors` of the answer (each with `errorType`, `message`...).
        data: the answer's `data`, whatever partial data came back.
        request_id: the request id the API gave the answer, when it did.
        operation_name: the GraphQL operation that was sent, when known.
    """

    status: int
    retry_after: float | None = None

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
        super().__init__(
            message,
            operation_name=operation_name,
            status=status,
            errors=errors,
            data=data,
            request_id=request_id,
        )


class AuthenticationError(APIStatusError):
    """The API key was missing or refused."""


class RateLimitError(APIStatusError):
    """The API throttled the request.

    `retry_after` is how many seconds the server asked to wait (its `Retry-After`), None when
    it did not say; `message` and the other keywords are those of `APIStatusError`.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """The API answered with a 5xx status: its own failure, not the request's."""


class GraphQLResponseError(APIStatusError):
    """The API answered 200 with GraphQL errors; `data` keeps whatever partial data came back."""


class NotFoundError(GraphQLResponseError):
    """The API said the resource does not exist (or belongs to another client)."""


class ValidationError(GraphQLResponseError):
    """The API rejected the document or its variables."""


class BadRequestError(GraphQLResponseError):
    """The API refused the request on a business rule."""


class UnexpectedResponseError(APIError):
    """The API answered without an error, but not with what the SDK needs: not JSON,
    neither data nor errors, data of another shape, a file record without its URL.

    `status` and `request_id` are those of the answer when known.
    """


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
        job_id: the job's id.
        state: the state it ended in, `FAILED` or `CANCELLED`.
        reason: why it failed, when the service said.
    """

    def __init__(self, job_id: str, state: str, reason: str | None = None) -> None:
        text = f"job {job_id} ended {state}"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.job_id = job_id
        self.state = state
        self.reason = reason


class VolumeFailedError(MoveUgcError):
    """A human volume ended in FAILED.

    Args:
        volume_id: the volume's id.
        state: the state it ended in.
        reason: why it failed, when the service said.
    """

    def __init__(self, volume_id: str, state: str, reason: str | None = None) -> None:
        text = f"volume {volume_id} ended {state}"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.volume_id = volume_id
        self.state = state
        self.reason = reason


class JobNotFoundError(MoveUgcError, LookupError):
    """A job being followed does not exist: the API left it out of its answer about the
    jobs asked for (no error answer of its own, so no status or request id).

    Args:
        job_id: the job's id.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class VolumeNotFoundError(MoveUgcError, LookupError):
    """A human volume being followed does not exist (the API left it out of its answer).

    Args:
        volume_id: the volume's id.
    """

    def __init__(self, volume_id: str) -> None:
        super().__init__(f"volume {volume_id} not found")
        self.volume_id = volume_id


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
    """A job (`job_id`) does not have an output asked for, as far as the SDK knows (what the
    job was asked for, or what the ready job lists); `missing` names them (`OutputType`
    values) and `detail` says what the job has or was asked for."""

    def __init__(self, job_id: str, missing: Sequence[str], *, detail: str = "") -> None:
        self.job_id = job_id
        self.missing = [str(getattr(m, "value", m)) for m in missing]
        extra = f" ({detail})" if detail else ""
        super().__init__(f"job {job_id} has no output of type {', '.join(self.missing)}{extra}")


class WebhookVerificationError(MoveUgcError):
    """A webhook delivery's signature, timestamp or id did not check out."""
