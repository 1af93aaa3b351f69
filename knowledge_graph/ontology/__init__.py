"""Data package: the city ontology as versioned YAML (``city.yaml``).

Kept as a package so the YAML ships with the wheel; the loader lives in
:mod:`knowledge_graph.loader`.
"""
from pathlib import Path

DEFAULT_ONTOLOGY_PATH = Path(__file__).with_name("city.yaml")
