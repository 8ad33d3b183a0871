"""The registry client's one retry policy: what is retried, how often, how long to wait.

Every retry of the client goes through :meth:`RetryPolicy.run`, around one request or around
one compound operation (a monolithic upload's POST + PUT), never both: no nested loops.
A retry happens only while both budgets last: attempts (more for a busy registry, throttling
that ECR's low shared PutImage quota makes routine, than for failures) and the caller's
deadline. Waits are full-jitter exponential backoff, or the server's ``Retry-After`` (capped).
See ``docs/credentials.md`` "Retries, deadlines and uploads".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ...errors import DeadlineExceededError, RegistryError
from .errors import MANIFEST_PUSH_RACE_CODES, ConnectError

T = TypeVar("T")

#: Tries per request or operation on failures (5xx, timeouts, resets), the first included.
MAX_ATTEMPTS = 5
#: Tries while the registry is busy (429 / TOOMANYREQUESTS, manifest push races): ECR's PutImage
#: quota is shared with every CI push of the account, so a burst of 429s is ridden out, within
#: the deadline.
THROTTLE_ATTEMPTS = 12
#: First backoff ceiling in seconds; doubles per attempt up to :data:`MAX_BACKOFF`.
BACKOFF_BASE = 0.5
#: Longest wait between two tries, ``Retry-After`` included.
MAX_BACKOFF = 20.0
THROTTLE_CODES = frozenset({"TOOMANYREQUESTS"})


def is_busy(exc: RegistryError) -> bool:
    """Answers meaning "busy, try later", which get the longer budget: throttling, and the race
    answers of concurrent pushes of one manifest when the request marked them transient."""
    race = exc.transient and exc.code in MANIFEST_PUSH_RACE_CODES
    return exc.status == 429 or exc.code in THROTTLE_CODES or race


def may_have_acted(exc: RegistryError) -> bool:
    """A transient failure after which :meth:`RetryPolicy.run` does not replay a non-idempotent
    request: not throttling (answered before acting) nor a failed connect (nothing sent), so the
    server may have received and acted on it (a reset or timeout after sending, a 5xx)."""
    return exc.transient and not is_busy(exc) and not isinstance(exc, ConnectError)


def remaining(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (a ``time.monotonic()`` value), or None for no limit."""
    return None if deadline is None else deadline - time.monotonic()


def check_deadline(deadline: float | None, what: str) -> None:
    """Raise DeadlineExceededError once ``deadline`` has passed."""
    left = remaining(deadline)
    if left is not None and left <= 0:
        raise DeadlineExceededError(f"{what}: deadline reached")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt budgets and backoff; ``sleep`` is injectable for tests."""

    max_attempts: int = MAX_ATTEMPTS
    throttle_attempts: int = THROTTLE_ATTEMPTS
    backoff_base: float = BACKOFF_BASE
    max_backoff: float = MAX_BACKOFF
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.throttle_attempts < 1:
            raise ValueError("attempt budgets must be >= 1")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Wait after failed try number ``attempt``: ``Retry-After`` if given, else jitter."""
        if retry_after is not None:
            return min(self.max_backoff, max(0.0, retry_after))
        ceiling = min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    def run(
        self,
        operation: Callable[[], T],
        *,
        what: str,
        deadline: float | None = None,
        idempotent: bool = True,
    ) -> T:
        """``operation()`` until it succeeds, fails for good, or a budget runs out.

        Retried: transient RegistryErrors. For a non-idempotent operation (an upload PATCH
        would append twice) only throttling, which servers answer before acting, and failures
        to connect, where nothing was sent. The last error is raised as is; when waiting would
        cross the deadline, DeadlineExceededError is raised from it instead.
        """
        failures = throttles = 0
        while True:
            check_deadline(deadline, what)
            try:
                return operation()
            except RegistryError as exc:
                if not exc.transient or (not idempotent and may_have_acted(exc)):
                    raise
                if is_busy(exc):
                    throttles += 1
                else:
                    failures += 1
                self.wait(throttles if is_busy(exc) else failures, exc, deadline, what)

    def spent(self, attempt: int, exc: RegistryError) -> bool:
        """True once ``attempt`` failed tries of ``exc``'s kind (throttling or failure) use up
        that kind's budget: no further try."""
        return attempt >= (self.throttle_attempts if is_busy(exc) else self.max_attempts)

    def wait(self, attempt: int, exc: RegistryError, deadline: float | None, what: str) -> None:
        """Sleep before try ``attempt + 1`` after ``exc``, or raise when a budget is spent.

        ``attempt`` counts the failed tries of ``exc``'s kind (throttling or failure) so far.
        """
        if self.spent(attempt, exc):
            raise exc
        pause = self.delay(attempt, exc.retry_after)
        left = remaining(deadline)
        if left is not None and pause >= left:
            raise DeadlineExceededError(f"{what}: deadline reached ({exc})") from exc
        self.sleep(pause)


#: The policy of clients built without one (a module attribute: tests shorten the waits).
DEFAULT_POLICY = RetryPolicy()
