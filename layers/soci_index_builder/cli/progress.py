"""Rendering an index build: live per-layer progress on a terminal, the result as text or JSON.

The library reports through :class:`~soci_index_builder.soci.model.ProgressListener` and
returns a :class:`BuildResult`; only this module turns them into characters.
"""

from __future__ import annotations

import threading
import time
from typing import Any, TextIO

from ..soci.model import BuildResult, LayerResult

#: Redraw at most this often: a terminal is slower than the inflater.
_REDRAW_SECONDS = 0.2


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


class TerminalProgress:
    """One status line per running layer on ``stream`` (stderr), bytes and rate; thread-safe.

    On a terminal the lines are redrawn in place; elsewhere (CI logs) only finished layers
    are written, one line each, with no escape codes.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._lock = threading.Lock()
        self._layers: dict[str, tuple[int, int, float]] = {}  # digest -> (done, size, start)
        self._last = 0.0
        self._drawn = 0

    def layer_started(self, digest: str, size: int) -> None:
        with self._lock:
            self._layers[digest] = (0, size, time.monotonic())
            self._redraw(force=True)

    def layer_progress(self, digest: str, done: int) -> None:
        with self._lock:
            _, size, start = self._layers.get(digest, (0, 0, time.monotonic()))
            self._layers[digest] = (done, size, start)
            self._redraw()

    def layer_finished(self, result: LayerResult) -> None:
        with self._lock:
            self._layers.pop(result.digest, None)
            self._clear()
            rate = result.size / result.seconds if result.seconds else 0.0
            # a reused zTOC streamed nothing: say where it came from, not a rate
            detail = (
                f"from {result.reused_from}" if result.reused_from else f"{human_bytes(rate)}/s"
            )
            self._stream.write(
                f"  {result.digest[7:19]} {result.status:8} {human_bytes(result.size):>10}"
                f"  {detail}\n"
            )
            self._redraw(force=True)

    def _line(self, digest: str, done: int, size: int, start: float) -> str:
        elapsed = max(time.monotonic() - start, 1e-6)
        percent = 100 * done / size if size else 100.0
        return (
            f"  {digest[7:19]} {percent:5.1f}% {human_bytes(done):>10} / {human_bytes(size)}"
            f"  {human_bytes(done / elapsed)}/s"
        )

    def _clear(self) -> None:
        if self._drawn:
            self._stream.write("\x1b[1A\x1b[2K" * self._drawn)
            self._drawn = 0

    def _redraw(self, force: bool = False) -> None:
        if not self._live:
            return
        now = time.monotonic()
        if not force and now - self._last < _REDRAW_SECONDS:
            return
        self._last = now
        self._clear()
        for digest, (done, size, start) in self._layers.items():
            self._stream.write(self._line(digest, done, size, start) + "\n")
        self._drawn = len(self._layers)
        self._stream.flush()


def layer_to_dict(layer: LayerResult) -> dict[str, Any]:
    return {
        "digest": layer.digest,
        "media_type": layer.media_type,
        "size": layer.size,
        "status": layer.status,
        "reason": layer.reason.value if layer.reason else None,
        "ztoc_digest": layer.ztoc_digest,
        "ztoc_size": layer.ztoc_size,
        "platforms": list(layer.platforms),
        "seconds": round(layer.seconds, 3),
        "recompressed_digest": layer.recompressed_digest,
        "reused_from": layer.reused_from,
    }


def result_to_dict(result: BuildResult) -> dict[str, Any]:
    """The ``--json`` document: stable keys, enums as their string values."""
    return {
        "source": result.source,
        "source_digest": result.source_digest,
        "status": result.status,
        "reason": result.reason.value if result.reason else None,
        "output_tag": result.output_tag,
        "output_digest": result.output_digest,
        "index_digests": dict(result.index_digests),
        "layers": [layer_to_dict(layer) for layer in result.layers],
        "bytes_processed": result.bytes_processed,
        "uploaded_blobs": result.uploaded_blobs,
        "seconds": round(result.seconds, 3),
    }


def result_summary(result: BuildResult) -> str:
    """A few human lines: what happened, where the output is, why layers were skipped."""
    reason = f" ({result.reason.value})" if result.reason else ""
    lines = [f"{result.source}: {result.status}{reason} in {result.seconds:.1f}s"]
    built = sum(layer.status == "indexed" for layer in result.layers)
    reused = sum(layer.status == "reused" for layer in result.layers)
    if built or reused:
        lines.append(f"  zTOCs: {built} built, {reused} reused")
    if result.output_tag:
        lines.append(f"  output {result.output_tag} -> {result.output_digest}")
    lines += [f"  {platform}: SOCI index {d}" for platform, d in result.index_digests.items()]
    for layer in result.layers:
        why = f" ({layer.reason.value})" if layer.reason else ""
        if layer.reused_from:
            why = f" (from {layer.reused_from})"
        lines.append(
            f"  layer {layer.digest[7:19]} {human_bytes(layer.size):>10} {layer.status}{why}"
        )
    return "\n".join(lines) + "\n"
