"""Shared fixtures: the catalog's algorithm records (built the way ``warehouse catalog build``
builds them, without training), the bundled ontology over them, fresh graphs."""
from __future__ import annotations

import copy

import pytest

from catalog import load_taxonomy
from knowledge_graph import CityGraph, load_ontology, read_ontology_yaml


def build_catalog_specs() -> list:
    """Every AlgorithmSpec ``warehouse catalog build`` registers: one scene head per allowed
    (scene, event) pair and the real detectors / readouts (their spec lists, no training)."""
    from warehouse.training import head_spec
    from warehouse.training.real_algorithms import real_algorithm_specs, spec_of

    return [head_spec(s, e) for s, e in load_taxonomy().scene_event_pairs()] + [spec_of(e) for e in real_algorithm_specs()]


@pytest.fixture(scope="session")
def catalog_specs() -> list:
    return build_catalog_specs()


@pytest.fixture(scope="session")
def raw_ontology() -> dict:
    return read_ontology_yaml()


@pytest.fixture(scope="session")
def ontology(catalog_specs):
    return load_ontology(algorithms=catalog_specs)


@pytest.fixture()
def raw(raw_ontology) -> dict:
    """A deep copy of the YAML mapping a test may edit."""
    return copy.deepcopy(raw_ontology)


@pytest.fixture()
def graph(ontology) -> CityGraph:
    return CityGraph(ontology)


def fill_catalog(cat, specs, *, without_production: tuple[str, ...] = ()) -> None:
    """Register ``specs`` in a real catalog, each with one production version (one shared
    linear-head artifact), except ``without_production`` (registered, candidate only)."""
    import numpy as np

    from catalog import Stage, linear_head_onnx

    sha = cat.store.put_bytes(linear_head_onnx(np.zeros((8, 1), np.float32), np.zeros(1, np.float32), labels=["x"]), suffix=".onnx")
    for spec in specs:
        cat.register_algorithm(spec)
        stage = Stage.CANDIDATE if spec.id in without_production else Stage.PRODUCTION
        cat.add_version(spec.id, artifact_sha256=sha, stage=stage)


@pytest.fixture()
def home_with_catalog(tmp_path, catalog_specs):
    """A warehouse home whose catalog holds the road and seafront heads and the real detectors."""
    from catalog import ArtifactStore, Catalog
    from warehouse.settings import Settings

    s = Settings(home=tmp_path)
    wanted = [sp for sp in catalog_specs if not sp.id.startswith("scene.") or sp.id.split(".")[1] in ("road", "seafront")]
    with Catalog.open(s.resolved_catalog_url, store=ArtifactStore(s.resolved_artifact_root)) as cat:
        fill_catalog(cat, wanted)
    return tmp_path
