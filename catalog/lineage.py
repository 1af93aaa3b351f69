"""Lineage records: miss events -> mining job -> labeled samples (dataset version) -> training run -> version.

Functions here take an open connection inside the caller's transaction; use them through
:class:`catalog.Catalog` (``record_mining_job``, ``record_dataset_version``,
``record_training_run``, ``lineage``).
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from catalog import _schema as t
from catalog._db import as_utc, new_id, utcnow
from catalog.errors import InvalidSpecError, UnknownRecordError
from catalog.records import ModelVersion, _json_dict, _str_tuple, metrics_dict, validate_slug

log = logging.getLogger(__name__)
_MAX_REF_LEN = 256


def _refs(values: object, what: str, *, allow_empty: bool) -> tuple[str, ...]:
    out = _str_tuple(values, what)
    if not out and not allow_empty:
        raise InvalidSpecError(f"{what} is empty; give at least one id", value=values)
    long = [v for v in out if len(v) > _MAX_REF_LEN]
    if long:
        raise InvalidSpecError(f"{what} has ids longer than {_MAX_REF_LEN} characters: {long[:3]!r}; shorten them", value=long)
    return out


def _require(conn: sa.Connection, table: sa.Table, record_id: str, algorithm_id: str, what: str) -> sa.Row:
    row = conn.execute(sa.select(table).where(table.c.id == record_id)).first()
    if row is None:
        raise UnknownRecordError(f"unknown {what} {record_id!r}; record it first (Catalog.record_{what.replace(' ', '_')})", value=record_id)
    if row.algorithm_id != algorithm_id:
        raise InvalidSpecError(
            f"{what} {record_id!r} belongs to algorithm {row.algorithm_id!r}, not {algorithm_id!r}; "
            "lineage never crosses algorithms: record one for this algorithm",
            value=record_id,
        )
    return row


def _insert_positions(conn: sa.Connection, table: sa.Table, key: str, key_value: str, column: str, values: tuple[str, ...]) -> None:
    if values:
        conn.execute(table.insert(), [{key: key_value, "position": i, column: v} for i, v in enumerate(values)])


def record_mining_job(conn: sa.Connection, algorithm_id: str, *, miss_event_ids: list[str], strategy: str,
                      candidate_ids: list[str]) -> str:  # fmt: skip
    misses = _refs(miss_event_ids, "miss_event_ids", allow_empty=True)
    candidates = _refs(candidate_ids, "candidate_ids", allow_empty=True)
    validate_slug(strategy, "mining strategy")
    job_id = new_id("mine")
    conn.execute(t.mining_jobs.insert().values(id=job_id, algorithm_id=algorithm_id, strategy=strategy, created_at=utcnow()))
    _insert_positions(conn, t.mining_job_miss_events, "mining_job_id", job_id, "miss_event_id", misses)
    _insert_positions(conn, t.mining_job_candidates, "mining_job_id", job_id, "candidate_id", candidates)
    log.info("recorded mining job %s for %s (%s, %d misses, %d candidates)", job_id, algorithm_id, strategy, len(misses), len(candidates))
    return job_id


def record_dataset_version(conn: sa.Connection, algorithm_id: str, *, sample_ids: list[str], parent_id: str | None,
                           mining_job_id: str | None, artifact_sha256: str | None, stats: dict | None) -> str:  # fmt: skip
    samples = _refs(sample_ids, "sample_ids", allow_empty=False)
    stats = _json_dict(stats if stats is not None else {}, "dataset stats")
    if parent_id is not None:
        _require(conn, t.dataset_versions, parent_id, algorithm_id, "dataset version")
    if mining_job_id is not None:
        _require(conn, t.mining_jobs, mining_job_id, algorithm_id, "mining job")
    ds_id = new_id("ds")
    conn.execute(
        t.dataset_versions.insert().values(
            id=ds_id, algorithm_id=algorithm_id, parent_id=parent_id, mining_job_id=mining_job_id,
            artifact_sha256=artifact_sha256, stats=stats, created_at=utcnow(),
        )
    )  # fmt: skip
    _insert_positions(conn, t.dataset_samples, "dataset_version_id", ds_id, "sample_id", samples)
    log.info("recorded dataset version %s for %s (%d samples, parent %s)", ds_id, algorithm_id, len(samples), parent_id)
    return ds_id


def record_training_run(conn: sa.Connection, algorithm_id: str, *, dataset_version_id: str, params: dict, metrics: dict) -> str:
    _require(conn, t.dataset_versions, dataset_version_id, algorithm_id, "dataset version")
    params = _json_dict(params, "training params")
    metrics = metrics_dict(metrics, "training metrics")
    run_id = new_id("run")
    conn.execute(
        t.training_runs.insert().values(
            id=run_id, algorithm_id=algorithm_id, dataset_version_id=dataset_version_id, params=params,
            metrics=metrics, created_at=utcnow(),
        )
    )  # fmt: skip
    log.info("recorded training run %s for %s on %s", run_id, algorithm_id, dataset_version_id)
    return run_id


def check_version_lineage(conn: sa.Connection, algorithm_id: str, *, training_run_id: str | None,
                          dataset_version_id: str | None) -> str | None:  # fmt: skip
    """Validate a new version's lineage ids; returns its dataset version id (from the run if not given)."""
    if training_run_id is None:
        if dataset_version_id is not None:
            _require(conn, t.dataset_versions, dataset_version_id, algorithm_id, "dataset version")
        return dataset_version_id
    run = _require(conn, t.training_runs, training_run_id, algorithm_id, "training run")
    if dataset_version_id is not None and dataset_version_id != run.dataset_version_id:
        raise InvalidSpecError(
            f"training run {training_run_id!r} trained on dataset {run.dataset_version_id!r}, not {dataset_version_id!r}; "
            "drop dataset_version_id (it is taken from the run) or pass the run's dataset",
            value=dataset_version_id,
        )
    return run.dataset_version_id


