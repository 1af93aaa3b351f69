"""Algorithm ids, defined once: every package builds and reads ids through these functions.

An algorithm id is ``family.rest``: ``scene.{scene}.{event}`` for a head on the shared
backbone, ``detector.{name}`` / ``ocr.{name}`` for real detectors, ``imagenet.{slug}`` for
an ImageNet readout, ``track.{name}`` for an algorithm over detections and tracks.

>>> scene_head_id("road", "standing_water")
'scene.road.standing_water'
>>> parse_algorithm_id("scene.road.standing_water")
AlgorithmId(family='scene', name='road.standing_water', scene='road', event='standing_water')
>>> readout_id("trash_can")
'imagenet.trash_can'
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from catalog.errors import InvalidSpecError

FAMILY_SCENE = "scene"
FAMILY_DETECTOR = "detector"
FAMILY_OCR = "ocr"
FAMILY_READOUT = "imagenet"
FAMILY_TRACK = "track"
FAMILIES = (FAMILY_SCENE, FAMILY_DETECTOR, FAMILY_OCR, FAMILY_READOUT, FAMILY_TRACK)

_PART = r"[a-z0-9][a-z0-9_]{0,63}"
ALGORITHM_ID_RE = re.compile(rf"{_PART}(?:\.{_PART}){{1,3}}")
# looser rule for ids imported from manifests (owners pick their own family names)
MANIFEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclass(frozen=True, slots=True)
class AlgorithmId:
    """A parsed algorithm id; ``scene``/``event`` are set for scene heads only."""

    family: str
    name: str
    scene: str | None = None
    event: str | None = None

    def __str__(self) -> str:
        return f"{self.family}.{self.name}"


def scene_head_id(scene: str, event: str) -> str:
    """The id of the head that detects ``event`` in ``scene`` on the shared backbone."""
    return f"{FAMILY_SCENE}.{scene}.{event}"


def readout_id(slug: str) -> str:
    """The id of the ImageNet readout ``slug`` (the runtime's readout classes)."""
    return f"{FAMILY_READOUT}.{slug}"


def detector_id(name: str) -> str:
    return f"{FAMILY_DETECTOR}.{name}"


def track_algorithm_id(name: str) -> str:
    return f"{FAMILY_TRACK}.{name}"


def parse_algorithm_id(algorithm_id: str) -> AlgorithmId:
    """Split an id into family and name; a scene head also gives its scene and event.

    Raises :class:`~catalog.errors.InvalidSpecError` (a ``ValueError``) naming the id and the rule.
    """
    if not isinstance(algorithm_id, str) or not ALGORITHM_ID_RE.fullmatch(algorithm_id):
        raise InvalidSpecError(
            f"algorithm id {algorithm_id!r} is not valid; expected 2-4 dot-separated lowercase parts of letters, "
            "digits and '_', e.g. 'scene.road.standing_water' or 'detector.people_hog'"
        )
    family, _, name = algorithm_id.partition(".")
    if family == FAMILY_SCENE:
        parts = name.split(".")
        if len(parts) != 2:
            raise InvalidSpecError(f"scene head id {algorithm_id!r} must be 'scene.{{scene}}.{{event}}'")
        return AlgorithmId(family, name, parts[0], parts[1])
    return AlgorithmId(family, name)


def is_valid_algorithm_id(algorithm_id: object) -> bool:
    return isinstance(algorithm_id, str) and bool(ALGORITHM_ID_RE.fullmatch(algorithm_id))


__all__ = [
    "ALGORITHM_ID_RE", "AlgorithmId", "FAMILIES", "FAMILY_DETECTOR", "FAMILY_OCR", "FAMILY_READOUT", "FAMILY_SCENE",
    "FAMILY_TRACK", "MANIFEST_ID_RE", "detector_id", "is_valid_algorithm_id", "parse_algorithm_id", "readout_id",
    "scene_head_id", "track_algorithm_id",
]
