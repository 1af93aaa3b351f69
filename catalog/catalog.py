"""The catalog: algorithms, their numbered versions, lifecycle stages, artifacts and lineage.

>>> import numpy as np
>>> from catalog import ArtifactStore, AlgorithmSpec, Catalog, Stage, linear_head_onnx
>>> store = ArtifactStore("memory://doctest-catalog")
>>> cat = Catalog.open("sqlite://", store=store)
>>> _ = cat.register_algorithm(AlgorithmSpec(id="seafront.person_in_water", name="Person in water",
...     event_types=("person_in_water",), scene_tags=("seafront",), labels=("person_in_water",)))
>>> sha = store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32),
...     labels=["person_in_water"]), suffix=".onnx")
>>> v1 = cat.add_version("seafront.person_in_water", artifact_sha256=sha, metrics={"f1": 0.71})
>>> cat.promote("seafront.person_in_water", v1.number, to=Stage.PRODUCTION).stage
<Stage.PRODUCTION: 'production'>
>>> cat.production_version("seafront.person_in_water").metrics
{'f1': 0.71}
"""
from __future__ import annotations

import contextlib
import difflib
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from catalog import _schema as t
from catalog import _stages
from catalog import lineage as _lineage
from catalog._stages import validate_event_id, version_of as _version
from catalog._db import create_engine, transaction, utcnow
from catalog.errors import (
    ArtifactNotFoundError,
    CatalogConnectionError,
    CatalogUnavailableError,
    DuplicateError,
    DuplicateVersionError,
    InvalidSpecError,
    UnknownAlgorithmError,
    UnknownVersionError,
)
from catalog.lifecycle import check_transition
from catalog.migrate import upgrade
from catalog.records import AlgorithmSpec, CostProfile, ModelVersion, Stage, metrics_dict
from catalog.store import ArtifactStore, check_sha256
from catalog.taxonomy import load_taxonomy

log = logging.getLogger(__name__)


