"""Measuring the knowledge graph against a synthetic city whose truth is known (issue 13).

>>> from knowledge_graph.evaluation import build_city, evaluation_times
>>> city = build_city(cameras_per_scene=2)
>>> len(city.held_out) == len(city.scenes) and len(evaluation_times()) == 48
True

The pieces: :mod:`~knowledge_graph.evaluation.city` (cameras, their real events and rates,
hints, frames), :mod:`~knowledge_graph.evaluation.metrics` (recall, precision, compute saved
from facts the graph does not choose), :mod:`~knowledge_graph.evaluation.selectors` (the
graph and the baselines), :mod:`~knowledge_graph.evaluation.bound` (the cheapest cover a
selector knowing the truth could run: the reference for compute saved),
:mod:`~knowledge_graph.evaluation.evolution` (wrong priors and
simulated operators). ``python -m benchmarks.relevance_quality`` runs them with the real
backbone and measured costs.
"""
from knowledge_graph.evaluation.bound import CheapestCover, CoverError, cheapest_cover_selector
from knowledge_graph.evaluation.city import (
    CityCamera,
    EventTruth,
    SyntheticCity,
    build_city,
    camera_frames,
    neighbour_scene,
    possible_events,
)
from knowledge_graph.evaluation.evolution import OperatorModel, Recovery, simulate_cameras, simulate_recovery, undo_all
from knowledge_graph.evaluation.metrics import (
    WATER_OR_TUNNEL,
    CameraScore,
    CostModel,
    Judge,
    algorithm_families,
    evaluation_times,
    score_camera,
    score_cameras,
    summarize,
)
from knowledge_graph.evaluation.selectors import every_selector, graph_selector, hint_selector, readout_topk_selector

__all__ = [
    "WATER_OR_TUNNEL",
    "algorithm_families",
    "neighbour_scene",
    "CameraScore",
    "CheapestCover",
    "CoverError",
    "CityCamera",
    "CostModel",
    "EventTruth",
    "Judge",
    "OperatorModel",
    "Recovery",
    "SyntheticCity",
    "build_city",
    "camera_frames",
    "cheapest_cover_selector",
    "evaluation_times",
    "every_selector",
    "graph_selector",
    "hint_selector",
    "possible_events",
    "readout_topk_selector",
    "score_camera",
    "score_cameras",
    "simulate_cameras",
    "simulate_recovery",
    "summarize",
    "undo_all",
]