def _ordered(conn: sa.Connection, table: sa.Table, key: str, key_value: str, column: str) -> list[str]:
    q = sa.select(table.c[column]).where(table.c[key] == key_value).order_by(table.c.position)
    return list(conn.execute(q).scalars())


def _mining_job(conn: sa.Connection, job_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(t.mining_jobs).where(t.mining_jobs.c.id == job_id)).one()
    return {
        "id": row.id,
        "strategy": row.strategy,
        "created_at": as_utc(row.created_at).isoformat(),
        "miss_event_ids": _ordered(conn, t.mining_job_miss_events, "mining_job_id", job_id, "miss_event_id"),
        "candidate_ids": _ordered(conn, t.mining_job_candidates, "mining_job_id", job_id, "candidate_id"),
    }


def _dataset(conn: sa.Connection, ds_id: str) -> dict[str, Any]:
    """The dataset and its chain of parents (iterative; a parent always predates its child)."""
    root: dict[str, Any] | None = None
    tail: dict[str, Any] | None = None
    seen: set[str] = set()
    current: str | None = ds_id
    while current is not None and current not in seen:
        seen.add(current)
        row = conn.execute(sa.select(t.dataset_versions).where(t.dataset_versions.c.id == current)).one()
        node = {
            "id": row.id,
            "created_at": as_utc(row.created_at).isoformat(),
            "artifact_sha256": row.artifact_sha256,
            "stats": dict(row.stats),
            "sample_ids": _ordered(conn, t.dataset_samples, "dataset_version_id", row.id, "sample_id"),
            "mining_job": _mining_job(conn, row.mining_job_id) if row.mining_job_id else None,
            "parent": None,
        }
        if tail is None:
            root = node
        else:
            tail["parent"] = node
        tail = node
        current = row.parent_id
    return root or {}


def lineage_of(conn: sa.Connection, version: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "algorithm_id": version.algorithm_id,
        "version": version.to_dict(),
        "training_run": None,
        "dataset_version": None,
    }
    if version.training_run_id is not None:
        run = conn.execute(sa.select(t.training_runs).where(t.training_runs.c.id == version.training_run_id)).one()
        out["training_run"] = {
            "id": run.id,
            "created_at": as_utc(run.created_at).isoformat(),
            "params": dict(run.params),
            "metrics": dict(run.metrics),
            "dataset_version": _dataset(conn, run.dataset_version_id),
        }
    elif version.dataset_version_id is not None:
        out["dataset_version"] = _dataset(conn, version.dataset_version_id)
    return out


