"""One exception base for the knowledge graph; every message names the value and the fix."""
from __future__ import annotations


class KnowledgeGraphError(ValueError):
    """Base of every error raised by :mod:`knowledge_graph`."""


class OntologyError(KnowledgeGraphError):
    """The ontology (YAML + algorithms) is inconsistent.

    ``problems`` holds one line per problem, each naming the node and the fix; the message
    joins them so a single ``pytest.raises(match=...)`` or log line shows all of them.
    """

    def __init__(self, problems: list[str] | str, *, source: str = "ontology") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        head = f"{source}: {len(self.problems)} problem(s)"
        super().__init__(head + "\n  - " + "\n  - ".join(self.problems))


class UnknownCameraError(KnowledgeGraphError, KeyError):
    """A camera id the graph has not registered."""

    def __init__(self, camera_id: str, known_count: int) -> None:
        self.camera_id = camera_id
        super().__init__(
            f"unknown camera {camera_id!r} ({known_count} cameras registered); register it first with "
            "CityGraph.add_camera(camera_id, region=..., scenes={scene: confidence}) or "
            "`warehouse graph add-camera CAMERA_ID --region REGION --scene SCENE=CONF`"
        )

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class UnknownChangeError(KnowledgeGraphError, KeyError):
    """``undo`` was given a change id that is not in the journal (or already undone)."""

    def __str__(self) -> str:
        return self.args[0]


class SceneDiscoveryError(KnowledgeGraphError):
    """Embeddings / logits / labels of the wrong shape, or an unusable scene head."""
