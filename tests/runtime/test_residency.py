"""Model residency: eviction decisions (pure) and the thread-safe cache with hot swap."""
from __future__ import annotations

import threading

import pytest

from runtime import ModelResidency, ResidencyError, ResidentModel, choose_evictions


def _m(name, size, last, uses, pinned=False):
    return ResidentModel(name, size, last_used_s=last, uses=uses, pinned=pinned)


MODELS = [_m("old-busy", 30, 1, 50), _m("new-rare", 30, 5, 1), _m("mid", 30, 3, 10), _m("bb", 10, 0, 0, pinned=True)]


@pytest.mark.parametrize(
    ("need", "policy", "protect", "expected"),
    [
        (0, "lru", frozenset(), ()),  # fits already (100 used of 100, need 0)
        (20, "lru", frozenset(), ("old-busy",)),  # least recently used goes first
        (20, "lfu", frozenset(), ("new-rare",)),  # least frequently used goes first
        (50, "lru", frozenset(), ("old-busy", "mid")),  # as many as needed, in order
        (20, "lru", frozenset({"old-busy"}), ("mid",)),  # a protected model (being swapped) stays
        (60, "lfu", frozenset(), ("new-rare", "mid")),  # never the pinned backbone
    ],
)
def test_choose_evictions(need, policy, protect, expected):
    assert choose_evictions(MODELS, need_mib=need, budget_mib=100, policy=policy, protect=protect) == expected


@pytest.mark.parametrize(
    ("need", "budget", "policy", "match"),
    [
        (150, 100, "lru", "can never fit a budget of 100.0 MiB"),  # bigger than the whole budget
        (95, 100, "lru", "only 90.0 MiB can be freed"),  # pinned backbone keeps 10 MiB
        (10, 100, "fifo", "unknown eviction policy 'fifo'"),
    ],
)
def test_choose_evictions_refuses_what_cannot_fit(need, budget, policy, match):
    with pytest.raises(ResidencyError, match=match):
        choose_evictions(MODELS, need_mib=need, budget_mib=budget, policy=policy)


def _counting_loader(name, loads):
    def load():
        loads.append(name)
        return f"model:{name}"

    return load


def test_load_on_use_and_evict_by_lru_within_budget():
    t = [0.0]
    loads: list[str] = []
    res = ModelResidency(budget_mib=100, policy="lru", clock=lambda: t[0])
    res.register("backbone", version="v1", load=_counting_loader("backbone", loads), size_mib=40, pinned=True)
    for n in "abc":
        res.register(n, version="v1", load=_counting_loader(n, loads), size_mib=30)
    assert res.resident() == ("backbone",)  # pinned models load at once, others on use
    for n in "ab":
        t[0] += 1
        assert res.get(n) == f"model:{n}"
    t[0] += 1
    res.get("a")  # a is now more recent than b
    res.get("c")  # 40 + 30 + 30 + 30 > 100: b goes
    assert set(res.resident()) == {"backbone", "a", "c"}
    s = res.stats()
    assert (s.loads, s.evictions, s.hits, s.used_mib) == (4, 1, 1, 100)
    res.get("b")
    assert loads.count("b") == 2 and "backbone" in res.resident()


def test_swap_serves_the_old_version_until_the_new_one_is_loaded():
    res = ModelResidency(budget_mib=100)
    res.register("h", version="v1", load=lambda: "h-v1", size_mib=30)
    assert res.get("h") == "h-v1"
    loading, release = threading.Event(), threading.Event()

    def slow_v2():
        loading.set()
        release.wait(10)
        return "h-v2"

    t = threading.Thread(target=res.swap, args=("h",), kwargs={"version": "v2", "load": slow_v2, "size_mib": 30})
    t.start()
    assert loading.wait(10)
    served_during = [res.get("h") for _ in range(5)]  # never blocks, never fails
    release.set()
    t.join(10)
    assert served_during == ["h-v1"] * 5
    assert res.get("h") == "h-v2" and res.version("h") == "v2" and res.stats().swaps == 1


def test_register_with_a_new_version_swaps():
    res = ModelResidency()
    res.register("h", version="v1", load=lambda: "h-v1", size_mib=1, preload=True)
    res.register("h", version="v2", load=lambda: "h-v2", size_mib=1)
    assert res.get("h") == "h-v2"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.get("ghost"), "model 'ghost' is not registered"),
        (lambda r: r.register("x", version="v1", load=lambda: 0, size_mib=-1), "size_mib of 'x' must be >= 0"),
        (lambda r: ModelResidency(budget_mib=0), "budget_mib must be > 0, got 0"),
    ],
)
def test_errors_name_the_value(call, match):
    with pytest.raises(ResidencyError, match=match):
        call(ModelResidency())
