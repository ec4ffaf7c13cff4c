"""The results store: one SQLite file per results folder, one transaction per finished cell.

Why SQLite: it is embedded (no server), a committed transaction survives SIGKILL of the writer
(write-ahead log), and ``UNIQUE(cell_id)`` makes a duplicated cell impossible rather than merely
unlikely. A cell's rows are stored as one JSON document next to its SHA-256, so that a damaged
store is detected when it is read instead of silently feeding a figure.

Layout of ``<folder>/results.sqlite``:

* ``meta(key, value)``: ``format`` (always ``collective-action-results``) and ``schema_version``;
  ``spec:<experiment>``: the validated experiment file and its quick flag (JSON);
* ``experiments(name, fingerprint, source, quick, registered_at)``: the experiments whose
  cells live here (a store may hold several, e.g. all files of one claim);
* ``cells(cell_id UNIQUE, experiment, pillar, seed, config, status, error, rows, rows_sha256,
  package_version, sweep_backend, host, started_at, finished_at, wall_s)``: ``status`` is
  ``done`` or ``failed``; a failed cell is retried by the next run, a done cell never is.

Only one process writes (the sweep's parent); an advisory lock on ``<folder>/.lock`` keeps two
sweeps from writing into the same folder at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from urllib.parse import quote
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..errors import InputError
from ..results import rows_to_frame

STORE_FILENAME = "results.sqlite"
STORE_FORMAT = "collective-action-results"
SCHEMA_VERSION = 1

#: Columns that describe how and when a row was computed, not what it measured. Two runs of the
#: same sweep agree on every other column.
TIMING_COLUMNS = ("sweep_backend", "host", "started_at", "finished_at", "wall_s")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    source TEXT NOT NULL,
    quick INTEGER NOT NULL,
    registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    cell_id TEXT NOT NULL UNIQUE,
    experiment TEXT NOT NULL,
    pillar TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error TEXT,
    rows TEXT,
    rows_sha256 TEXT,
    package_version TEXT NOT NULL,
    sweep_backend TEXT NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    wall_s REAL NOT NULL
);
"""


class StoreWriteError(InputError):
    """The store could not be written (disk full, write access lost, an I/O error): one line.
    What was committed before stays; the next run of the same command resumes from it."""


class StoreDamaged(InputError):
    """The store file is corrupt or not SQLite: reading commands refuse it, running commands set it aside."""


@dataclass(frozen=True)
class CellOutcome:
    """What the runner hands the store for one cell: its records, or the one-line error."""

    cell_id: str
    experiment: str
    pillar: str
    seed: int
    config: dict
    records: list[dict] | None
    error: str | None
    sweep_backend: str
    host: str
    started_at: str
    finished_at: str
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.error is None


def _json_default(obj: Any):
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _dumps(obj: Any) -> str:
    # NaN is a legal value in results (an undefined column), so allow it in the JSON text.
    return json.dumps(obj, sort_keys=True, default=_json_default, allow_nan=True)


def _intact(rows_json: str | None, sha: str | None) -> bool:
    return rows_json is not None and sha is not None and hashlib.sha256(rows_json.encode()).hexdigest() == sha


def store_path(folder: str | Path) -> Path:
    """The store file of a results folder (``folder`` may also name the file itself: a path
    ending in .sqlite that is not an existing folder)."""
    folder = Path(folder)
    return folder if (folder.suffix == ".sqlite" and not folder.is_dir()) else folder / STORE_FILENAME


def has_store(folder: str | Path) -> bool:
    return store_path(folder).is_file()


