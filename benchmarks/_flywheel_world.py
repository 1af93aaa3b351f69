"""Shared set-up for the flywheel benchmarks: real catalog, frame pool, bus and flywheel store
on disk, and algorithms registered in production with a dataset artifact (train + fixed
held-out) so the retraining loop can improve them. Embeddings come from the caller (the
generative model of :mod:`warehouse.retraining.simulation`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class FlyWorld:
    def __init__(self, root: Path, *, bus=None) -> None:
        from catalog import ArtifactStore, Catalog
        from warehouse.bus import SqliteBus
        from warehouse.framepool import FramePool
        from warehouse.retraining.store import FlywheelStore

        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.store = ArtifactStore(str(root / "artifacts"))
        self.catalog = Catalog.open(f"sqlite:///{root}/catalog.db", store=self.store)
        self.pool = FramePool(f"sqlite:///{root}/pool.db", max_frames_per_camera=1_000_000)
        self.bus = bus or SqliteBus(root / "bus.db")
        self.flywheel = FlywheelStore(f"sqlite:///{root}/flywheel.db")

    def retain(self, ids: list[str], emb: np.ndarray, truth: dict[str, tuple[str, ...]], *, t0_ms: int = 1_780_000_000_000) -> None:
        from warehouse.framepool import RetainedFrame

        frames = [RetainedFrame(f, f.rpartition(":")[0], int(f.rpartition(":")[2]), t0_ms + i, e, truth=truth.get(f, ()))
                  for i, (f, e) in enumerate(zip(ids, emb))]
        for i in range(0, len(frames), 2000):
            self.pool.add(*frames[i:i + 2000])

    def register(self, algorithm_id: str, event: str, scene: str, *, x_train, y_train, train_ids, x_ho, y_ho, ho_ids,
                 seed: int = 0, epochs: int = 200) -> dict:
        from catalog import AlgorithmSpec, Stage
        from warehouse.retraining.dataset import HELDOUT, TRAIN, LabeledDataset
        from warehouse.retraining.trainer import train_head_torch
        from warehouse.training.heads import evaluate_head

        if event not in __import__("catalog").load_taxonomy().events:
            self.catalog.add_event_type(event, name=event, scenes=[scene])
        self.catalog.register_algorithm(AlgorithmSpec(id=algorithm_id, name=event, event_types=(event,), scene_tags=(scene,),
                                                      labels=(event,)))
        ids = list(train_ids) + list(ho_ids)
        ds = LabeledDataset(np.concatenate([x_train, x_ho]).astype(np.float32), np.concatenate([y_train, y_ho]).astype(np.int8),
                            tuple(ids), np.array([TRAIN] * len(train_ids) + [HELDOUT] * len(ho_ids), np.int8))
        ds_id = self.catalog.record_dataset_version(algorithm_id, sample_ids=ids, artifact_sha256=self.store.put_bytes(ds.to_bytes()),
                                                    stats=ds.stats())
        t = train_head_torch(x_train, y_train, seed=seed, label=event, epochs=epochs)
        m = evaluate_head(t.onnx_bytes, x_ho, y_ho, t.threshold)
        run = self.catalog.record_training_run(algorithm_id, dataset_version_id=ds_id, params={"trainer": "torch", "seed": seed},
                                               metrics={"f1": m["f1"]})
        v = self.catalog.add_version(algorithm_id, artifact_sha256=self.store.put_bytes(t.onnx_bytes, suffix=".onnx"),
                                     metrics={"f1": m["f1"], "threshold": t.threshold}, training_run_id=run, stage=Stage.CANDIDATE)
        self.catalog.promote(algorithm_id, v.number, to=Stage.PRODUCTION)
        return {"version": v.number, "heldout_f1": m["f1"]}

    def production_head(self, algorithm_id: str):
        from catalog import read_linear_head

        v = self.catalog.production_version(algorithm_id)
        return v, read_linear_head(self.catalog.load_artifact(algorithm_id, v.number)), float(v.metrics["threshold"])

    def close(self) -> None:
        self.bus.close()
        self.catalog.close()
