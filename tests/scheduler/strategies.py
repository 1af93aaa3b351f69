"""Hypothesis strategies: small random warehouse.schedule/1 instances."""
from __future__ import annotations

from hypothesis import strategies as st

from scheduler import AlgorithmSpec, Backbone, CameraSpec, Demand, Instance, JobSpec, WorkerSpec

_fps = st.sampled_from([1.0, 2.0, 5.0, 10.0, 15.0])


@st.composite
def instances(draw, max_cameras: int = 8, max_workers: int = 4, jobs: bool = True) -> Instance:
    n_alg = draw(st.integers(1, 5))
    algs = tuple(AlgorithmSpec(f"a{i}", draw(st.floats(0.0, 5.0)), draw(st.floats(0.0, 200.0)))
                 for i in range(n_alg))
    n_nodes = draw(st.integers(1, 3))
    workers = tuple(WorkerSpec(f"w{i}", f"n{draw(st.integers(0, n_nodes - 1))}",
                               draw(st.floats(20.0, 800.0)), draw(st.floats(100.0, 1200.0)))
                    for i in range(draw(st.integers(0, max_workers))))
    cams = []
    for c in range(draw(st.integers(0, max_cameras))):
        cid = f"c{c}"
        chosen = draw(st.lists(st.integers(0, n_alg - 1), unique=True, max_size=n_alg))
        demands = []
        for a in chosen:
            fps = draw(_fps)
            demands.append(Demand(cid, f"a{a}", draw(st.floats(0.1, 10.0)), fps,
                                  fps * draw(st.sampled_from([0.1, 0.5, 1.0]))))
        node = draw(st.one_of(st.none(), st.sampled_from([f"n{i}" for i in range(n_nodes + 1)])))
        cams.append(CameraSpec(cid, draw(st.floats(0.0, 10.0)), draw(st.floats(0.0, 20.0)), node, tuple(demands)))
    js = tuple(JobSpec(f"j{i}", draw(st.floats(0.0, 300.0)), draw(st.floats(0.0, 400.0)))
               for i in range(draw(st.integers(0, 2)) if jobs else 0))
    return Instance(Backbone(draw(st.floats(0.0, 300.0))), workers, tuple(cams), algs, js)
