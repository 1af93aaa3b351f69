"""knowledge_graph: the city's ontology, per-camera relevance with explanations, scene
discovery, and learning from operator feedback.

>>> from datetime import datetime
>>> from knowledge_graph import CityGraph
>>> g = CityGraph.from_catalog(catalog)   # bundled city.yaml + the catalog records  # doctest: +SKIP
>>> _ = g.add_camera("cam-7", region="coast", scenes={"seafront": 0.9})
>>> rel = g.relevance("cam-7", at=datetime(2024, 6, 1, 23, 30))
>>> "scene.seafront.person_in_water" in rel.algorithm_ids()
True
>>> ch = rel.get("scene.seafront.person_in_water")
>>> ch.priority, ch.fps, ch.explanation.governance_task_ids
(90, 5.0, ('maritime_rescue',))
>>> change = g.record_rejection("cam-7", "scene.seafront.litter", alert_id="a-1")
>>> _ = g.undo(change.change_id)

The graph's algorithm nodes are the catalog's records (one list of algorithms, one set of
ids from :mod:`catalog.ids`); the ontology YAML adds regions, governance tasks, dependencies
and negative knowledge. Cameras are derived from the operations store's records by the
control plane (:meth:`CityGraph.add_camera` / :meth:`CityGraph.remove_camera`).

Decisions are pure functions (:func:`knowledge_graph.relevance.decide_relevance`) over
plain data compiled once per ontology version (:class:`knowledge_graph.index.CompiledOntology`).
"""
from knowledge_graph.errors import (
    KnowledgeGraphError,
    OntologyError,
    SceneDiscoveryError,
    UnknownCameraError,
    UnknownChangeError,
)
from knowledge_graph.feedback import FeedbackLearner
from knowledge_graph.graph import CameraReport, CityGraph
from knowledge_graph.journal import ChangeJournal, GraphChange
from knowledge_graph.loader import algorithm_from_record, algorithms_from_catalog, evidence_cascades, load_ontology, read_ontology_yaml
from knowledge_graph.ontology import DEFAULT_ONTOLOGY_PATH
from knowledge_graph.relevance import AlgorithmChoice, CameraFacts, Exclusion, Explanation, Relevance, decide_relevance
from knowledge_graph.scene_discovery import SceneDiscovery, SceneEstimate, train_scene_head
from knowledge_graph.schema import AlgorithmNode, FeedbackPolicy, GovernanceTask, NegativeRule, Ontology
from knowledge_graph.validate import catalog_gaps

__all__ = [
    "DEFAULT_ONTOLOGY_PATH",
    "AlgorithmChoice",
    "AlgorithmNode",
    "CameraFacts",
    "CameraReport",
    "ChangeJournal",
    "CityGraph",
    "Exclusion",
    "Explanation",
    "FeedbackLearner",
    "FeedbackPolicy",
    "GovernanceTask",
    "GraphChange",
    "KnowledgeGraphError",
    "NegativeRule",
    "Ontology",
    "OntologyError",
    "Relevance",
    "SceneDiscovery",
    "SceneDiscoveryError",
    "SceneEstimate",
    "UnknownCameraError",
    "UnknownChangeError",
    "algorithm_from_record",
    "algorithms_from_catalog",
    "catalog_gaps",
    "decide_relevance",
    "evidence_cascades",
    "load_ontology",
    "read_ontology_yaml",
    "train_scene_head",
]
