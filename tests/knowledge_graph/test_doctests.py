"""The usage examples in the knowledge graph's docstrings run as written.

``knowledge_graph`` and ``knowledge_graph.graph`` open with ``CityGraph.from_catalog(catalog)``
(skipped: no catalog here); they get ``g``, the same graph built from the catalog's records.
"""
from __future__ import annotations

import doctest
import importlib
import sys

import pytest

from knowledge_graph import CityGraph

MODULES = ["knowledge_graph", "knowledge_graph.graph", "knowledge_graph.journal", "knowledge_graph.loader",
           "knowledge_graph.revision", "knowledge_graph.scene_discovery", "knowledge_graph.schema",
           "knowledge_graph.timewindow", "knowledge_graph.evaluation", "knowledge_graph.evaluation.bound",
           "knowledge_graph.evaluation.city"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, ontology):
    importlib.import_module(name)
    result = doctest.testmod(sys.modules[name], extraglobs={"g": CityGraph(ontology)}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
