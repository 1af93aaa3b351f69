"""City labels read off the shared backbone's ImageNet logits (no extra network).

The backbone (ImageNet MobileNetV2) already pays for 1000 class logits on every frame; a
few of those classes matter in a city (manhole cover, ashcan, traffic light, fire engine,
seashore...). A readout class sums the softmax probabilities of one or more ImageNet
classes into one city label (``moped`` + ``motor scooter`` -> ``scooter``).

>>> from runtime import Backbone                                            # doctest: +SKIP
>>> bb = Backbone.load("var/cache/backbone/mobilenet_v2-b0353104-onnx1.onnx")  # doctest: +SKIP
>>> ro = ImagenetReadout(bb.info.imagenet_labels)                           # doctest: +SKIP
>>> logits, _ = bb.embed_frames([frame_bgr])                                # doctest: +SKIP
>>> ro.read(logits)[0][0].slug                                              # doctest: +SKIP
'scooter'
"""
from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from runtime.detectors.base import Detection, DetectorError, DetectorInputError, check_image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReadoutClass:
    """One city label made of ImageNet classes, with the taxonomy ids it is evidence for."""

    slug: str
    name: str
    imagenet_names: tuple[str, ...]
    event_types: tuple[str, ...] = ()
    scene_tags: tuple[str, ...] = ("any",)

    def __post_init__(self) -> None:
        if not self.slug or not self.slug.replace("_", "").isalnum() or self.slug.lower() != self.slug:
            raise DetectorError(f"readout slug {self.slug!r} must be lowercase letters, digits and '_' (e.g. 'trash_can')")
        if not self.imagenet_names:
            raise DetectorError(f"readout {self.slug!r} names no ImageNet class; give at least one (e.g. ('ashcan',))")


# event_types: only where the readout is direct evidence of an object the event needs
# (taxonomy `objects`); scene_tags: the scenes where the class is a signal (taxonomy
# `imagenet_signals`), else "any".
CITY_READOUT_CLASSES: tuple[ReadoutClass, ...] = (
    ReadoutClass("manhole_cover", "Manhole cover", ("manhole cover",), ("missing_manhole_cover",), ("road", "intersection", "sidewalk")),
    ReadoutClass("trash_can", "Trash can", ("ashcan",), ("overflowing_garbage",), ("sidewalk",)),
    ReadoutClass("garbage_truck", "Garbage truck", ("garbage truck",), (), ("road",)),
    ReadoutClass("fire_engine", "Fire engine", ("fire engine",)),
    ReadoutClass("ambulance", "Ambulance", ("ambulance",)),
    ReadoutClass("police_van", "Police van", ("police van",), (), ("road",)),
    ReadoutClass("traffic_light", "Traffic light", ("traffic light",), ("red_light_running",), ("road", "intersection")),
    ReadoutClass("street_sign", "Street sign", ("street sign",), ("damaged_road_sign",), ("road", "intersection", "sidewalk")),
    ReadoutClass("parking_meter", "Parking meter", ("parking meter",), (), ("sidewalk", "parking_lot")),
    ReadoutClass("park_bench", "Park bench", ("park bench",), (), ("plaza", "park")),
    ReadoutClass("seashore", "Seashore", ("seashore", "sandbar", "breakwater", "promontory"), (), ("seafront",)),
    ReadoutClass("lakeside", "Lakeside", ("lakeside", "dam", "boathouse"), (), ("river_bank",)),
    ReadoutClass("pier", "Pier or dock", ("pier", "dock"), (), ("seafront", "river_bank", "bridge")),
    ReadoutClass("container_ship", "Container ship", ("container ship",), (), ("seafront",)),
    ReadoutClass("small_boat", "Small boat", ("speedboat", "canoe", "lifeboat", "fireboat", "yawl", "catamaran", "trimaran"),
                 ("boat_in_restricted_zone",), ("seafront", "river_bank")),
    ReadoutClass("crane", "Construction crane", ("crane",), (), ("construction_site",)),
    ReadoutClass("forklift", "Forklift", ("forklift",), (), ("construction_site",)),
    ReadoutClass("moving_van", "Moving van", ("moving van",), (), ("road",)),
    ReadoutClass("scooter", "Moped or motor scooter", ("moped", "motor scooter"), ("electric_bike_in_lobby",)),
    ReadoutClass("bicycle", "Bicycle", ("mountain bike", "bicycle-built-for-two", "tricycle"), ("shared_bike_pileup",)),
    ReadoutClass("bus", "Bus or trolleybus", ("school bus", "trolleybus", "minibus"), (), ("bus_stop", "school_gate")),
    ReadoutClass("bag", "Bag", ("backpack", "purse", "mailbag"), ("unattended_bag",)),
    ReadoutClass("plastic_bag", "Plastic bag", ("plastic bag",), ("litter",)),
    ReadoutClass("fountain", "Fountain", ("fountain",), (), ("plaza",)),
    ReadoutClass("bridge", "Bridge", ("suspension bridge", "steel arch bridge", "viaduct"), (), ("bridge",)),
)


