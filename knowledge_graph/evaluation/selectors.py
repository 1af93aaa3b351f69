"""Who picks the algorithms: the graph, and the baselines it must beat.

* :func:`graph_selector` — the knowledge graph (scenes discovered from frames, governance
  tasks, negative knowledge, dependencies, feedback);
* :func:`every_selector` — every production algorithm on every camera;
* :func:`hint_selector` — the same graph, but each camera linked only to the scene its
  installer typed (nothing when the hint is missing);
* :func:`readout_topk_selector` — no graph: rank algorithms by the backbone's ImageNet
  readout scores on the camera's frames, take the top ``k``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from knowledge_graph.evaluation.city import CityCamera
from knowledge_graph.evaluation.metrics import Judge, Selector
from knowledge_graph.graph import CityGraph


def graph_selector(graph: CityGraph) -> Selector:
    def select(cam: CityCamera, at: datetime) -> list[str]:
        return graph.relevance(cam.camera_id, at).algorithm_ids()

    return select


def every_selector(judge: Judge) -> Selector:
    # cheapest first, so a budget cut keeps as many algorithms as it can
    order = sorted(judge.production, key=lambda a: (judge.costs.algorithm_ms.get(a, 0.0), a))

    def select(cam: CityCamera, at: datetime) -> list[str]:
        return order

    return select


def hint_selector(graph: CityGraph, cams: Sequence[CityCamera]) -> Selector:
    """Registers each camera on ``graph`` (a fresh one) with its hint scene alone."""
    for c in cams:
        graph.add_camera(c.camera_id, region=c.region, scenes={c.hint_scene: 1.0} if c.hint_scene else {},
                         hints={"zones": list(c.zones)} if c.zones else None,  # the camera's configuration, as the graph gets it
                         reason="scene from the registration hint only")
    return graph_selector(graph)


def readout_topk_selector(judge: Judge, readout_scores: Mapping[str, Mapping[str, float]], k: Mapping[str, int]) -> Selector:
    """``readout_scores``: camera id -> {readout algorithm id: mean score over its frames}.
    An algorithm's score is its own readout score (a readout), else the best score of the
    readouts tagged with one of its scenes (a scene-specific model), else the camera's best
    readout score halved (a generic model). Top ``k[camera_id]`` by score."""
    readouts = [a for a in judge.production if judge.kinds.get(a) == "imagenet_readout"]
    tags = judge.scene_tags

    def select(cam: CityCamera, at: datetime) -> list[str]:
        rs = readout_scores.get(cam.camera_id, {})
        scene_score: dict[str, float] = {}
        for r in readouts:
            for s in tags.get(r, ()):
                scene_score[s] = max(scene_score.get(s, 0.0), rs.get(r, 0.0))
        top = max(rs.values(), default=0.0)

        def score(a: str) -> float:
            if a in rs:
                return rs[a]
            st = tags.get(a, frozenset())
            return max((scene_score.get(s, 0.0) for s in st), default=0.0) if st else top / 2

        ranked = sorted(judge.production, key=lambda a: (-score(a), a))
        return ranked[: k.get(cam.camera_id, 0)]

    return select
