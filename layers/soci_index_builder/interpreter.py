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
#: zlib call, and behind the tar scanner it waited up to the whole interval each time: 0.3 s
#: asleep per 500 MB layer at 5 ms, 0.1-0.16 s at 1 ms (docs/performance.md, "The inflate
#: thread and the GIL"). Shorter intervals gained no more wall time there.
SWITCH_INTERVAL = 0.001


def tune_for_builds() -> None:
    """Lower the interpreter's thread switch interval to :data:`SWITCH_INTERVAL` (a shorter
    one, set by the process owner, is kept)."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
