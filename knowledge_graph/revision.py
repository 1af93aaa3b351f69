"""Scene revision from feedback: when operators' evidence contradicts a camera's scene links.

A camera linked to the wrong scene (a mis-discovered or mis-typed scene) runs the wrong
algorithms: its real events go unreported and its useless heads raise false alarms. Every
piece of feedback is evidence about the scene: a reported miss or a confirmed alert of event
``e`` says that ``e`` occurs here, so the scene is one where ``e`` can happen; an algorithm
whose alerts were all rejected (at least two, none confirmed) says its event probably does
not occur here (a head whose event cannot happen raises only false alarms). A posterior
over scenes (the scene links as prior, smoothed so that an unlinked scene can still win)
is recomputed after each miss or pause; when a scene other than the primary one wins
clearly (and at least two distinct occurring events contradict the primary scene, or one
does and two of its events look absent),
:func:`revise_scenes` proposes new links, which the graph records as one explained,
undoable change. The old primary scene stays linked when some occurring event supports it
that the new scene cannot have (a camera may see a seafront *and* a road); otherwise it goes.
When nothing contradicts the primary but its own events look absent and another scene now
explains the evidence better without winning clearly (at least ``WIDEN_AT``, and the two
together hold ``WIDEN_PAIR`` of the posterior: two clear candidates, not a spread), both are
linked at their posteriors (:func:`_widen`): the uncertain camera runs both scenes until the
next alerts tell them apart.

>>> from catalog import load_taxonomy
>>> tax = load_taxonomy()
>>> r = revise_scenes(tax, (("intersection", 0.75),), occurred=("vehicle_breakdown", "fallen_tree"), absent=())
>>> r.primary if r else None
'road'
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from catalog import Taxonomy

P_OCCUR_ALLOWED = 0.95  # an occurring event is one the scene allows ...
P_OCCUR_FORBIDDEN = 0.02  # ... except for a mislabelled report now and then
P_ABSENT_ALLOWED = 0.35  # a paused head: its event may simply be rare here ...
P_ABSENT_FORBIDDEN = 0.9  # ... or it cannot happen here at all
PRIOR_FLOOR = 0.02  # an unlinked scene keeps this much prior mass
REVISE_AT = 0.6  # the winner's posterior needed to re-link the camera
MIN_CONTRADICTING = 2  # distinct occurring events the primary scene cannot have, before re-linking ...
MIN_ABSENT = 2  # ... or one such event and this many of the primary's events absent
MIN_ABSENT_ALONE = 3  # with nothing contradicting it, this many absent events ...
REVISE_AT_ABSENT_ALONE = 0.7  # ... and a far better scene
WIDEN_AT = 0.4  # short of that, a better scene at least this likely ...
WIDEN_PAIR = 0.6  # ... that, with the primary, holds this much of the posterior: link both


@dataclass(frozen=True, slots=True)
class SceneRevision:
    scenes: dict[str, float]  # the new links, {scene: posterior}
    primary: str
    previous_primary: str | None
    posterior: dict[str, float]
    reason: str


def scene_posterior(tax: Taxonomy, links: Sequence[tuple[str, float]], occurred: Sequence[str], absent: Sequence[str]) -> dict[str, float]:
    """P(scene | evidence) over every taxonomy scene (pure)."""
    prior = dict(links)
    occurred, absent = sorted(set(occurred)), sorted(set(absent) - set(occurred))  # each event is one fact
    logp = {}
    for s in tax.scenes:
        lp = math.log(max(prior.get(s, 0.0), 0.0) + PRIOR_FLOOR)
        for e in occurred:
            ev = tax.events.get(e)
            lp += math.log(P_OCCUR_ALLOWED if ev is not None and s in ev.scenes else P_OCCUR_FORBIDDEN)
        for e in absent:
            ev = tax.events.get(e)
            lp += math.log(P_ABSENT_ALLOWED if ev is not None and s in ev.scenes else P_ABSENT_FORBIDDEN)
        logp[s] = lp
    m = max(logp.values())
    z = sum(math.exp(v - m) for v in logp.values())
    return {s: math.exp(v - m) / z for s, v in logp.items()}


def revise_scenes(tax: Taxonomy, links: Sequence[tuple[str, float]], *, occurred: Sequence[str], absent: Sequence[str],
                  min_link: float = 0.25) -> SceneRevision | None:
    """New scene links when the evidence clearly points away from the current primary scene,
    else ``None``. ``occurred``: events reported missed or confirmed; ``absent``: events of
    algorithms paused by rejections."""
    primary = links[0][0] if links else None
    occurred_set, absent_set = set(occurred), set(absent) - set(occurred)
    contradicting = sorted({e for e in occurred_set if e in tax.events and (primary is None or primary not in tax.events[e].scenes)})
    post = None
    if not contradicting:
        # nothing seen contradicts the primary scene; but if many of its own events look
        # absent and another scene explains everything seen far better, re-link all the same
        if len(absent_set) >= MIN_ABSENT_ALONE:
            post = scene_posterior(tax, links, occurred, absent)
            best = max(post, key=post.get)
            if best != primary and post[best] >= REVISE_AT_ABSENT_ALONE:
                contradicting = []
            elif (best != primary and primary is not None and post[primary] >= min_link and post[best] >= WIDEN_AT
                  and post[best] + post[primary] >= WIDEN_PAIR):
                return _widen(post, primary, best, absent_set, occurred_set, min_link)
            else:
                post = None
        if post is None:
            return _prune(tax, links, occurred_set, absent_set)
    elif len(contradicting) < MIN_CONTRADICTING and len(absent_set) < MIN_ABSENT:
        return None
    if post is None:
        post = scene_posterior(tax, links, occurred, absent)
    best = max(post, key=post.get)
    if best == primary or post[best] < REVISE_AT:
        return None
    scenes = {s: round(p, 4) for s, p in post.items() if p >= min_link}
    scenes[best] = round(post[best], 4)
    own = sorted({e for e in occurred_set if primary is not None and primary in tax.events[e].scenes and best not in tax.events[e].scenes})
    if primary is not None and own:  # the old scene has evidence of its own: keep it as a link
        scenes[primary] = max(min_link, round(min(dict(links).get(primary, 0.0), post[best]) * 0.5, 4))
    why = (f"feedback contradicts scene {primary!r}: events {contradicting} occur here but cannot happen there; "
           if primary and contradicting else f"events of scene {primary!r} look absent ({sorted(absent_set)}); " if primary
           else "feedback points to a scene: ")
    why += f"scene {best!r} explains the {len(occurred_set)} occurring and {len(absent_set)} absent events (posterior {post[best]:.2f})"
    if own:
        why += f"; {primary!r} stays linked because {own} occur here too"
    return SceneRevision(scenes, best, primary, post, why)


def _widen(post: dict[str, float], primary: str, best: str, absent: set[str], occurred: set[str], min_link: float) -> SceneRevision:
    """The primary's own events look absent and another scene now explains the evidence better,
    but not clearly: link both at their posteriors (an uncertain camera runs both scenes, so
    the next alerts tell them apart)."""
    scenes = {s: round(p, 4) for s, p in sorted(post.items(), key=lambda kv: -kv[1]) if p >= min_link}
    why = (f"events of scene {primary!r} look absent ({sorted(absent)}); scene {best!r} explains the {len(occurred)} occurring "
           f"and {len(absent)} absent events better (posterior {post[best]:.2f} against {post[primary]:.2f}), not clearly: "
           "both linked, so the camera runs both until the alerts tell them apart")
    return SceneRevision(scenes, best, primary, post, why)


def _prune(tax: Taxonomy, links: Sequence[tuple[str, float]], occurred: set[str], absent: set[str]) -> SceneRevision | None:
    """The primary scene is not contradicted: drop weaker links whose own events look absent
    (at least ``MIN_ABSENT``) while none of their own events was seen occurring."""
    if len(links) < 2:
        return None
    primary = links[0][0]
    keep, dropped = [links[0]], []
    for s, c in links[1:]:
        only_s = {e for e, ev in tax.events.items() if s in ev.scenes and primary not in ev.scenes}
        if len(only_s & absent) >= MIN_ABSENT and not only_s & occurred:
            dropped.append((s, sorted(only_s & absent)))
        else:
            keep.append((s, c))
    if not dropped:
        return None
    why = "; ".join(f"scene {s!r} unlinked: its events {evs} look absent (all their alerts rejected) and none of its own "
                    "events was seen" for s, evs in dropped)
    return SceneRevision(dict(keep), primary, primary, {}, why)
