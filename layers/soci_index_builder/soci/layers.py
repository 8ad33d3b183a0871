"""Building the zTOCs of planned layers: a bounded thread pool, each layer streamed once.

The inflater releases the GIL, so layers of every platform build in parallel; a layer shared
by platforms was planned once and is built once. zTOC blobs are pushed as soon as they exist
(blobs are unreferenced until the index manifests go up, so this is safe for push order).
With a :class:`~.catalogue.reuse.Reuser`, a layer whose zTOC exists already is not streamed at
all: the zTOC is referenced, mounted or copied instead, and each new build is recorded
(docs/reuse.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ..errors import DeadlineExceededError
from ..oci.model import Descriptor
from ..store.base import Repository
from ..ztoc.builder import BuiltZtoc, build_ztoc
from .catalogue.reuse import Reused, Reuser, ztoc_key
from .model import IndexSettings, LayerResult, ProgressListener
from .plan import LayerAction, LayerPlan


@dataclass(frozen=True)
class BuiltLayer:
    """A layer's zTOC, pushed; ``replacement`` is set when a zstd layer became gzip."""

    plan: LayerPlan
    ztoc_digest: str
    ztoc_size: int
    #: Blobs this layer uploaded: its zTOC unless already there, plus a recompressed layer.
    uploads: int
    seconds: float
    replacement: Descriptor | None = None
    #: Set when the zTOC was not built but reused: the repository the catalogue found it in.
    reused_from: str | None = None

    @property
    def indexed_digest(self) -> str:
        """The layer digest the zTOC describes (the gzip blob when recompressed)."""
        return self.replacement.digest if self.replacement else self.plan.digest

    @property
    def indexed_media_type(self) -> str:
        return self.replacement.media_type if self.replacement else self.plan.media_type

    def result(self) -> LayerResult:
        return LayerResult(
            digest=self.plan.digest,
            media_type=self.plan.media_type,
            size=self.plan.size,
            status="indexed" if self.reused_from is None else "reused",
            ztoc_digest=self.ztoc_digest,
            ztoc_size=self.ztoc_size,
            platforms=self.plan.platforms,
            seconds=self.seconds,
            recompressed_digest=self.replacement.digest if self.replacement else None,
            reused_from=self.reused_from,
        )


def skipped_result(plan: LayerPlan) -> LayerResult:
    return LayerResult(
        digest=plan.digest,
        media_type=plan.media_type,
        size=plan.size,
        status="skipped",
        reason=plan.reason,
        platforms=plan.platforms,
    )


class _Guard:
    """Stops every worker at its next chunk once the deadline passes or a sibling failed."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.abort = threading.Event()

    def check(self) -> None:
        if self.abort.is_set():
            raise DeadlineExceededError("stopped: another layer failed or the deadline passed")
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.abort.set()
            raise DeadlineExceededError("deadline passed while building zTOCs; nothing was tagged")


def build_layers(
    repo: Repository,
    plans: Sequence[LayerPlan],
    settings: IndexSettings,
    *,
    deadline: float | None = None,
    progress: ProgressListener | None = None,
    reuser: Reuser | None = None,
) -> dict[str, BuiltLayer]:
    """Reuse or build and push the zTOC of every BUILD/RECOMPRESS plan; digest -> BuiltLayer."""
    # Largest first: the pool's last straggler is then a small layer (LPT scheduling).
    todo = sorted((p for p in plans if p.action is not LayerAction.SKIP), key=lambda p: -p.size)
    guard = _Guard(deadline)
    guard.check()
    built: dict[str, BuiltLayer] = {}
    if not todo:
        return built
    with ThreadPoolExecutor(max(1, settings.max_workers), thread_name_prefix="ztoc") as pool:
        futures = [
            pool.submit(_build_one, repo, plan, settings, guard, progress, reuser) for plan in todo
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None:
            guard.abort.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise failed.exception()  # type: ignore[misc]
    for future in futures:
        layer = future.result()
        built[layer.plan.digest] = layer
    return built


def _build_one(
    repo: Repository,
    plan: LayerPlan,
    settings: IndexSettings,
    guard: _Guard,
    progress: ProgressListener | None,
    reuser: Reuser | None,
) -> BuiltLayer:
    guard.check()
    started = time.monotonic()
    key = ztoc_key(plan, settings)
    reused = reuser.reuse(key, plan.size) if reuser is not None else None
    if reused is not None:
        return _finished(_reused_layer(plan, reused, started), progress)
    if progress is not None:
        progress.layer_started(plan.digest, plan.size)
    on_progress = _progress_callback(plan.digest, guard, progress)
    replacement = None
    if plan.action is LayerAction.RECOMPRESS:
        from .recompress import recompress_and_build  # zstandard only on this path

        ztoc, replacement = recompress_and_build(repo, plan, settings, on_progress)
    else:
        ztoc = _build_from_source(repo, plan, settings, on_progress)
    uploads = int(repo.push_blob(ztoc.digest, ztoc.raw)) + (replacement is not None)
    if reuser is not None:
        reuser.record(key, ztoc.digest, ztoc.size, replacement)
    layer = BuiltLayer(
        plan, ztoc.digest, ztoc.size, uploads, time.monotonic() - started, replacement
    )
    return _finished(layer, progress)


def _reused_layer(plan: LayerPlan, reused: Reused, started: float) -> BuiltLayer:
    return BuiltLayer(
        plan,
        reused.ztoc_digest,
        reused.ztoc_size,
        reused.uploads,
        time.monotonic() - started,
        reused.replacement,
        reused_from=reused.where,
    )


def _finished(layer: BuiltLayer, progress: ProgressListener | None) -> BuiltLayer:
    if progress is not None:
        progress.layer_finished(layer.result())
    return layer


def _build_from_source(
    repo: Repository, plan: LayerPlan, settings: IndexSettings, on_progress: Callable[[int], None]
) -> BuiltZtoc:
    assert plan.compression is not None
    with repo.open_blob(plan.digest, plan.size) as stream:
        return build_ztoc(
            stream,
            compression=plan.compression,
            span_size=settings.span_size,
            build_tool_identifier=settings.build_tool_identifier,
            expected_digest=plan.digest,
            expected_size=plan.size,
            source_verifies=True,  # open_blob's stream checks the digest at EOF
            on_progress=on_progress,
        )


def _progress_callback(
    digest: str, guard: _Guard, progress: ProgressListener | None
) -> Callable[[int], None]:
    def on_progress(done: int) -> None:
        guard.check()
        if progress is not None:
            progress.layer_progress(digest, done)

    return on_progress
