"""The flywheel: every algorithm improves from the city's own mistakes.

miss events -> durable ledger (:mod:`~warehouse.retraining.worker`) -> per-algorithm
:class:`RetrainingLoop` (ANN mining, labeling, PyTorch training warm-started from
production, an honest :class:`PromotionVerdict`) -> :mod:`~warehouse.retraining.promotion`
(catalog first, then ``model-updates``) -> canary policy (:mod:`~warehouse.retraining.canary`).
A new algorithm from 10-20 seed labels: :func:`create_algorithm`. Data as the asset:
:mod:`~warehouse.retraining.datasets` (list / show / diff, full lineage). See ``docs/flywheel.md``.

Example (the demo's shape)::

    loop = RetrainingLoop(algorithm_id="scene.road.standing_water", event_type="standing_water",
                          catalog=catalog, store=store, pool=pool, labeler=GroundTruthLabeler(pool),
                          bus=bus, seed=7, on_pass="promote")
    result = loop.handle(miss_events)        # -> RetrainResult (verdict, new version, lineage ids)
"""
from warehouse.retraining.canary import (
    CanaryObservation,
    CanaryPolicy,
    CanaryVerdict,
    choose_canary_cameras,
    decide_canary,
    should_roll_back,
)
from warehouse.retraining.dataset import HELDOUT, MISTAKE_HELDOUT, TRAIN, LabeledDataset
from warehouse.retraining.datasets import Flywheel, diff_datasets, list_datasets, show_dataset, version_lineage
from warehouse.retraining.gate import PromotionVerdict, mistake_like_score, promotion_verdict
from warehouse.retraining.labeling import GroundTruthLabeler, Labeler, SimulatedLabeler
from warehouse.retraining.loop import (
    RetrainingJob,
    RetrainingLoop,
    RetrainResult,
    retraining_jobs,
    should_retrain,
    split_mined,
)
from warehouse.retraining.mining import ArrayPool, MiningRegistry, MiningRequest, MiningRound, select_batch
from warehouse.retraining.new_algorithm import NewAlgorithm, NewAlgorithmResult, SeedFrame, create_algorithm
from warehouse.retraining.promotion import (
    PromotionError,
    canary_cameras,
    promote,
    publish_registered,
    rollback,
    start_canary,
    stop_canary,
)
from warehouse.retraining.queue import LabelingQueue, LabelTask, QueueLabeler
from warehouse.retraining.ranker import Ranker, fit_ranker
from warehouse.retraining.store import FlywheelStore, TaskRecord, UnknownTaskError

__all__ = [
    "ArrayPool", "CanaryObservation", "CanaryPolicy", "CanaryVerdict", "Flywheel", "FlywheelStore", "GroundTruthLabeler",
    "HELDOUT", "LabelTask", "LabeledDataset", "Labeler", "LabelingQueue", "MISTAKE_HELDOUT", "MiningRegistry", "MiningRequest",
    "MiningRound", "NewAlgorithm", "NewAlgorithmResult", "PromotionError", "PromotionVerdict", "QueueLabeler", "RetrainResult",
    "Ranker", "RetrainingJob", "RetrainingLoop", "SeedFrame", "SimulatedLabeler", "TRAIN", "TaskRecord", "UnknownTaskError",
    "canary_cameras", "choose_canary_cameras", "create_algorithm", "decide_canary", "diff_datasets", "fit_ranker", "list_datasets",
    "mistake_like_score", "promote", "promotion_verdict", "publish_registered", "retraining_jobs", "rollback", "select_batch",
    "should_retrain", "should_roll_back", "show_dataset", "split_mined", "start_canary", "stop_canary", "version_lineage",
]