# -- per-version metadata (canary cameras, gate numbers) ---------------------------------------
def set_version_metadata(conn: sa.Connection, algorithm_id: str, number: int, key: str, value: Any) -> None:
    """Upsert one JSON value under ``key`` for a version (e.g. ``canary_cameras``, ``gate``)."""
    validate_slug(key, "version metadata key")
    value = _json_dict({"v": value}, f"version metadata {key!r}")["v"]
    tbl = t.version_metadata
    where = (tbl.c.algorithm_id == algorithm_id, tbl.c.number == number, tbl.c.key == key)
    if conn.execute(sa.select(tbl.c.key).where(*where)).first() is None:
        conn.execute(tbl.insert().values(algorithm_id=algorithm_id, number=number, key=key, value=value, updated_at=utcnow()))
    else:
        conn.execute(tbl.update().where(*where).values(value=value, updated_at=utcnow()))


def version_metadata(conn: sa.Connection, algorithm_id: str, number: int | None = None) -> dict:
    """``{key: value}`` of one version, or ``{number: {key: value}}`` of all when ``number`` is None."""
    tbl = t.version_metadata
    q = sa.select(tbl).where(tbl.c.algorithm_id == algorithm_id)
    if number is not None:
        return {r.key: r.value for r in conn.execute(q.where(tbl.c.number == number))}
    out: dict = {}
    for r in conn.execute(q):
        out.setdefault(r.number, {})[r.key] = r.value
    return out


# -- event types added at run time (a new algorithm for a new kind of event) -----------------------
def record_event_type(conn: sa.Connection, *, event_id: str, name: str, scenes: list[str], objects: list[str],
                      description: str) -> bool:  # fmt: skip
    """Store an event type; True if new. Same definition again: False; a different one: refused."""
    scenes_t, objects_t = _str_tuple(scenes, "event scenes"), _str_tuple(objects, "event objects") if objects else ()
    row = conn.execute(sa.select(t.event_types).where(t.event_types.c.id == event_id)).first()
    if row is not None:
        if set(row.scenes) != set(scenes_t):
            raise InvalidSpecError(f"event type {event_id!r} is stored with scenes {row.scenes}, not {list(scenes_t)}; "
                                   "pick another id or the same scenes", value=event_id)  # fmt: skip
        return False
    conn.execute(t.event_types.insert().values(id=event_id, name=name, scenes=list(scenes_t), objects=list(objects_t),
                                               description=description, created_at=utcnow()))  # fmt: skip
    log.info("recorded event type %s (scenes %s)", event_id, list(scenes_t))
    return True


def stored_event_types(conn: sa.Connection) -> list[dict[str, Any]]:
    return [{"id": r.id, "name": r.name, "scenes": list(r.scenes), "objects": list(r.objects), "description": r.description}
            for r in conn.execute(sa.select(t.event_types).order_by(t.event_types.c.id))]


# -- dataset versions as records (list / show) -------------------------------------------------
def list_dataset_versions(conn: sa.Connection, algorithm_id: str | None) -> list[dict[str, Any]]:
    """Every dataset version (newest first) without sample ids: id, algorithm, parent, mining job, stats."""
    dv = t.dataset_versions
    n = sa.select(sa.func.count()).where(t.dataset_samples.c.dataset_version_id == dv.c.id).scalar_subquery()
    q = sa.select(dv, n.label("n_new")).order_by(dv.c.created_at.desc(), dv.c.id)
    if algorithm_id is not None:
        q = q.where(dv.c.algorithm_id == algorithm_id)
    return [{"id": r.id, "algorithm_id": r.algorithm_id, "parent_id": r.parent_id, "mining_job_id": r.mining_job_id,
             "artifact_sha256": r.artifact_sha256, "stats": dict(r.stats), "samples_recorded": int(r.n_new),
             "created_at": as_utc(r.created_at).isoformat()} for r in conn.execute(q)]  # fmt: skip


def dataset_version(conn: sa.Connection, dataset_version_id: str) -> dict[str, Any]:
    """One dataset version with its sample ids, mining job and parent chain (ids only)."""
    row = conn.execute(sa.select(t.dataset_versions).where(t.dataset_versions.c.id == dataset_version_id)).first()
    if row is None:
        raise UnknownRecordError(f"unknown dataset version {dataset_version_id!r}; list them with `warehouse dataset list`",
                                 value=dataset_version_id)  # fmt: skip
    out = _dataset(conn, dataset_version_id)
    chain, node = [], out.get("parent")
    while node:
        chain.append(node["id"])
        node = node.get("parent")
    out.pop("parent", None)
    out.update(algorithm_id=row.algorithm_id, parent_id=row.parent_id, ancestors=chain)
    runs = conn.execute(sa.select(t.training_runs.c.id).where(t.training_runs.c.dataset_version_id == dataset_version_id))
    out["training_run_ids"] = list(runs.scalars())
    return out
