"""Data as the asset: dataset versions (list / show / diff) and the full lineage of a version.

Lineage, end to end: version <- training run <- dataset version <- labeled samples (which
labeling task, which labelers) <- mining job <- miss events (from the durable ledger) <-
alerts and operators' feedback (each miss names its alert and the feedback it came from).
These functions serve both the CLI (``warehouse dataset ...``) and the API (``/datasets``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from warehouse.errors import InvalidInputError
from warehouse.retraining.dataset import LabeledDataset
from warehouse.retraining.queue import LabelingQueue
from warehouse.retraining.store import FlywheelStore


@dataclass
class Flywheel:
    """What the routes and CLI need of the flywheel: its store, labeling queue, frame pool, catalog."""

    store: FlywheelStore
    catalog: Any = None
    pool: Any = None
    labeler_for: Any = None  # algorithm id -> Labeler (demo, benchmarks); None: people, through the queue

    def __post_init__(self) -> None:
        self.queue = LabelingQueue(self.store)

    @classmethod
    def open(cls, url: str, *, catalog: Any = None, pool: Any = None) -> "Flywheel":
        return cls(FlywheelStore(url), catalog, pool)


def list_datasets(catalog, algorithm_id: str | None = None) -> list[dict[str, Any]]:
    return catalog.dataset_versions(algorithm_id)


def _labels(flywheel: Flywheel | None, ds: dict) -> dict[str, Any]:
    stats = ds.get("stats") or {}
    out: dict[str, Any] = {"labeler": stats.get("labeler"), "labels": stats.get("labels"),
                           "labeling_task_id": stats.get("labeling_task_id")}
    if flywheel is not None and stats.get("labeling_task_id"):
        try:
            out["labeling_task"] = flywheel.store.get_task(stats["labeling_task_id"]).to_dict()
        except KeyError:
            pass
    return out


def show_dataset(catalog, dataset_version_id: str, *, flywheel: Flywheel | None = None, max_samples: int = 200) -> dict[str, Any]:
    ds = catalog.dataset_version(dataset_version_id)
    samples = ds.pop("sample_ids")
    ds["samples_recorded"] = len(samples)
    ds["sample_ids"] = samples[:max_samples]
    ds["labels"] = _labels(flywheel, ds)
    if ds.get("artifact_sha256"):
        ds["contents"] = LabeledDataset.from_bytes(catalog.store.get_bytes(ds["artifact_sha256"])).stats()
    if flywheel is not None and ds.get("mining_job"):
        ds["mining_job"]["miss_events"] = _misses(flywheel, ds["mining_job"]["miss_event_ids"])
    return ds


def _artifact(catalog, dataset_version_id: str) -> LabeledDataset:
    ds = catalog.dataset_version(dataset_version_id)
    if not ds.get("artifact_sha256"):
        raise InvalidInputError(f"dataset version {dataset_version_id!r} has no stored artifact (labels); it cannot be diffed")
    return LabeledDataset.from_bytes(catalog.store.get_bytes(ds["artifact_sha256"]))


def diff_datasets(catalog, from_id: str, to_id: str, *, max_items: int = 500) -> dict[str, Any]:
    """Frames added and removed, label changes and split changes between two versions of one algorithm."""
    a, b = catalog.dataset_version(from_id), catalog.dataset_version(to_id)
    if a["algorithm_id"] != b["algorithm_id"]:
        raise InvalidInputError(f"dataset versions {from_id!r} ({a['algorithm_id']}) and {to_id!r} ({b['algorithm_id']}) belong "
                                "to different algorithms; diff two versions of the same algorithm")
    d = _artifact(catalog, from_id).diff(_artifact(catalog, to_id))
    counts = {k: len(v) for k, v in d.items()}
    return {"from": from_id, "to": to_id, "algorithm_id": a["algorithm_id"], "counts": counts,
            **{k: v[:max_items] for k, v in d.items()}, "truncated": any(n > max_items for n in counts.values())}


def _misses(flywheel: Flywheel, ids: list[str]) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from warehouse.retraining.store import misses

    with flywheel.store.engine.connect() as c:
        rows = {r.event_id: r.payload for r in c.execute(select(misses).where(misses.c.event_id.in_(ids)))}
    out = []
    for i in ids:
        p = rows.get(i)
        out.append({"event_id": i, "in_ledger": p is not None, **({k: p.get(k) for k in (
            "kind", "camera_id", "frame_ref", "alert_id", "source_event_id", "reporter", "note", "model_version")} if p else {})})
    return out


def version_lineage(catalog, algorithm_id: str, version: int, *, flywheel: Flywheel | None = None) -> dict[str, Any]:
    """The catalog's lineage of a version, with each mining job's miss events resolved to their alerts/feedback."""
    lin = catalog.lineage(algorithm_id, version)
    node = (lin.get("training_run") or {}).get("dataset_version") or lin.get("dataset_version")
    while node:
        node["labels"] = _labels(flywheel, node)
        node["sample_count"] = len(node.pop("sample_ids", []))
        if flywheel is not None and node.get("mining_job"):
            node["mining_job"]["miss_events"] = _misses(flywheel, node["mining_job"]["miss_event_ids"])
            node["mining_job"].pop("candidate_ids", None)
        node = node.get("parent")
    lin["gate"] = catalog.version_metadata(algorithm_id, version).get("gate")
    return lin
