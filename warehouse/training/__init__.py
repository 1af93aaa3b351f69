"""Training: linear heads on the shared backbone, synthetic scene pools, the embedding cache.

>>> from warehouse.training import train_head, evaluate_head
>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(80, 8)).astype(np.float32); y = (x[:, 0] > 0).astype(int)
>>> head = train_head(x, y, seed=0, label="demo")
>>> round(evaluate_head(head.onnx_bytes, x, y, head.threshold)["f1"], 1) >= 0.8
True

The catalog build (all 308 scene heads) is :func:`warehouse.training.scene_heads.build_catalog`;
the backbone export is :mod:`warehouse.training.backbone_export`.
"""
from warehouse.training.embedding_cache import EmbeddingCache
from warehouse.training.heads import HeadTrainingError, TrainedHead, best_threshold, evaluate_head, fit_logistic, train_head, train_heads
from warehouse.training.scene_heads import BuildReport, HeadResult, algorithm_id, build_catalog, head_spec, register_heads, train_scene_heads
from warehouse.training.synthetic_pool import FrameRecipe, PairDataset, PoolConfig, ScenePool, build_scene_pool, plan_scene_pool

__all__ = [
    "BuildReport",
    "EmbeddingCache",
    "FrameRecipe",
    "HeadResult",
    "HeadTrainingError",
    "PairDataset",
    "PoolConfig",
    "ScenePool",
    "TrainedHead",
    "algorithm_id",
    "best_threshold",
    "build_catalog",
    "build_scene_pool",
    "evaluate_head",
    "fit_logistic",
    "head_spec",
    "plan_scene_pool",
    "register_heads",
    "train_head",
    "train_heads",
    "train_scene_heads",
]