@dataclass(frozen=True, slots=True)
class Readout:
    slug: str
    name: str
    score: float  # summed softmax probability of the class's ImageNet classes
    imagenet_top: str  # the ImageNet class that contributed most


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ImagenetReadout:
    """Maps ImageNet logits ``[N, 1000]`` to city labels (a subset of ImageNet classes)."""

    def __init__(self, imagenet_labels: Sequence[str], classes: Sequence[ReadoutClass] = CITY_READOUT_CLASSES, *,
                 min_score: float = 0.3) -> None:
        labels = list(imagenet_labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise DetectorError(f"imagenet_labels has {len(labels)} entries ({len(labels) - len(set(labels))} duplicates); "
                                "pass Backbone.info.imagenet_labels (1000 unique names)")
        slugs = [c.slug for c in classes]
        if not classes or len(set(slugs)) != len(slugs):
            raise DetectorError(f"readout classes {slugs} are empty or repeat a slug; give each class a unique slug")
        if not 0.0 <= min_score <= 1.0:
            raise DetectorError(f"min_score={min_score}; expected a probability in [0, 1]")
        index = {n: i for i, n in enumerate(labels)}
        self.imagenet_labels: tuple[str, ...] = tuple(labels)
        self.classes: tuple[ReadoutClass, ...] = tuple(classes)
        self.min_score = float(min_score)
        self._indices: list[np.ndarray] = []
        for c in classes:
            missing = [n for n in c.imagenet_names if n not in index]
            if missing:
                close = {n: difflib.get_close_matches(n, labels, n=3) for n in missing}
                raise DetectorError(f"readout {c.slug!r}: ImageNet classes {missing} are not in the label list; close names: {close}")
            self._indices.append(np.array([index[n] for n in c.imagenet_names], dtype=np.int64))

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(c.slug for c in self.classes)

    def indices(self, slug: str) -> tuple[int, ...]:
        """ImageNet class indices summed into ``slug``."""
        for c, idx in zip(self.classes, self._indices):
            if c.slug == slug:
                return tuple(int(i) for i in idx)
        raise DetectorError(f"no readout class {slug!r}; valid: {list(self.slugs)}")

    def _check(self, logits: np.ndarray) -> np.ndarray:
        arr = np.asarray(logits)
        if arr.ndim != 2 or arr.shape[1] != len(self.imagenet_labels):
            raise DetectorInputError(f"logits shape {arr.shape}; expected [N, {len(self.imagenet_labels)}] (the backbone's 'logits' output)")
        return arr

    def scores(self, logits: np.ndarray) -> np.ndarray:
        """``[N, K]`` summed probabilities, columns in :attr:`slugs` order."""
        probs = softmax(self._check(logits))
        return np.stack([probs[:, idx].sum(axis=1) for idx in self._indices], axis=1)

    def read(self, logits: np.ndarray) -> list[list[Readout]]:
        """Per image, the city labels scoring >= ``min_score``, best first (often none)."""
        probs = softmax(self._check(logits))
        out: list[list[Readout]] = []
        for row in probs:
            found = []
            for c, idx in zip(self.classes, self._indices):
                score = float(row[idx].sum())
                if score >= self.min_score:
                    found.append(Readout(c.slug, c.name, min(score, 1.0), self.imagenet_labels[int(idx[np.argmax(row[idx])])]))
            out.append(sorted(found, key=lambda r: -r.score))
        return out

    def top_imagenet(self, logits: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
        """The raw top-k ImageNet classes per image (for reports and debugging)."""
        probs = softmax(self._check(logits))
        top = np.argsort(-probs, axis=1)[:, :k]
        return [[(self.imagenet_labels[int(i)], float(p[i])) for i in t] for p, t in zip(probs, top)]

    def config_dict(self) -> dict:
        """JSON-able description (the catalog artifact of a readout)."""
        return {
            "min_score": self.min_score,
            "classes": [
                {"slug": c.slug, "name": c.name, "imagenet_names": list(c.imagenet_names),
                 "imagenet_indices": [int(i) for i in idx]}
                for c, idx in zip(self.classes, self._indices)
            ],
        }


class ImagenetReadoutDetector:
    """A :class:`Detector` over a backbone + readout: whole-frame detections, one per city label.

    The runtime normally reads the logits the shared backbone already produced; this shell
    is for running a readout on its own (tests, benchmarks, the detector registry).
    """

    name = "imagenet.readout"

    def __init__(self, backbone, readout: ImagenetReadout | None = None) -> None:
        self.backbone = backbone
        self.readout = readout or ImagenetReadout(backbone.info.imagenet_labels)

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        image = check_image(image_bgr, who=self.name)
        logits, _ = self.backbone.embed_frames([image])
        h, w = image.shape[:2]
        return [Detection(label=r.slug, score=r.score, xyxy=(0.0, 0.0, float(w), float(h))) for r in self.readout.read(logits)[0]]
