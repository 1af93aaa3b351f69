"""Prometheus exposition of the operations center (``GET /metrics``), rendered per scrape
from live state: the alert hub, the outbox, and ``services.control.status()`` when a
control plane runs. Keys read from the control plane's status (all optional):
``cameras`` ({id: {state, fps, frames_scored, frames_gated}} or a list of such with
``camera_id``), ``frames_scored``, ``frames_gated``, ``plan_age_s`` (or ``plan.age_s``),
``consumer_lag`` ({group: records})."""
from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger(__name__)
_UP_STATES = {"running", "ok", "up", "streaming", "healthy"}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class _Collector:
    def __init__(self, services: Any) -> None:
        self.services = services

    def collect(self):
        s = self.services
        hub = s.alert_hub
        yield CounterMetricFamily("warehouse_alerts_streamed", "Alerts published to the live stream", value=hub.published)
        yield GaugeMetricFamily("warehouse_alerts_per_second", "Alerts per second over the last minute", value=hub.rate_per_s(60.0))
        yield GaugeMetricFamily("warehouse_stream_subscribers", "Open live alert streams", value=hub.subscribers)
        try:
            ob = s.ops.outbox_stats()
            yield GaugeMetricFamily("warehouse_outbox_pending", "Events waiting in the outbox for the bus", value=ob["pending"])
            yield GaugeMetricFamily("warehouse_outbox_oldest_pending_seconds", "Age of the oldest unpublished event",
                                    value=ob["oldest_pending_age_s"] or 0.0)
        except Exception:
            log.warning("metrics: outbox stats unavailable", exc_info=True)
        if s.outbox is not None:
            yield GaugeMetricFamily("warehouse_bus_up", "1 if the last publish reached the bus", value=0.0 if s.outbox.bus_ok is False else 1.0)
        control = getattr(s, "control", None)
        if control is None:
            return
        try:
            st = dict(control.status())
        except Exception:
            log.warning("metrics: control plane status failed", exc_info=True)
            return
        cams = st.get("cameras") or {}
        if isinstance(cams, list):
            cams = {c.get("camera_id", str(i)): c for i, c in enumerate(cams) if isinstance(c, dict)}
        up = GaugeMetricFamily("warehouse_stream_up", "1 if the camera's stream is healthy", labels=["camera_id"])
        fps = GaugeMetricFamily("warehouse_stream_fps", "Frames per second read from the stream", labels=["camera_id"])
        scored = CounterMetricFamily("warehouse_frames_scored", "Frames scored by the heads", labels=["camera_id"])
        gated = CounterMetricFamily("warehouse_frames_gated", "Frames skipped by the change gate", labels=["camera_id"])
        for cid, c in cams.items():
            if not isinstance(c, dict):
                continue
            up.add_metric([cid], 1.0 if str(c.get("state", c.get("health", ""))).lower() in _UP_STATES else 0.0)
            for fam, k in ((fps, "fps"), (scored, "frames_scored"), (gated, "frames_gated")):
                if _num(c.get(k)) is not None:
                    fam.add_metric([cid], _num(c.get(k)))
        yield from (up, fps, scored, gated)
        for name, k, doc in (("warehouse_frames_scored_all", "frames_scored", "Frames scored, all cameras"),
                             ("warehouse_frames_gated_all", "frames_gated", "Frames gated, all cameras")):
            if _num(st.get(k)) is not None:
                yield CounterMetricFamily(name, doc, value=_num(st[k]))
        plan = st.get("plan") if isinstance(st.get("plan"), dict) else {}
        age = _num(st.get("plan_age_s")) if _num(st.get("plan_age_s")) is not None else _num(plan.get("age_s"))
        if age is not None:
            yield GaugeMetricFamily("warehouse_plan_age_seconds", "Seconds since the current plan was made", value=age)
        lag = st.get("consumer_lag") or {}
        if isinstance(lag, dict) and lag:
            fam = GaugeMetricFamily("warehouse_consumer_lag", "Records behind the end of the topic, per consumer group", labels=["group"])
            for group, n in lag.items():
                if _num(n) is not None:
                    fam.add_metric([str(group)], _num(n))
            yield fam


def render_metrics(services: Any) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(services))
    return generate_latest(registry), CONTENT_TYPE_LATEST
