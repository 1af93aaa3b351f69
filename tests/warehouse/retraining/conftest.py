"""A small synthetic world for the loop tests: a pool of embeddings with exact labels and an
algorithm whose v1 never saw one appearance of its event (the mistakes come from there)."""
from __future__ import annotations

import numpy as np
import pytest

from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage
from warehouse.framepool import FramePool, RetainedFrame
from warehouse.retraining.dataset import HELDOUT, TRAIN, LabeledDataset

ALG, EVENT = "scene.road.smoke", "smoke"


class World:
    def __init__(self, tmp_path, *, dim=24, n=1200, seed=0):
        rng = np.random.default_rng(seed)
        self.store = ArtifactStore(str(tmp_path / "art"))
        self.catalog = Catalog.open(f"sqlite:///{tmp_path}/cat.db", store=self.store)
        self.pool = FramePool(f"sqlite:///{tmp_path}/pool.db")
        ctx = rng.normal(0, 1.0, size=(12, dim))
        common = rng.normal(0, 1.2, size=dim)
        modes = [0.55 * common + 0.8 * rng.normal(0, 1.2, size=dim) for _ in range(2)]
        frames, self.truth, self.mode = [], {}, {}
        for i in range(n):
            c = ctx[i % 12] + rng.normal(0, 0.5, size=dim)
            m = -1
            if i % 10 == 0:
                m = (i // 10) % 2
                c = 0.6 * c + 2.2 * modes[m]
            fid = f"cam{i % 12}:{i}"
            self.truth[fid], self.mode[fid] = m >= 0, m
            frames.append(RetainedFrame(fid, f"cam{i % 12}", i, 1_780_000_000_000 + i, c.astype(np.float32),
                                        truth=(EVENT,) if m >= 0 else ()))
        self.pool.add(*frames)
        self.ids = [f.frame_id for f in frames]
        self.emb = {f.frame_id: f.embedding for f in frames}

    def register_v1(self, *, seed=0):
        """v1 trained on mode 0 only (plus negatives); held-out = both modes, fixed."""
        from warehouse.retraining.trainer import train_head_torch

        self.catalog.register_algorithm(AlgorithmSpec(id=ALG, name="Smoke", event_types=(EVENT,), scene_tags=("road",),
                                                      labels=(EVENT,)))
        tr = [f for f in self.ids[:600] if self.mode[f] in (-1, 0)][:300]
        ho = self.ids[1000:1200]
        ids = tr + ho
        ds = LabeledDataset(np.stack([self.emb[f] for f in ids]), np.array([self.truth[f] for f in ids], np.int8), tuple(ids),
                            np.array([TRAIN] * len(tr) + [HELDOUT] * len(ho), np.int8))
        ds_id = self.catalog.record_dataset_version(ALG, sample_ids=list(ids), artifact_sha256=self.store.put_bytes(ds.to_bytes()),
                                                    stats=ds.stats())
        x, y = ds.part(TRAIN)
        t = train_head_torch(x, y, seed=seed, label=EVENT)
        run = self.catalog.record_training_run(ALG, dataset_version_id=ds_id, params={}, metrics={})
        v = self.catalog.add_version(ALG, artifact_sha256=self.store.put_bytes(t.onnx_bytes), metrics={"threshold": t.threshold},
                                     training_run_id=run, stage=Stage.CANDIDATE)
        self.catalog.promote(ALG, v.number, to=Stage.PRODUCTION)
        return v

    def misses(self, k=3):
        """Missed events of mode 1 (v1 never saw it) in the unused part of the pool."""
        got = [f for f in self.ids[600:1000] if self.mode[f] == 1][:k]
        return [{"event_id": f"miss-{f}", "type": "miss", "kind": "missed_event", "algorithm_id": ALG, "frame_ref": f}
                for f in got]


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.catalog.close()
