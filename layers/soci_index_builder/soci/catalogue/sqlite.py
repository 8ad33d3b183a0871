"""The CLI's catalogue: one SQLite file under the user cache directory (docs/reuse.md).

A cache, not a record: losing it costs rebuilds, so a file that is not a readable catalogue
is moved aside (``<file>.corrupt``, never deleted: the builder may not have made it) and a
fresh one is created, with a warning. Each call opens its own connection, so worker threads
and concurrent CLI runs share the file safely (SQLite's file locks, a busy timeout).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from ...oci.model import Descriptor
from . import CatalogueEntry, ZtocKey

log = logging.getLogger(__name__)

#: Bumped when the table changes: an older file is then simply recreated.
SCHEMA_VERSION = 1
_BUSY_TIMEOUT_S = 10.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS ztocs (
    layer_digest TEXT NOT NULL, span_size INTEGER NOT NULL, build_tool TEXT NOT NULL,
    compression TEXT NOT NULL, ztoc_digest TEXT NOT NULL, ztoc_size INTEGER NOT NULL,
    location TEXT NOT NULL, replacement_digest TEXT, replacement_size INTEGER,
    replacement_media_type TEXT, recorded_at REAL NOT NULL,
    PRIMARY KEY (layer_digest, span_size, build_tool, compression)
)
"""
_KEY = "layer_digest = ? AND span_size = ? AND build_tool = ? AND compression = ?"


def default_path() -> Path:
    """``$XDG_CACHE_HOME/soci-index-builder/ztocs.sqlite`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "soci-index-builder" / "ztocs.sqlite"


class SqliteCatalogue:
    """The :class:`~soci_index_builder.soci.catalogue.Catalogue` of one SQLite file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # serialises this process's schema checks
        self._ready = False

    def lookup(self, key: ZtocKey) -> CatalogueEntry | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT ztoc_digest, ztoc_size, location, replacement_digest, replacement_size,"
                f" replacement_media_type FROM ztocs WHERE {_KEY}",
                _params(key),
            ).fetchone()
        if row is None:
            return None
        replacement = None
        if row[3] is not None:
            replacement = Descriptor(str(row[5]), str(row[3]), int(row[4]))
        return CatalogueEntry(str(row[0]), int(row[1]), str(row[2]), replacement)

    def record(self, key: ZtocKey, entry: CatalogueEntry) -> None:
        rep = entry.replacement
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO ztocs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *_params(key),
                    entry.ztoc_digest,
                    entry.ztoc_size,
                    entry.where,
                    rep.digest if rep else None,
                    rep.size if rep else None,
                    rep.media_type if rep else None,
                    time.time(),
                ),
            )

    def drop(self, key: ZtocKey) -> None:
        with self._connect() as db:
            db.execute(f"DELETE FROM ztocs WHERE {_KEY}", _params(key))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection to a checked file; one transaction, committed on success."""
        with self._lock:
            if not self._ready:
                self._prepare()
                self._ready = True
        with closing(sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S)) as db, db:
            yield db

    def _prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._create()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) or not self.path.is_file():
                raise  # busy or unopenable, not corrupt: the caller's guard makes it a rebuild
            aside = self.path.with_name(self.path.name + ".corrupt")
            log.warning("zTOC cache %s is unreadable (%s): moved to %s", self.path, exc, aside)
            self.path.replace(aside)
            self._create()

    def _create(self) -> None:
        with closing(sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S)) as db, db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
            db.execute(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("SELECT count(*) FROM ztocs").fetchone()


def _params(key: ZtocKey) -> tuple[str, int, str, str]:
    return (key.layer_digest, key.span_size, key.build_tool, key.compression)
