"""Interpreter settings for a process whose main work is zTOC builds, applied by its owner.

The engine never changes process-wide state (docs/performance.md, "No process-wide state"): a
library cannot know what else runs in the process. The programs that own their process, the
``soci-index-builder`` command and the indexer Lambda, call :func:`tune_for_builds` once at
start; code embedding the engine may do the same.
"""

from __future__ import annotations

import sys

#: How long (seconds) a thread running Python keeps the GIL once another thread asks for it;
#: CPython's default is 5 ms. A build's inflate thread must take the GIL back after every
#: zlib call, and when the tar scanner holds it, it waits about the whole interval: asleep
#: 0.3 s per 500 MB layer at 5 ms, 0.14-0.2 s at 1 ms, 0.07-0.1 s at 0.2 ms, and no less
#: below (docs/performance.md, "The inflate thread and the GIL").
SWITCH_INTERVAL = 0.0002


def tune_for_builds() -> None:
    """Lower the interpreter's thread switch interval to :data:`SWITCH_INTERVAL` (a shorter
    one, set by the process owner, is kept)."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
