"""InferenceCore: the real backbone once per frame, then the fused heads, per camera."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from catalog import linear_head_onnx, read_linear_head
from runtime import Backbone, BatchPolicy, CrossCameraBatcher, HeadBank, InferenceCore, InferenceError

ROOT = Path(__file__).resolve().parents[2]


class CountingEngine:
    """Wraps a real engine and counts the frames (rows) it was asked to run."""

    def __init__(self, inner) -> None:
        self.inner, self.rows = inner, 0
        self.info, self.input_names, self.output_names = inner.info, inner.input_names, inner.output_names
        self.metadata = inner.metadata

    def run(self, feeds):
        self.rows += next(iter(feeds.values())).shape[0]
        return self.inner.run(feeds)

    def close(self):
        self.inner.close()


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    from warehouse.training.backbone_export import ensure_backbone_onnx

    path = ensure_backbone_onnx(ROOT / "var" / "cache")
    bb = Backbone.load(path, engine="ort-cpu")
    return Backbone.from_engine(CountingEngine(bb.engine), path=path)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    from skimage import data

    return [np.ascontiguousarray(im[::2, ::2, ::-1]) for im in (data.astronaut(), data.coffee(), data.chelsea())]


def _heads(n: int, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {f"alg-{i}": linear_head_onnx((rng.standard_normal((1280, 2)) * 0.1).astype(np.float32), np.zeros(2, np.float32),
                                         labels=[f"alg-{i}/a", f"alg-{i}/b"]) for i in range(n)}


def test_scores_match_backbone_then_each_head_alone(backbone, frames):
    heads = _heads(6)
    assignment = {"cam-1": {"alg-0", "alg-1", "alg-2"}, "cam-2": {"alg-3", "alg-4", "alg-5", "alg-0"}}
    core = InferenceCore(backbone, HeadBank(heads), assignment=assignment, max_batch=2)
    batch = [("cam-1", frames[0]), ("cam-2", frames[1]), ("cam-1", frames[2])]
    out = core.infer(batch, frame_ids=["f0", "f1", "f2"])
    _, emb = backbone.embed_frames(frames)
    for i, ((cam, _), fs) in enumerate(zip(batch, out)):
        assert (fs.camera_id, fs.frame_id) == (cam, f"f{i}")
        assert set(fs.as_dict()) == assignment[cam]
        for a in assignment[cam]:
            np.testing.assert_allclose(fs.scores(a), read_linear_head(heads[a]).scores(emb[i : i + 1])[0], atol=1e-4)


@pytest.mark.parametrize("n_algorithms", [1, 50])
def test_backbone_runs_once_per_frame_whatever_the_number_of_algorithms(backbone, frames, n_algorithms):
    heads = _heads(n_algorithms)
    core = InferenceCore(backbone, HeadBank(heads), assignment={"cam": set(heads)})
    before = backbone.engine.rows
    core.infer([("cam", f) for f in frames])
    assert backbone.engine.rows - before == len(frames)
    assert core.last_timing.batch_size == len(frames)


def test_infer_pending_runs_a_cross_camera_batch_from_the_batcher(backbone, frames):
    heads = _heads(2)
    core = InferenceCore(backbone, HeadBank(heads), assignment={"a": {"alg-0"}, "b": {"alg-1"}})
    b = CrossCameraBatcher(BatchPolicy(max_batch=8, max_wait_ms=0))
    for i, f in enumerate(frames):
        b.put("ab"[i % 2], f, frame_id=i)
    out = core.infer_pending(b.get())
    assert [(fs.camera_id, fs.frame_id, set(fs.as_dict())) for fs in out] == [
        ("a", 0, {"alg-0"}), ("b", 1, {"alg-1"}), ("a", 2, {"alg-0"})]


def test_hot_swap_between_batches_changes_scores_without_reloading(backbone, frames):
    heads = _heads(2)
    core = InferenceCore(backbone, HeadBank(heads), assignment={"cam": {"alg-0", "alg-1"}})
    first = core.infer([("cam", frames[0])])[0]
    new = _heads(1, seed=42)["alg-0"]
    core.heads.swap("alg-0", new, version="v2")
    second = core.infer([("cam", frames[0])])[0]
    np.testing.assert_allclose(second.scores("alg-1"), first.scores("alg-1"))
    assert not np.allclose(second.scores("alg-0"), first.scores("alg-0"))
    assert second.state.versions()["alg-0"] == "v2" and first.state.versions()["alg-0"] == "v1"


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (lambda core, f: core.infer([("cam-unknown", f)]), "cameras \\['cam-unknown'\\] that have no assignment"),
        (lambda core, f: core.assign("cam", {"alg-0", "ghost"}), "algorithms \\['ghost'\\] with no head"),
    ],
)
def test_errors_name_the_camera_or_algorithm(backbone, frames, action, match):
    core = InferenceCore(backbone, HeadBank(_heads(1)), assignment={"cam": {"alg-0"}})
    with pytest.raises(InferenceError, match=match):
        action(core, frames[0])


def test_empty_batch_is_empty(backbone):
    assert InferenceCore(backbone, HeadBank(_heads(1))).infer([]) == []
