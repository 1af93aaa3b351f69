"""End to end on the real backbone: a small pool, trained heads, registered in a catalog."""
from __future__ import annotations

import pytest

from catalog import ArtifactStore, Catalog, Stage, read_linear_head
from warehouse.training.scene_heads import algorithm_id, build_catalog, head_spec
from warehouse.training.real_pool import RealConfig
from warehouse.training.synthetic_pool import PoolConfig


def test_head_spec_contract():
    spec = head_spec("seafront", "person_in_water")
    assert spec.id == "scene.seafront.person_in_water" == algorithm_id("seafront", "person_in_water")
    assert (spec.kind, spec.scene_tags, spec.event_types, spec.labels) == ("classification_head", ("seafront",), ("person_in_water",), ("person_in_water",))
    assert head_spec("seafront", "person_in_water") == spec  # stable, so re-registering is a no-op


@pytest.mark.slow
def test_build_registers_heads_with_held_out_metrics(tmp_path, backbone_path, backbone_cache):
    from runtime import Backbone

    bb = Backbone.load(backbone_path)
    store = ArtifactStore(tmp_path / "artifacts")
    cat = Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}", store=store)
    pairs = [("construction_site", "fire"), ("construction_site", "missing_safety_net"), ("construction_site", "drone_flying")]
    cfg = PoolConfig(per_event=10, n_empty=10)
    # without the vtest camera, real negatives and calibration come from package pictures alone
    report = build_catalog(cat, store, pairs=pairs, backbone=bb, backbone_sha="test", cache_dir=tmp_path / "cache", config=cfg,
                           real=RealConfig(crops_per_picture=1, composites_per_event=5), vtest=None)
    assert [r.algorithm_id for r in report.results] == [algorithm_id(*p) for p in pairs]
    for r in report.results:
        versions = cat.versions(r.algorithm_id)
        assert len(versions) == 1
        v = versions[0]
        assert set(v.metrics) >= {"precision", "recall", "f1", "threshold"}
        assert v.metrics["f1"] == pytest.approx(r.test_metrics["f1"])
        assert (v.stage == Stage.PRODUCTION) == (r.test_metrics["f1"] >= 0.8)
        assert v.dataset_version_id and v.training_run_id
        # the calibration travels with the version: threshold, budget, frames and event policy it was set for
        assert v.metrics["threshold"] == pytest.approx(r.threshold) and v.metrics["threshold"] >= v.metrics["calibration_threshold_f1"]
        assert v.metrics["calibration_budget_per_hour"] == 0.03 and v.metrics["calibration_frames"] > 0
        assert (v.metrics["calibration_k"], v.metrics["calibration_n"]) == (2.0, 3.0)  # the control plane's event logic
        assert read_linear_head(cat.load_artifact(r.algorithm_id, v.number)).labels == (r.event,)
    summary = report.summary()
    assert summary["algorithms"] == 3 and summary["cache_hit_rate"] == 0.0
    assert summary["real_negatives"] and not summary["vtest"] and summary["calibrated"] == 3
    cat.close()
