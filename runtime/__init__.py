"""runtime: streams, sampling and gating, engines, batching, shared backbone + heads, events.

The serving path runs on ONNX Runtime (and TensorRT / CUDA where present); torch is never
imported here at import time, so a worker starts light.
"""
from runtime.backbone import Backbone, BackboneError, BackboneInfo, preprocess_bgr
# compute core: engines, head bank, cross-camera batching, residency, profiler, inference
from runtime.batching import BatchDecision, BatchingError, BatchPolicy, CrossCameraBatcher, PendingFrame, plan_batch
from runtime.engines import (
    Engine,
    EngineError,
    EngineInfo,
    EngineOptions,
    EngineRegistry,
    EngineUnavailableError,
    OrtEngine,
    TensorRTEngine,
    TorchCudaEngine,
    default_engine_registry,
    select_engine,
)
from runtime.heads import BankState, FrameScores, HeadBank, HeadError
from runtime.inference import BatchTiming, InferenceCore, InferenceError
from runtime.profiler import CostProfile, ProfilerError, profile_backbone, profile_engine, profile_head_bank
from runtime.residency import ModelResidency, ResidencyError, ResidencyStats, ResidentModel, choose_evictions

# stream and event side: sources, sampling, gating, events, scoring adapters, actors
from runtime.actors import InferenceWorker, StreamReader, ensure_ray
from runtime.worker import ScoredFrame
from runtime.work import CANARY_SUFFIX, CameraWork, HeadWork
from runtime.events import Alert, Detection, EventDetector, EventPolicy, evidence_jpeg, region_cell
from runtime.gating import ChangeGate, GateDecision, change_score, frame_signature
from runtime.sampling import RateSampler, sample_mask
from runtime.scoring import (
    BatchScorer,
    FrameScorer,
    InferenceCoreScorer,
    LinearHeadScorer,
    inference_core_scorer_factory,
    linear_head_scorer_factory,
)
from runtime.streams import (
    Backoff,
    FrameEvent,
    HealthState,
    ImageFolderSource,
    RtspSource,
    ScheduledEvent,
    SourceHealth,
    SourceRegistry,
    StreamConfigError,
    StreamError,
    StreamSource,
    SyntheticSource,
    VideoFileSource,
    default_source_registry,
    open_source,
)

# real detectors (OCR, faces, people, plates, ImageNet readouts); their own registry
from runtime.detectors import DetectorRegistry, default_detector_registry
from runtime.detectors.bundle import bundle_factory  # a detector rebuilt from its catalog bundle

# detector stage: real detectors per camera at their own rates, feeding EventDetector (docs/real-detectors.md)
from runtime.detector_stage import (
    AlgorithmStats,
    DetectorHealth,
    DetectorSpec,
    DetectorStage,
    DetectorStageConfigError,
    DetectorStageError,
    EventMapping,
    StageStats,
    UnknownAlgorithmError,
    detector_due,
    event_inputs,
    next_anchor_ms,
    registry_factory,
)
from runtime.cascade import Cascade, CascadeConfigError, CascadeTrigger  # evidence readers as a cascade

__all__ = [
    "Cascade",
    "CascadeConfigError",
    "CascadeTrigger",
    "CANARY_SUFFIX",
    "CameraWork",
    "HeadWork",
    # real detectors
    "DetectorRegistry",
    "BatchScorer",
    "ScoredFrame",
    "default_detector_registry",
    # detector stage
    "AlgorithmStats",
    "DetectorHealth",
    "DetectorSpec",
    "DetectorStage",
    "DetectorStageConfigError",
    "DetectorStageError",
    "EventMapping",
    "StageStats",
    "UnknownAlgorithmError",
    "bundle_factory",
    "detector_due",
    "event_inputs",
    "next_anchor_ms",
    "registry_factory",
    "Backbone",
    "BackboneError",
    "BackboneInfo",
    "preprocess_bgr",
    # compute core
    "BankState",
    "BatchDecision",
    "BatchPolicy",
    "BatchTiming",
    "BatchingError",
    "CostProfile",
    "CrossCameraBatcher",
    "Engine",
    "EngineError",
    "EngineInfo",
    "EngineOptions",
    "EngineRegistry",
    "EngineUnavailableError",
    "FrameScores",
    "HeadBank",
    "HeadError",
    "InferenceCore",
    "InferenceError",
    "ModelResidency",
    "OrtEngine",
    "PendingFrame",
    "ProfilerError",
    "ResidencyError",
    "ResidencyStats",
    "ResidentModel",
    "TensorRTEngine",
    "TorchCudaEngine",
    "choose_evictions",
    "default_engine_registry",
    "plan_batch",
    "profile_backbone",
    "profile_engine",
    "profile_head_bank",
    "select_engine",
    # stream and event side
    "Alert",
    "Backoff",
    "ChangeGate",
    "Detection",
    "EventDetector",
    "EventPolicy",
    "FrameEvent",
    "FrameScorer",
    "GateDecision",
    "HealthState",
    "ImageFolderSource",
    "InferenceCoreScorer",
    "InferenceWorker",
    "LinearHeadScorer",
    "RateSampler",
    "RtspSource",
    "ScheduledEvent",
    "SourceHealth",
    "SourceRegistry",
    "StreamConfigError",
    "StreamError",
    "StreamReader",
    "StreamSource",
    "SyntheticSource",
    "VideoFileSource",
    "change_score",
    "default_source_registry",
    "ensure_ray",
    "evidence_jpeg",
    "frame_signature",
    "inference_core_scorer_factory",
    "linear_head_scorer_factory",
    "open_source",
    "region_cell",
    "sample_mask",
]