class Catalog:
    """Algorithms, versions and lineage in a SQL database, artifacts in an :class:`ArtifactStore`.

    Open with :meth:`Catalog.open`; every method is one transaction.
    """

    def __init__(self, engine: sa.Engine, store: ArtifactStore) -> None:
        self._engine = engine
        self.store = store

    @classmethod
    def open(cls, url: str, *, store: ArtifactStore) -> Catalog:
        """Connect to ``url`` (SQLAlchemy URL) and migrate its schema to the newest revision."""
        engine = create_engine(url)
        try:
            upgrade(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            shown = engine.url.render_as_string(hide_password=True)
            raise CatalogConnectionError(
                f"cannot open catalog database {shown!r}: {exc.orig}; check the URL, that the server runs "
                "(scripts/postgres.sh start) and that the folder exists"
            ) from None
        cat = cls(engine, store)
        cat._load_event_types()
        return cat

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({self.url!r}, store={self.store!r})"

    def _tx(self, *, write: bool = False) -> contextlib.AbstractContextManager[sa.Connection]:
        return transaction(self._engine, self.url, write=write)

    # -- algorithms ------------------------------------------------------------------------
    def register_algorithm(self, spec: AlgorithmSpec) -> AlgorithmSpec:
        """Add ``spec``; registering an identical spec again is a no-op, a different one is refused."""
        if not isinstance(spec, AlgorithmSpec):
            raise InvalidSpecError(f"register_algorithm needs an AlgorithmSpec, got {type(spec).__name__}")
        try:
            with self._tx(write=True) as conn:
                return self._register(conn, spec)
        except sa.exc.IntegrityError:
            # lost a race with a concurrent register of the same id: compare with the winner
            with self._tx(write=True) as conn:
                return self._register(conn, spec)

    def _register(self, conn: sa.Connection, spec: AlgorithmSpec) -> AlgorithmSpec:
        row = conn.execute(sa.select(t.algorithms.c.spec).where(t.algorithms.c.id == spec.id).with_for_update()).first()
        if row is not None:
            existing = AlgorithmSpec.from_dict(row.spec)
            if existing != spec:
                raise DuplicateError(
                    f"algorithm {spec.id!r} is already registered with a different spec (fields differ: "
                    f"{existing.differences(spec)}); every version keeps its algorithm's contract, so register "
                    "the changed contract under a new algorithm id",
                    value=spec.id,
                )
            return existing
        conn.execute(
            t.algorithms.insert().values(
                id=spec.id, name=spec.name, kind=spec.kind, owner=spec.owner, spec=spec.to_dict(), created_at=utcnow()
            )
        )
        conn.execute(t.algorithm_scene_tags.insert(), [{"algorithm_id": spec.id, "scene": s} for s in spec.scene_tags])
        if spec.event_types:
            conn.execute(
                t.algorithm_event_types.insert(), [{"algorithm_id": spec.id, "event_type": e} for e in spec.event_types]
            )
        log.info("registered algorithm %s (%s)", spec.id, spec.kind)
        return spec

    def get_algorithm(self, algorithm_id: str) -> AlgorithmSpec:
        """The spec of ``algorithm_id``; :class:`UnknownAlgorithmError` (a KeyError) lists close ids."""
        with self._tx() as conn:
            return self._require_algorithm(conn, algorithm_id)

    def _require_algorithm(self, conn: sa.Connection, algorithm_id: str, *, lock: bool = False) -> AlgorithmSpec:
        q = sa.select(t.algorithms.c.spec).where(t.algorithms.c.id == algorithm_id)
        row = conn.execute(q.with_for_update() if lock else q).first()
        if row is None:
            ids = list(conn.execute(sa.select(t.algorithms.c.id)).scalars())
            close = difflib.get_close_matches(str(algorithm_id), ids, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownAlgorithmError(
                f"unknown algorithm {algorithm_id!r}{hint} The catalog has {len(ids)} algorithms; "
                "list them with `warehouse catalog list` or register it first",
                value=algorithm_id,
            )
        return AlgorithmSpec.from_dict(row.spec)

    def list_algorithms(self, *, scene: str | None = None, event_type: str | None = None) -> list[AlgorithmSpec]:
        """All algorithms, by id; ``scene`` also matches scene-independent (``any``) algorithms."""
        q = sa.select(t.algorithms.c.spec).order_by(t.algorithms.c.id)
        if scene is not None:
            if scene != "any":
                load_taxonomy().require_scene(scene)
            tags = sa.select(t.algorithm_scene_tags.c.algorithm_id).where(t.algorithm_scene_tags.c.scene.in_([scene, "any"]))
            q = q.where(t.algorithms.c.id.in_(tags))
        if event_type is not None:
            load_taxonomy().require_event(event_type)
            events = sa.select(t.algorithm_event_types.c.algorithm_id).where(t.algorithm_event_types.c.event_type == event_type)
            q = q.where(t.algorithms.c.id.in_(events))
        with self._tx() as conn:
            return [AlgorithmSpec.from_dict(r.spec) for r in conn.execute(q)]

    # -- versions --------------------------------------------------------------------------
    def add_version(
        self,
        algorithm_id: str,
        *,
        artifact_sha256: str,
        metrics: dict[str, float] | None = None,
        cost_profile: CostProfile | None = None,
        parent_version: int | None = None,
        training_run_id: str | None = None,
        dataset_version_id: str | None = None,
        stage: Stage = Stage.CANDIDATE,
        notes: str = "",
    ) -> ModelVersion:
        """Add the next version (numbers count 1, 2, ... per algorithm); its artifact must be in the store.

        ``stage=Stage.PRODUCTION`` retires the current production version in the same transaction.
        """
        with self._tx(write=True) as conn:
            return self._add_version(
                conn, algorithm_id, artifact_sha256=artifact_sha256, metrics=metrics, cost_profile=cost_profile,
                parent_version=parent_version, training_run_id=training_run_id,
                dataset_version_id=dataset_version_id, stage=stage, notes=notes,
            )  # fmt: skip

    def _add_version(self, conn: sa.Connection, algorithm_id: str, *, artifact_sha256: str, metrics: Any,
                     cost_profile: CostProfile | None, parent_version: int | None, training_run_id: str | None,
                     dataset_version_id: str | None, stage: Stage | str, notes: str,
                     expected_number: int | None = None) -> ModelVersion:  # fmt: skip
        self._require_algorithm(conn, algorithm_id, lock=True)
        check_sha256(artifact_sha256)
        stage = Stage.parse(stage)
        metrics = metrics_dict(metrics)
        if stage is Stage.RETIRED:
            raise InvalidSpecError(f"cannot add {algorithm_id} as retired; add it as candidate, canary or production")
        if cost_profile is not None and not isinstance(cost_profile, CostProfile):
            raise InvalidSpecError(f"cost_profile must be a CostProfile, got {type(cost_profile).__name__}")
        if not isinstance(notes, str):
            raise InvalidSpecError(f"notes must be a string, got {notes!r}")
        if not self.store.exists(artifact_sha256):
            raise ArtifactNotFoundError(
                f"artifact {artifact_sha256} of {algorithm_id} is not in the store {self.store.url!r}; "
                "put it first (store.put_bytes / put_file), then add the version",
                value=artifact_sha256,
            )
        last = conn.execute(
            sa.select(sa.func.max(t.model_versions.c.number)).where(t.model_versions.c.algorithm_id == algorithm_id)
        ).scalar()
        number = (last or 0) + 1
        if expected_number is not None and expected_number != number:
            raise DuplicateVersionError(
                f"{algorithm_id} version {expected_number} cannot be added: the next version number is {number}; "
                "drop version_number to take the next one, or set it to the next number",
                value=expected_number,
            )
        if parent_version is not None:
            self._version_row(conn, algorithm_id, parent_version)
        dataset_version_id = _lineage.check_version_lineage(
            conn, algorithm_id, training_run_id=training_run_id, dataset_version_id=dataset_version_id
        )
        now = utcnow()
        if stage is Stage.PRODUCTION:
            _stages.retire_production(conn, algorithm_id, now)
        conn.execute(
            t.model_versions.insert().values(
                algorithm_id=algorithm_id, number=number, stage=stage.value, artifact_sha256=artifact_sha256,
                metrics=metrics, cost_profile=cost_profile.to_dict() if cost_profile else None,
                parent_version=parent_version, training_run_id=training_run_id,
                dataset_version_id=dataset_version_id, notes=notes, created_at=now, stage_changed_at=now,
            )
        )  # fmt: skip
        _stages.log_transition(conn, algorithm_id, number, None, stage, now)
        log.info("added %s@v%d (%s, artifact %s)", algorithm_id, number, stage.value, artifact_sha256[:12])
        return _version(self._version_row(conn, algorithm_id, number))

    def versions(self, algorithm_id: str) -> list[ModelVersion]:
        """Every version of the algorithm, oldest first."""
        with self._tx() as conn:
            self._require_algorithm(conn, algorithm_id)
            rows = conn.execute(
                sa.select(t.model_versions).where(t.model_versions.c.algorithm_id == algorithm_id).order_by(t.model_versions.c.number)
            )
            return [_version(r) for r in rows]

    def get_version(self, algorithm_id: str, number: int) -> ModelVersion:
        with self._tx() as conn:
            return _version(self._version_row(conn, algorithm_id, number))

    def production_version(self, algorithm_id: str) -> ModelVersion | None:
        """The version in production, or None if none is."""
        with self._tx() as conn:
            self._require_algorithm(conn, algorithm_id)
            row = conn.execute(
                sa.select(t.model_versions).where(
                    t.model_versions.c.algorithm_id == algorithm_id, t.model_versions.c.stage == Stage.PRODUCTION.value
                )
            ).first()
            return _version(row) if row is not None else None

    def production_versions(self) -> dict[str, ModelVersion]:
        """``{algorithm_id: production version}`` for every algorithm that has one (one query)."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(t.model_versions).where(t.model_versions.c.stage == Stage.PRODUCTION.value))
            return {r.algorithm_id: _version(r) for r in rows}

    def _version_row(self, conn: sa.Connection, algorithm_id: str, number: int, *, lock: bool = False) -> sa.Row:
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidSpecError(f"version number must be an int, got {number!r}", value=number)
        q = sa.select(t.model_versions).where(
            t.model_versions.c.algorithm_id == algorithm_id, t.model_versions.c.number == number
        )
        row = conn.execute(q.with_for_update() if lock else q).first()
        if row is None:
            self._require_algorithm(conn, algorithm_id)
            known = list(conn.execute(sa.select(t.model_versions.c.number).where(t.model_versions.c.algorithm_id == algorithm_id)
                                      .order_by(t.model_versions.c.number)).scalars())  # fmt: skip
            raise UnknownVersionError(
                f"algorithm {algorithm_id!r} has no version {number}; its versions are {known}", value=number
            )
        return row

    # -- lifecycle -------------------------------------------------------------------------
    def promote(self, algorithm_id: str, number: int, *, to: Stage | str) -> ModelVersion:
        """Move a version forward (candidate -> canary -> production); same stage is a no-op.

        Promoting to production retires the previous production version in the same transaction.
        """
        to = Stage.parse(to)
        if to is Stage.RETIRED:
            return self.retire(algorithm_id, number)
        with self._tx(write=True) as conn:
            self._require_algorithm(conn, algorithm_id, lock=True)
            row = self._version_row(conn, algorithm_id, number, lock=True)
            current = Stage(row.stage)
            if current is to:
                return _version(row)
            check_transition(current, to, version=f"{algorithm_id}@v{number}")
            now = utcnow()
            if to is Stage.PRODUCTION:
                _stages.retire_production(conn, algorithm_id, now)
            _stages.set_stage(conn, row, to, now)
            log.info("promoted %s@v%d %s -> %s", algorithm_id, number, current.value, to.value)
            return _version(self._version_row(conn, algorithm_id, number))

    def retire(self, algorithm_id: str, number: int) -> ModelVersion:
        """Retire a version (no-op if it already is); the algorithm may be left without production."""
        with self._tx(write=True) as conn:
            self._require_algorithm(conn, algorithm_id, lock=True)
            row = self._version_row(conn, algorithm_id, number, lock=True)
            if row.stage == Stage.RETIRED.value:
                return _version(row)
            check_transition(Stage(row.stage), Stage.RETIRED, version=f"{algorithm_id}@v{number}")
            _stages.set_stage(conn, row, Stage.RETIRED, utcnow())
            log.info("retired %s@v%d (was %s)", algorithm_id, number, row.stage)
            return _version(self._version_row(conn, algorithm_id, number))

    def stage_history(self, algorithm_id: str) -> list[dict[str, Any]]:
        """Audit trail of stage changes: ``[{number, from_stage, to_stage, at}]``, oldest first."""
        with self._tx() as conn:
            self._require_algorithm(conn, algorithm_id)
            return _stages.history(conn, algorithm_id)

    # -- artifacts -------------------------------------------------------------------------
    def load_artifact(self, algorithm_id: str, number: int) -> bytes:
        """The version's artifact bytes, verified against its sha256."""
        return self.store.get_bytes(self.get_version(algorithm_id, number).artifact_sha256)

    def artifact_path(self, algorithm_id: str, number: int) -> Path:
        """A verified local file of the version's artifact (for engines that need a path)."""
        return self.store.local_path(self.get_version(algorithm_id, number).artifact_sha256)

    # -- lineage ---------------------------------------------------------------------------
    def record_mining_job(self, algorithm_id: str, *, miss_event_ids: list[str], strategy: str, candidate_ids: list[str]) -> str:
        """Record which miss events a mining job started from and the candidates it chose; returns its id."""
        with self._tx(write=True) as conn:
            self._require_algorithm(conn, algorithm_id)
            return _lineage.record_mining_job(conn, algorithm_id, miss_event_ids=miss_event_ids, strategy=strategy,
                                              candidate_ids=candidate_ids)  # fmt: skip

    def record_dataset_version(self, algorithm_id: str, *, sample_ids: list[str], parent_id: str | None = None,
                               mining_job_id: str | None = None, artifact_sha256: str | None = None,
                               stats: dict | None = None) -> str:  # fmt: skip
        """Record a labeled dataset (its sample ids, parent dataset, mining job); returns its id."""
        if artifact_sha256 is not None and not self.store.exists(check_sha256(artifact_sha256)):
            raise ArtifactNotFoundError(
                f"dataset artifact {artifact_sha256} is not in the store {self.store.url!r}; put it first", value=artifact_sha256
            )
        with self._tx(write=True) as conn:
            self._require_algorithm(conn, algorithm_id)
            return _lineage.record_dataset_version(conn, algorithm_id, sample_ids=sample_ids, parent_id=parent_id,
                                                   mining_job_id=mining_job_id, artifact_sha256=artifact_sha256,
                                                   stats=stats)  # fmt: skip

    def record_training_run(self, algorithm_id: str, *, dataset_version_id: str, params: dict, metrics: dict) -> str:
        """Record a training run on a dataset version (params, metrics); returns its id."""
        with self._tx(write=True) as conn:
            self._require_algorithm(conn, algorithm_id)
            return _lineage.record_training_run(conn, algorithm_id, dataset_version_id=dataset_version_id, params=params,
                                                metrics=metrics)  # fmt: skip

    def lineage(self, algorithm_id: str, number: int) -> dict[str, Any]:
        """Nested, JSON-able: version -> training_run -> dataset_version (-> parent ...) -> mining_job."""
        with self._tx() as conn:
            version = _version(self._version_row(conn, algorithm_id, number))
            return _lineage.lineage_of(conn, version)

    # -- flywheel metadata (H10, migration 0002) ------------------------------------------
    def set_version_metadata(self, algorithm_id: str, number: int, key: str, value: Any) -> None:
        """Store a JSON value with a version (``canary_cameras``, ``gate``, ...); one key, upserted."""
        with self._tx(write=True) as conn:
            self._version_row(conn, algorithm_id, number)
            _lineage.set_version_metadata(conn, algorithm_id, number, key, value)

    def version_metadata(self, algorithm_id: str, number: int | None = None) -> dict[Any, Any]:
        """``{key: value}`` of a version, or ``{number: {key: value}}`` of every version of the algorithm."""
        with self._tx() as conn:
            if number is not None:
                self._version_row(conn, algorithm_id, number)
            return _lineage.version_metadata(conn, algorithm_id, number)

    def dataset_versions(self, algorithm_id: str | None = None) -> list[dict[str, Any]]:
        """Dataset versions (newest first), optionally of one algorithm; no sample ids (see :meth:`dataset_version`)."""
        with self._tx() as conn:
            if algorithm_id is not None:
                self._require_algorithm(conn, algorithm_id)
            return _lineage.list_dataset_versions(conn, algorithm_id)

    def dataset_version(self, dataset_version_id: str) -> dict[str, Any]:
        """One dataset version: sample ids, stats, mining job (with its miss events), ancestors, training runs."""
        with self._tx() as conn:
            return _lineage.dataset_version(conn, dataset_version_id)

    def add_event_type(self, event_id: str, *, name: str, scenes: list[str], objects: list[str] | None = None,
                       description: str = "") -> bool:  # fmt: skip
        """Define an event type at run time (stored, and taught to this process's taxonomy); True if new."""
        from catalog.taxonomy import EventType, extend_taxonomy

        validate_event_id(event_id)
        ev = EventType(event_id, name, tuple(scenes), tuple(objects or ()))
        extend_taxonomy(ev)  # validates the scenes before anything is written
        with self._tx(write=True) as conn:
            return _lineage.record_event_type(conn, event_id=event_id, name=name, scenes=list(scenes),
                                              objects=list(objects or ()), description=description)  # fmt: skip

    def _load_event_types(self) -> None:
        from catalog.taxonomy import EventType, extend_taxonomy

        with self._tx() as conn:
            for e in _lineage.stored_event_types(conn):
                extend_taxonomy(EventType(e["id"], e["name"], tuple(e["scenes"]), tuple(e["objects"])))

    # -- manifests -------------------------------------------------------------------------
    def import_manifest(self, path: str | Path) -> ModelVersion:
        """Validate a model manifest (YAML) and its ONNX model, then register the version.

        Nothing is written unless every check passes (see :mod:`catalog.manifest_import`).
        """
        from catalog.manifest_import import import_manifest

        return import_manifest(self, path)

    # -- the import API (catalog.manifest_import uses only these and the public reads) --------------
    def import_version(self, spec: AlgorithmSpec, *, expected_number: int | None, **version: Any) -> ModelVersion:
        """Register ``spec`` (if new) and add one version, in one transaction; ``expected_number`` refuses a gap."""
        with self._tx(write=True) as conn:
            self._register(conn, spec)
            return self._add_version(conn, spec.id, expected_number=expected_number, parent_version=None,
                                     training_run_id=None, dataset_version_id=None, **version)  # fmt: skip


    def discard_unreferenced_artifact(self, sha: str) -> bool:
        """Delete ``sha`` from the store if no version or dataset refers to it (undo of a refused import)."""
        try:
            with self._tx() as conn:
                used = conn.execute(
                    sa.select(t.model_versions.c.id).where(t.model_versions.c.artifact_sha256 == sha).limit(1)
                ).first() or conn.execute(
                    sa.select(t.dataset_versions.c.id).where(t.dataset_versions.c.artifact_sha256 == sha).limit(1)
                ).first()
        except (sa.exc.SQLAlchemyError, CatalogUnavailableError):
            log.warning("cannot check whether artifact %s is referenced (database unavailable); kept it", sha, exc_info=True)
            return False
        if used is not None:
            return False
        try:
            return self.store.delete(sha)
        except OSError:
            log.warning("could not delete unreferenced artifact %s", sha, exc_info=True)
            return False