class ResultStore:
    """An open results store. Use :meth:`open` (reading or resuming) or :meth:`create`.

    Every constructor checks the file: SQLite's own ``integrity_check``, the format marker and
    the schema version; any failure is an :class:`InputError` with one line naming the file.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn
        self._lock_fd: int | None = None

    # ---------------------------------------------------------------- opening and checking
    @classmethod
    def open(cls, folder: str | Path, create: bool = False) -> "ResultStore":
        path = store_path(folder)
        if not path.is_file():
            if not create:
                raise InputError(f"no results store at {path}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            except (OSError, sqlite3.Error) as err:
                raise StoreWriteError(f"results store {path} cannot be created "
                                      f"({getattr(err, 'strerror', None) or err})") from None
            store = cls(path, conn)
            try:
                store._initialise()
            except BaseException:
                conn.close()
                raise
            return store
        try:
            # the path is percent-encoded: a '?' or '#' in a folder name must not end the file name
            uri = f"file:{quote(str(path.absolute()))}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
        except sqlite3.Error as err:
            raise InputError(f"results store {path} cannot be opened: {err}") from None
        store = cls(path, conn)
        try:
            if create and store._is_blank():
                # killed while creating the store, before its schema was committed: start it afresh
                store._initialise()
                return store
            store._check()
        except BaseException:
            # a refused store is left as it was: closing removes the -wal/-shm files SQLite made
            conn.close()
            raise
        return store

    @classmethod
    def set_aside_if_damaged(cls, folder: str | Path) -> Path | None:
        """Before a run writes to ``folder``: a store there that is corrupt or not an SQLite file is
        renamed ``results.sqlite.damaged-<UTC time>`` (with its -wal/-shm files), never overwritten,
        and a note says so; the run then starts a new store. Returns the new name, or None."""
        path = store_path(folder)
        if not path.is_file() or path.stat().st_size == 0:
            return None  # nothing there, or a creation cut short: the run starts it afresh in place
        try:
            cls.open(folder).close()
            return None
        except StoreDamaged as err:
            reason = str(err)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = path.with_name(f"{path.name}.damaged-{stamp}")
        try:
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(path) + suffix)
                if src.exists():
                    src.rename(Path(str(aside) + suffix))
        except OSError as err:
            raise StoreWriteError(f"{reason}; it could not be moved aside ({err.strerror or err})") from None
        sys.stderr.write(f"note: {reason.split('; move it away')[0]}; moved aside to {aside} (kept as it was); "
                         "starting a new store\n")
        return aside

    def _is_blank(self) -> bool:
        """An SQLite file with no tables at all (a store whose creation was interrupted)."""
        try:
            return self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
        except sqlite3.DatabaseError:
            return False

    def _initialise(self) -> None:
        c = self._conn
        with self._writing():
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")  # a committed cell survives power loss, not just SIGKILL
            c.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                c.execute(statement)
            c.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (STORE_FORMAT,))
            c.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            c.execute("COMMIT")

    @contextmanager
    def _writing(self):
        """A write that fails (SQLITE_FULL, a read-only file, an I/O error) is rolled back and
        becomes one StoreWriteError; the transactions committed before it are untouched."""
        try:
            yield
        except sqlite3.Error as err:
            try:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may have rolled back on its own already
            raise StoreWriteError(f"results store {self.path} cannot be written ({err})") from None

    def _check(self) -> None:
        where = f"results store {self.path}"
        try:
            c = self._conn
            verdict = [r[0] for r in c.execute("PRAGMA integrity_check").fetchall()]
            if verdict != ["ok"]:
                raise StoreDamaged(f"{where} is corrupt (integrity check: {verdict[0]}); move it away and rerun")
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"meta", "experiments", "cells"} <= tables:
                raise StoreDamaged(f"{where} is not a collective-action results store (tables missing); "
                                   "move it away and rerun")
            meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != STORE_FORMAT:
                raise StoreDamaged(f"{where} is not a collective-action results store; move it away and rerun")
            if meta.get("schema_version") != str(SCHEMA_VERSION):
                raise InputError(
                    f"{where} has schema version {meta.get('schema_version')!r}; "
                    f"this toolkit reads version {SCHEMA_VERSION}"
                )
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as err:
            raise StoreDamaged(f"{where} is corrupt or not an SQLite file ({err}); move it away and rerun") from None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._conn.close()
            self._conn = None
        self.unlock()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- single-writer lock
    def lock(self) -> None:
        """Take the folder's writer lock (released by the OS even if this process is killed)."""
        # a store named by its file (--out X.sqlite) locks X.sqlite.lock, a folder's store <folder>/.lock
        lock_file = (self.path.parent / ".lock" if self.path.name == STORE_FILENAME
                     else self.path.with_name(self.path.name + ".lock"))
        try:
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise StoreWriteError(f"results store {self.path}: cannot make its lock file {lock_file} "
                                  f"({err.strerror or err})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(f"{self.path.parent} is being written by another sweep; wait for it or choose another --out") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---------------------------------------------------------------- experiments
    def experiments(self) -> dict[str, dict]:
        cur = self._conn.execute("SELECT name, fingerprint, source, quick, registered_at FROM experiments")
        return {
            name: {"fingerprint": fp, "source": src, "quick": bool(q), "registered_at": at}
            for name, fp, src, q, at in cur.fetchall()
        }

    def register_experiment(self, name: str, fingerprint: str, source: str, quick: bool, when: str) -> None:
        with self._writing():
            self._conn.execute(
                "INSERT OR REPLACE INTO experiments VALUES (?, ?, ?, ?, ?)",
                (name, fingerprint, source, int(quick), when),
            )

    def save_spec(self, name: str, spec: dict, quick: bool) -> None:
        """Keep the validated experiment file with its rows, so the store alone can be assessed and drawn."""
        with self._writing():
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                               (f"spec:{name}", json.dumps({"spec": spec, "quick": bool(quick)}, sort_keys=True)))

    def specs(self) -> dict[str, dict]:
        """{experiment name: {"spec": validated file as JSON, "quick": bool}} of the specs saved here."""
        return {key[5:]: json.loads(value) for key, value in
                self._conn.execute("SELECT key, value FROM meta WHERE key LIKE 'spec:%'")}

    # ---------------------------------------------------------------- cells
    def done_ids(self) -> set[str]:
        """Cells stored as done whose rows still match their checksum (a damaged cell is not done)."""
        return {cid for cid, rows, sha in self._conn.execute(
            "SELECT cell_id, rows, rows_sha256 FROM cells WHERE status='done'") if _intact(rows, sha)}

    def damaged_ids(self) -> list[str]:
        """Done cells whose stored rows fail their checksum."""
        return sorted(cid for cid, rows, sha in self._conn.execute(
            "SELECT cell_id, rows, rows_sha256 FROM cells WHERE status='done'") if not _intact(rows, sha))

    def mark_damaged_failed(self) -> list[str]:
        """Turn damaged done cells into failed ones, so that this run recomputes them."""
        ids = self.damaged_ids()
        if ids:
            c = self._conn
            with self._writing():
                c.execute("BEGIN IMMEDIATE")
                try:
                    c.executemany("UPDATE cells SET status='failed', error=?, rows=NULL, rows_sha256=NULL "
                                  "WHERE cell_id=?", [("stored rows were damaged (checksum mismatch)", i) for i in ids])
                    c.execute("COMMIT")
                except BaseException:
                    if c.in_transaction:  # SQLite may have rolled back on its own (disk full)
                        c.execute("ROLLBACK")
                    raise
        return ids

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM cells WHERE status=?", (status,)).fetchone()[0]

    def write(self, outcome: CellOutcome, package_version: str) -> None:
        """Store one finished cell in its own transaction.

        A done cell is never overwritten (its first result stands); a failed cell is replaced
        by a later attempt's outcome.
        """
        rows_json = sha = None
        if outcome.ok:
            rows_json = _dumps(outcome.records)
            sha = hashlib.sha256(rows_json.encode()).hexdigest()
        values = (
            outcome.cell_id, outcome.experiment, outcome.pillar, int(outcome.seed), _dumps(outcome.config),
            "done" if outcome.ok else "failed", outcome.error, rows_json, sha, package_version,
            outcome.sweep_backend, outcome.host, outcome.started_at, outcome.finished_at,
            float(outcome.wall_s),
        )
        c = self._conn
        with self._writing():
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(
                    """INSERT INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT(cell_id) DO UPDATE SET
                         status=excluded.status, error=excluded.error, rows=excluded.rows,
                         rows_sha256=excluded.rows_sha256, package_version=excluded.package_version,
                         sweep_backend=excluded.sweep_backend, host=excluded.host,
                         started_at=excluded.started_at, finished_at=excluded.finished_at,
                         wall_s=excluded.wall_s
                       WHERE cells.status = 'failed'""",
                    values,
                )
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:  # SQLite may have rolled back on its own (disk full)
                    c.execute("ROLLBACK")
                raise

    def failures(self, experiment: str | None = None) -> pd.DataFrame:
        sql = "SELECT cell_id, experiment, seed, config, error, finished_at FROM cells WHERE status='failed'"
        args: tuple = ()
        if experiment is not None:
            sql += " AND experiment=?"
            args = (experiment,)
        return pd.read_sql_query(sql + " ORDER BY cell_id", self._conn, params=args)

    def frame(self, experiments: Iterable[str] | None = None, cell_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The done cells' rows as one DataFrame (rows_to_frame schema), sorted by cell_id.

        Each row also carries the cell's ``package_version``, ``sweep_backend``, ``host``,
        ``started_at``, ``finished_at`` and ``wall_s``; ``row_in_cell`` numbers the rows of a
        cell (a pillar may return several). A cell whose rows fail their checksum is left out
        and its id kept in ``skipped_damaged`` (the next sweep recomputes it).
        """
        self.skipped_damaged: list[str] = []
        cur = self._conn.execute(
            "SELECT cell_id, experiment, pillar, seed, config, rows, rows_sha256, package_version, sweep_backend, "
            "host, started_at, finished_at, wall_s FROM cells WHERE status='done' ORDER BY cell_id"
        )
        wanted_exp = set(experiments) if experiments is not None else None
        wanted_ids = set(cell_ids) if cell_ids is not None else None
        records: list[dict] = []
        for (cell_id, experiment, pillar, seed, config, rows_json, sha, version, backend, host, t0, t1, wall) in cur:
            if wanted_exp is not None and experiment not in wanted_exp:
                continue
            if wanted_ids is not None and cell_id not in wanted_ids:
                continue
            if not _intact(rows_json, sha):
                self.skipped_damaged.append(cell_id)
                continue
            for i, rec in enumerate(json.loads(rows_json)):
                rec = dict(rec)
                rec.setdefault("config", config)  # the cell's configuration, if the pillar left it out
                rec.update(
                    cell_id=cell_id, experiment=experiment, pillar=pillar, seed=seed, row_in_cell=i,
                    package_version=version, sweep_backend=backend, host=host,
                    started_at=t0, finished_at=t1, wall_s=wall,
                )
                records.append(rec)
        if not records:
            return rows_to_frame([])
        frame = rows_to_frame(records)
        # JSON has no NaN for missing keys: a column absent from some rows is NaN there.
        return frame.reset_index(drop=True)


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the timing and environment columns, sorted by (cell_id, row_in_cell).

    Two runs of the same sweep (one killed and resumed, one on another backend) give equal
    results of this function.
    """
    from .provenance import ENVIRONMENT_COLUMNS

    drop = [c for c in (*TIMING_COLUMNS, *ENVIRONMENT_COLUMNS) if c in frame.columns]
    out = frame.drop(columns=drop)
    keys = [k for k in ("cell_id", "row_in_cell") if k in out.columns]
    return out.sort_values(keys).reset_index(drop=True) if keys else out.reset_index(drop=True)
