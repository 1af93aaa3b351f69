"""Training: linear heads on the shared backbone, synthetic scene pools, the embedding cache.

>>> from warehouse.training import train_head, evaluate_head
>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(80, 8)).astype(np.float32); y = (x[:, 0] > 0).astype(int)
>>> head = train_head(x, y, seed=0, label="demo")
>>> round(evaluate_head(head.onnx_bytes, x, y, head.threshold)["f1"], 1) >= 0.8
True

The catalog build (all 308 scene heads) is :func:`warehouse.training.scene_heads.build_catalog`:
synthetic pools plus real negatives and composites on real backgrounds (:mod:`.real_pool`),
thresholds calibrated for a false-alarm budget per camera-hour (:mod:`.calibration`). False
alarms on a real camera: :mod:`.false_alarms`; the flywheel on it: :mod:`.camera_flywheel`
(mining, labeler, trainer called directly) and :mod:`.camera_loop` (through ``RetrainingLoop.handle``).
The backbone export is :mod:`warehouse.training.backbone_export`.
"""
from warehouse.training.calibration import Calibration, CalibrationConfig, CalibrationError, calibrate_threshold, count_alarms, firing_levels
from warehouse.training.camera_flywheel import CycleReport, retrain_with_negatives, run_camera_flywheel
from warehouse.training.camera_loop import enroll_head, run_camera_flywheel_loop
from warehouse.training.embedding_cache import EmbeddingCache
from warehouse.training.false_alarms import FalseAlarmReport, HeadUnderTest, measure_false_alarms
from warehouse.training.real_frames import (
    PICTURE_SPLITS,
    VTEST_CALIBRATE,
    VTEST_FIT,
    VTEST_FPS,
    VTEST_HELDOUT,
    VTEST_TRAIN,
    RealFramesError,
    embed_video_frames,
    package_picture,
    package_pictures,
    read_video_frames,
    vtest_path,
)
from warehouse.training.real_pool import RealConfig, RealPool, RealRecipe, build_real_pool, plan_real_pool
from warehouse.training.heads import HeadTrainingError, TrainedHead, best_threshold, evaluate_head, fit_logistic, train_head, train_heads
from warehouse.training.scene_heads import (
    BuildReport,
    HeadResult,
    algorithm_id,
    build_catalog,
    head_spec,
    real_provenance,
    register_heads,
    train_scene_heads,
)
from warehouse.training.synthetic_pool import FrameRecipe, PairDataset, PoolConfig, ScenePool, build_scene_pool, plan_scene_pool

__all__ = [
    "BuildReport",
    "Calibration",
    "CalibrationConfig",
    "CalibrationError",
    "CycleReport",
    "EmbeddingCache",
    "FalseAlarmReport",
    "FrameRecipe",
    "HeadResult",
    "HeadTrainingError",
    "HeadUnderTest",
    "PICTURE_SPLITS",
    "PairDataset",
    "PoolConfig",
    "RealConfig",
    "RealFramesError",
    "RealPool",
    "RealRecipe",
    "ScenePool",
    "TrainedHead",
    "VTEST_CALIBRATE",
    "VTEST_FIT",
    "VTEST_FPS",
    "VTEST_HELDOUT",
    "VTEST_TRAIN",
    "algorithm_id",
    "best_threshold",
    "build_catalog",
    "build_real_pool",
    "build_scene_pool",
    "calibrate_threshold",
    "count_alarms",
    "embed_video_frames",
    "evaluate_head",
    "firing_levels",
    "fit_logistic",
    "head_spec",
    "measure_false_alarms",
    "package_picture",
    "package_pictures",
    "plan_real_pool",
    "plan_scene_pool",
    "read_video_frames",
    "real_provenance",
    "register_heads",
    "retrain_with_negatives",
    "run_camera_flywheel",
    "run_camera_flywheel_loop",
    "enroll_head",
    "train_head",
    "train_heads",
    "train_scene_heads",
    "vtest_path",
]
