"""Shared fixtures: the bundled ontology (parsed once) and fresh graphs built from it."""
from __future__ import annotations

import copy

import pytest

from knowledge_graph import CityGraph, load_ontology, read_ontology_yaml


@pytest.fixture(scope="session")
def raw_ontology() -> dict:
    return read_ontology_yaml()


@pytest.fixture(scope="session")
def ontology():
    return load_ontology()


@pytest.fixture()
def raw(raw_ontology) -> dict:
    """A deep copy of the YAML mapping a test may edit."""
    return copy.deepcopy(raw_ontology)


@pytest.fixture()
def graph(ontology) -> CityGraph:
    return CityGraph(ontology)
