"""Stream sources: video files, RTSP cameras, image folders and synthetic scenes.

Every source yields :class:`FrameEvent` records and reports a :class:`SourceHealth`.

>>> src = open_source("synthetic://road?seed=1&fps=10&n=2", "cam-1")
>>> [str(ev) for ev in src.frames()]
['cam-1#0@0ms', 'cam-1#1@100ms']
>>> src.health().state.value
'ended'
"""
from runtime.streams.base import FrameEvent, HealthState, SourceHealth, StreamConfigError, StreamError, StreamSource
from runtime.streams.files import ImageFolderSource, VideoFileSource
from runtime.streams.registry import SourceRegistry, default_source_registry, open_source
from runtime.streams.rtsp import Backoff, RtspSource, backoff_delay_s
from runtime.streams.synthetic import ScheduledEvent, SyntheticSource, parse_schedule

__all__ = [
    "Backoff",
    "FrameEvent",
    "HealthState",
    "ImageFolderSource",
    "RtspSource",
    "ScheduledEvent",
    "SourceHealth",
    "SourceRegistry",
    "StreamConfigError",
    "StreamError",
    "StreamSource",
    "SyntheticSource",
    "VideoFileSource",
    "backoff_delay_s",
    "default_source_registry",
    "open_source",
    "parse_schedule",
]
