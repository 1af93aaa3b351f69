"""Prometheus exposition of the operations center (``GET /metrics``), rendered per scrape
from live state: the alert hub, the outbox, and ``services.control.status()`` when a
control plane runs. Keys read from the control plane's status (all optional):
``cameras`` ({id: {health or state, running, fps, frames_read, frames_scored, frames_gated}}
or a list of such with ``camera_id``), ``workers`` ({id: {frames_scored, frames_gated}}),
``frames_scored``, ``frames_gated``, ``plan_age_s`` (or ``plan.age_s``), ``consumer_lag``
({group: records}). What the status lacks is left out, never invented."""
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
        yield from control_families(st)


def control_families(st: dict[str, Any]) -> list:
    """Metric families from a control plane's ``status()`` (pure: plain data in, families out)."""
    out: list = []
    cams = st.get("cameras") or {}
    if isinstance(cams, list):
        cams = {c.get("camera_id", str(i)): c for i, c in enumerate(cams) if isinstance(c, dict)}
    up = GaugeMetricFamily("warehouse_stream_up", "1 if the camera's stream is healthy", labels=["camera_id"])
    fps = GaugeMetricFamily("warehouse_stream_fps", "Planned frames per second of the camera", labels=["camera_id"])
    read = CounterMetricFamily("warehouse_stream_frames_read", "Frames read from the stream", labels=["camera_id"])
    scored = CounterMetricFamily("warehouse_frames_scored", "Frames scored by the heads", labels=["camera_id"])
    gated = CounterMetricFamily("warehouse_frames_gated", "Frames skipped by the change gate", labels=["camera_id"])
    for cid, c in cams.items():
        if not isinstance(c, dict):
            continue
        healthy = str(c.get("state", c.get("health", ""))).lower() in _UP_STATES and c.get("running", True) is not False
        up.add_metric([str(cid)], 1.0 if healthy else 0.0)
        for fam, k in ((fps, "fps"), (read, "frames_read"), (scored, "frames_scored"), (gated, "frames_gated")):
            if _num(c.get(k)) is not None:
                fam.add_metric([str(cid)], _num(c.get(k)))
    out += [up, fps, read, scored, gated]
    workers = st.get("workers") or {}
    if isinstance(workers, dict) and workers:
        w_scored = CounterMetricFamily("warehouse_worker_frames_scored", "Frames scored per worker", labels=["worker_id"])
        w_gated = CounterMetricFamily("warehouse_worker_frames_gated", "Frames gated per worker", labels=["worker_id"])
        for wid, w in workers.items():
            if not isinstance(w, dict):
                continue
            for fam, k in ((w_scored, "frames_scored"), (w_gated, "frames_gated")):
                if _num(w.get(k)) is not None:
                    fam.add_metric([str(wid)], _num(w.get(k)))
        out += [w_scored, w_gated]
    for name, k, doc in (("warehouse_frames_scored_all", "frames_scored", "Frames scored, all cameras"),
                         ("warehouse_frames_gated_all", "frames_gated", "Frames gated, all cameras")):
        if _num(st.get(k)) is not None:
            out.append(CounterMetricFamily(name, doc, value=_num(st[k])))
    plan = st.get("plan") if isinstance(st.get("plan"), dict) else {}
    age = _num(st.get("plan_age_s")) if _num(st.get("plan_age_s")) is not None else _num(plan.get("age_s"))
    if age is not None:
        out.append(GaugeMetricFamily("warehouse_plan_age_seconds", "Seconds since the current plan was made", value=age))
    lag = st.get("consumer_lag") or {}
    if isinstance(lag, dict) and lag:
        fam = GaugeMetricFamily("warehouse_consumer_lag", "Records behind the end of the topic, per consumer group", labels=["group"])
        for group, n in lag.items():
            if _num(n) is not None:
                fam.add_metric([str(group)], _num(n))
        out.append(fam)
    return out


def render_metrics(services: Any) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(services))
    return generate_latest(registry), CONTENT_TYPE_LATEST
