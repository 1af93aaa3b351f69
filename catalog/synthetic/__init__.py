"""Deterministic synthetic city scenes with exact event labels (numpy + OpenCV, no torch).

16 scene layouts and 64 event painters, one per scene/event type of the taxonomy, under
four conditions (day, night, rain, fog). Labels are measured from the pixels each event
changed, so they are exact by construction. :func:`composite_frame` paints the same events
onto real frames (video frames, photos), with labels measured the same way.

>>> from catalog.synthetic import render_frame, SyntheticCamera, ScheduledEvent
>>> f = render_frame("seafront", events=("boat_in_restricted_zone", "litter"), seed=42, condition="fog")
>>> sorted(f.events)
['boat_in_restricted_zone', 'litter']
>>> cam = SyntheticCamera("tunnel", seed=1, fps=5, event_schedule=[ScheduledEvent("smoke", 10, 20)])
>>> next(cam.frames(1))[2]
()
"""
from catalog.synthetic.camera import ScheduledEvent, SyntheticCamera
from catalog.synthetic.composite import COMPOSITE_SCENE, REAL_CONDITION, background_zones, composite_frame
from catalog.synthetic.conditions import CONDITIONS
from catalog.synthetic.frame import (
    EventLabel,
    SyntheticFrame,
    SyntheticSceneError,
    render_frame,
)
from catalog.synthetic.events import STYLES as EVENT_STYLES
from catalog.synthetic.scenes import PAINTERS as SCENE_PAINTERS
from catalog.synthetic.fingerprint import GENERATOR_VERSION, generator_fingerprint

__all__ = [
    "COMPOSITE_SCENE",
    "CONDITIONS",
    "EVENT_STYLES",
    "EventLabel",
    "GENERATOR_VERSION",
    "REAL_CONDITION",
    "SCENE_PAINTERS",
    "ScheduledEvent",
    "SyntheticCamera",
    "SyntheticFrame",
    "SyntheticSceneError",
    "background_zones",
    "composite_frame",
    "generator_fingerprint",
    "render_frame",
]
