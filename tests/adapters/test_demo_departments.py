"""The demo departments end to end: each adapter file, run on its generated legacy source, puts
every dirty row where the department's outcomes table says, reconciles, and changes nothing
when run again; 民政局's people meet 公安局's in the core with both addresses kept."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import distinct, func, select

from adapters import monitoring, pipeline
from adapters.config import load_adapter
from adapters.demo import civil_affairs, market_regulation, natural_resources, statistics
from adapters.demo.common import Manifest
from adapters.demo.seed import DEMO_SOURCES, seed_sources
from adapters.pipeline import Report, consistency, run_adapter
from directory.accounts import create_user, find_user, register_department
from directory.demo import DEPARTMENTS, RESOURCES, credit_code_for
from registry.db import unit_of_work
from registry.models import (
    AdapterQuarantine,
    AuditEntry,
    CoreLineage,
    CoreRecord,
    Department,
    QuarantineReason,
    QuarantineRecord,
    SyncRun,
)
from tests.adapters.conftest import DEMO_ROWS
from tests.conftest import govshare_here
from tests.exchange.conftest import _publish
from trust.actions import Context
from trust.auth import Caller

FOLDER = Path(__file__).resolve().parents[2] / "adapters" / "departments"
GAJ_SEED = 7  # the gaj_registry fixture's


@dataclass(frozen=True)
class Adapter:
    file: str
    department: str  # its code in the demo catalogue
    resource: str
    variable: str  # the environment variable the file takes its source from
    outcomes: Mapping[str, tuple[str, str] | None]

    @property
    def config(self):
        return load_adapter(FOLDER / self.file)


MZJ = Adapter("mzj-marriage.toml", "mzj", "结婚登记信息", "GOVSHARE_MZJ_URL", civil_affairs.DIRT_OUTCOMES)
SCJGJ = Adapter("scjgj-enterprise.toml", "scjgj", "营业执照信息", "GOVSHARE_SCJGJ_URL",
                market_regulation.DIRT_OUTCOMES)
TJJ = Adapter("tjj-indicators.toml", "tjj", "国民经济和社会发展统计公报", "GOVSHARE_TJJ_XLSX", statistics.DIRT_OUTCOMES)
PARCELS = Adapter("zrzyj-parcels.toml", "zrzyj", "土地利用现状信息", "GOVSHARE_ZRZYJ_URL",
                  natural_resources.PARCEL_OUTCOMES)
POINTS = Adapter("zrzyj-address-points.toml", "zrzyj", "地名地址信息", "GOVSHARE_ZRZYJ_URL",
                 natural_resources.ADDRESS_POINT_OUTCOMES)
GAJ = Adapter("gaj-household.toml", "gaj", "户籍登记信息", "GOVSHARE_GAJ_URL", {})


# -- sources, generated once per session ----------------------------------------------------------

@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> dict[str, Manifest]:
    """Every demo department's legacy source in a temporary folder; the keys are the adapter files."""
    folder = tmp_path_factory.mktemp("departments")
    zrzyj = f"sqlite:///{folder / 'zrzyj-legacy.db'}"
    return {
        MZJ.file: civil_affairs.generate_marriage_registry(
            f"sqlite:///{folder / 'mzj-legacy.db'}", 1500, seed=3, people_seed=GAJ_SEED, people=DEMO_ROWS),
        SCJGJ.file: market_regulation.generate_enterprise_registry(f"sqlite:///{folder / 'scjgj.db'}", 1000, seed=5),
        TJJ.file: statistics.generate_indicator_workbook(folder / "tjj-indicators.xlsx", 1000, seed=11),
        PARCELS.file: natural_resources.generate_parcels(zrzyj, 600, seed=13),
        POINTS.file: natural_resources.generate_address_points(zrzyj, 1000, seed=17),
    }


def _point_at(monkeypatch, adapter: Adapter, manifest: Manifest) -> Manifest:
    monkeypatch.setenv(adapter.variable, manifest.url)
    return manifest


def publish(sessions, settings, *adapters: Adapter) -> None:
    """Register the adapters' departments as the demo catalogue has them and publish their resources."""
    classes = {name: cls for _code, _slug, cls, name, *_ in RESOURCES}
    demo = {d.code: d for d in DEPARTMENTS}
    with unit_of_work(sessions) as session:
        reviewer = create_user(session, username="reviewer", password="x", department=None,
                               roles=("admin", "reviewer"))
        for adapter in adapters:
            dept = session.scalar(select(Department).where(Department.code == adapter.department))
            if dept is None:
                d = demo[adapter.department]
                dept = register_department(session, settings, code=d.code, name=d.name,
                                           credit_code=credit_code_for(d.org8))
                create_user(session, username=d.code, password="x", department=dept, roles=("cataloguer",))
            _publish(session, settings, dept, find_user(session, adapter.department), reviewer, adapter.resource,
                     classes[adapter.resource])


# -- what a run must show -------------------------------------------------------------------------

def expected_outcomes(manifest: Manifest, outcomes: Mapping[str, tuple[str, str] | None]) -> Counter:
    """(stage, rule) -> how many rows must end there, from the manifest and the outcomes table."""
    expected: Counter = Counter()
    for kind, count in manifest.counts.items():
        if outcomes[kind] is not None:
            expected[outcomes[kind]] += count
    return expected


def found_outcomes(sessions, run: SyncRun) -> tuple[Counter, int]:
    """(stage, rule) -> rows the run set aside, and how many records validation quarantined."""
    with sessions() as session:
        found = Counter({(stage, rule): n for stage, rule, n in session.execute(
            select(AdapterQuarantine.stage, AdapterQuarantine.rule, func.count())
            .where(AdapterQuarantine.run_id == run.id).group_by(AdapterQuarantine.stage, AdapterQuarantine.rule))})
        found.update({("validate", rule): n for rule, n in session.execute(
            select(QuarantineReason.rule, func.count(distinct(QuarantineReason.record_id)))
            .group_by(QuarantineReason.rule))})
        rejected = session.scalar(select(func.count()).select_from(QuarantineRecord))
    found[("compare", "duplicate")] += run.filtered
    return found, rejected


def assert_ends_as_the_manifest_says(sessions, run: SyncRun, manifest: Manifest,
                                     outcomes: Mapping[str, tuple[str, str] | None]) -> None:
    assert run.status == "succeeded", run.message
    assert run.read == manifest.rows
    assert run.read == run.loaded + run.unchanged + run.quarantined + run.filtered
    expected = expected_outcomes(manifest, outcomes)
    found, rejected = found_outcomes(sessions, run)
    assert +found == +expected
    assert rejected == sum(n for (stage, _), n in expected.items() if stage == "validate")
    # every cleanable kind of dirt, and every clean row, is in the core
    assert run.loaded == manifest.rows - sum(expected.values())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CoreRecord)
                              .where(CoreRecord.effective_to.is_(None))) == run.loaded


def assert_runs_end_as_the_manifest_says(sessions, settings, adapter: Adapter, manifest: Manifest) -> None:
    """A full run ends as the manifest says; a second one finds everything unchanged and deletes nothing."""
    config = adapter.config
    first = run_adapter(sessions, settings, config, full=True)
    assert_ends_as_the_manifest_says(sessions, first, manifest, adapter.outcomes)
    again = run_adapter(sessions, settings, config, full=True)
    assert again.status == "succeeded", again.message
    assert (again.loaded, again.unchanged, again.deleted) == (0, first.loaded, 0)
    assert again.read == again.loaded + again.unchanged + again.quarantined + again.filtered


# -- each department ------------------------------------------------------------------------------

@pytest.mark.parametrize("adapter", [MZJ, SCJGJ, TJJ, PARCELS, POINTS], ids=lambda a: a.file.removesuffix(".toml"))
def test_every_kind_of_dirt_ends_where_the_outcomes_table_says_and_a_second_run_changes_nothing(
        adapter, sources, sessions, settings, monkeypatch):
    manifest = _point_at(monkeypatch, adapter, sources[adapter.file])
    publish(sessions, settings, adapter)
    assert_runs_end_as_the_manifest_says(sessions, settings, adapter, manifest)


def test_a_row_hash_run_after_a_full_run_finds_every_row_unchanged(sources, sessions, settings, monkeypatch,
                                                                    reading):
    _point_at(monkeypatch, MZJ, sources[MZJ.file])
    publish(sessions, settings, MZJ)
    full = run_adapter(sessions, settings, MZJ.config, full=True)
    again = run_adapter(sessions, settings, MZJ.config)
    assert again.mode == "rowhash" and again.status == "succeeded", again.message
    assert (again.loaded, again.unchanged) == (0, full.loaded)


def test_every_kind_of_dirt_occurs_in_every_demo_source(sources):
    for manifest in sources.values():
        assert all(manifest.counts.values()), manifest.counts


def test_generation_is_reproducible_from_the_seed(tmp_path):
    first = market_regulation.generate_enterprise_registry(f"sqlite:///{tmp_path / 'a.db'}", 300, seed=5)
    second = market_regulation.generate_enterprise_registry(f"sqlite:///{tmp_path / 'b.db'}", 300, seed=5)
    assert first.counts == second.counts and first.rows_by_kind == second.rows_by_kind


def test_every_demo_adapter_file_names_a_resource_of_its_department_in_the_demo_catalogue():
    by_code = {credit_code_for(d.org8): d.code for d in DEPARTMENTS}
    published = {(code, name) for code, _slug, _cls, name, *_ in RESOURCES}
    for source in DEMO_SOURCES:
        config = load_adapter(FOLDER / f"{source.adapter}.toml")
        assert (by_code[config.department], config.resource_name) in published, source.adapter


# -- 民政局 and 公安局: the same people, two addresses ---------------------------------------------------

def test_mzj_shares_a_known_part_of_its_people_with_gaj(sources):
    manifest = sources[MZJ.file]
    assert 0.55 * manifest.rows < manifest.shared < 0.65 * manifest.rows


def test_mzj_ranks_below_gaj_as_a_source_of_people():
    assert MZJ.config.priority < GAJ.config.priority


def test_people_of_both_departments_keep_both_addresses_as_lineage(gaj_registry, sources, sessions, settings,
                                                                    monkeypatch):
    _point_at(monkeypatch, GAJ, gaj_registry)
    manifest = _point_at(monkeypatch, MZJ, sources[MZJ.file])
    publish(sessions, settings, GAJ, MZJ)
    assert run_adapter(sessions, settings, GAJ.config, full=True).status == "succeeded"
    assert run_adapter(sessions, settings, MZJ.config, full=True).status == "succeeded"
    with sessions() as session:
        mzj = session.scalar(select(Department.id).where(Department.code == "mzj"))
        gaj = session.scalar(select(Department.id).where(Department.code == "gaj"))
        sources_by_key: dict[str, set[int]] = {}
        for key, source in session.execute(select(CoreLineage.record_key, CoreLineage.source_id)
                                           .where(CoreLineage.field == "residenceAddress")):
            sources_by_key.setdefault(key, set()).add(source)
    both = [key for key, found in sources_by_key.items() if found == {gaj, mzj}]
    assert len(both) == len(sources_by_key)
    # where 公安局 has a residence address too, the two disagree; a person is missed only where dirt
    # on either side kept one of the two records out
    disagreeing = _ids(gaj_registry.url, 'SELECT GMSFHM FROM HJ_RKXX WHERE JZDZ IS NOT NULL') & _ids(
        manifest.url, 'SELECT IdCardNo FROM MarriageParty')
    assert 0.9 * len(disagreeing) <= len(both) <= manifest.shared


def test_the_core_keeps_the_higher_priority_address_and_reports_the_conflicts(gaj_registry, sources, sessions,
                                                                            settings, monkeypatch):
    """公安局 (priority 100) over 民政局 (50), whichever ran last, run after run (比对)."""
    from exchange.integration import conflicts

    _point_at(monkeypatch, GAJ, gaj_registry)
    _point_at(monkeypatch, MZJ, sources[MZJ.file])
    publish(sessions, settings, GAJ, MZJ)
    for config in (GAJ.config, MZJ.config):
        assert run_adapter(sessions, settings, config, full=True).status == "succeeded"

    def addresses() -> dict[str, tuple[str, int]]:
        with sessions() as session:
            gaj = session.scalar(select(Department.id).where(Department.code == "gaj"))
            disputed = set(session.scalars(select(CoreLineage.record_key)
                                           .where(CoreLineage.field == "residenceAddress")))
            rows = session.execute(select(CoreRecord.record_key, CoreRecord.fields, CoreRecord.source_id,
                                          CoreRecord.field_sources)
                                   .where(CoreRecord.record_key.in_(disputed), CoreRecord.effective_to.is_(None)))
            return {key: (fields["residenceAddress"], (sources_ or {}).get("residenceAddress", source) == gaj)
                    for key, fields, source, sources_ in rows}

    first = addresses()
    assert first and all(from_gaj for _address, from_gaj in first.values())
    # the lower-priority source running again changes nothing; neither does the higher one
    for config in (MZJ.config, GAJ.config, MZJ.config):
        again = run_adapter(sessions, settings, config, full=True)
        assert (again.status, again.loaded) == ("succeeded", 0), (config.name, again.loaded, again.message)
    assert addresses() == first
    with sessions() as session:
        report = conflicts(session, "population", field_name="residenceAddress")
    assert report.by_field["residenceAddress"] == len(first)
    assert report.outcomes == {("residenceAddress", "临江市公安局", "临江市民政局"): len(first)}


def _ids(url: str, sql: str) -> set[str]:
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
        return {row[0] for row in conn.execute(sql)}


# -- 一致性核查 of two sources of the same people: what each contributes, under the priorities ------------

@pytest.fixture
def two_sources(gaj_registry, sources, sessions, settings, tmp_path, monkeypatch) -> dict[str, Path]:
    """Copies of 公安局's and 民政局's sources that the test may change, their resources published."""
    copies = {}
    for adapter, url in ((GAJ, gaj_registry.url), (MZJ, sources[MZJ.file].url)):
        copies[adapter.file] = tmp_path / f"{adapter.department}-copy.db"
        shutil.copy(url.removeprefix("sqlite:///"), copies[adapter.file])
        monkeypatch.setenv(adapter.variable, f"sqlite:///{copies[adapter.file]}")
    publish(sessions, settings, GAJ, MZJ)
    return copies


def _run_both(sessions, settings, *configs) -> dict[str, SyncRun]:
    runs = {config.name: run_adapter(sessions, settings, config, full=True) for config in configs}
    assert all(run.status == "succeeded" for run in runs.values()), [run.message for run in runs.values()]
    return runs


def _once(path: Path, sql: str) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        found = Counter(row[0] for row in conn.execute(sql))
    return {key for key, n in found.items() if n == 1}


def _shared_keys(copies: dict[str, Path], sessions, where: str = "") -> list[str]:
    """Keys of people each source holds once, as a clean ID number (``where``: of 公安局's rows), that
    are current in the core."""
    both = (_once(copies[GAJ.file], f"SELECT GMSFHM FROM HJ_RKXX {where}")
            & _once(copies[MZJ.file], "SELECT IdCardNo FROM MarriageParty"))
    with sessions() as session:
        current = set(session.scalars(select(CoreRecord.record_key).where(CoreRecord.effective_to.is_(None),
                                                                          CoreRecord.deleted.is_(False))))
    return sorted(both & current)


def _change_source(path: Path, sql: str, *parameters: object) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute(sql, parameters).rowcount == 1


def _alter_core(sessions, key: str, name: str, value: str) -> None:
    """Change a field of ``key``'s current version behind the platform's back (SQL by hand)."""
    with unit_of_work(sessions) as session:
        record = session.scalar(select(CoreRecord).where(CoreRecord.record_key == key,
                                                         CoreRecord.effective_to.is_(None)))
        record.fields = {**record.fields, name: value}


def _checks(sessions, settings, *configs) -> dict[str, Report]:
    return {config.name: consistency(sessions, settings, config) for config in configs}


@pytest.mark.parametrize("first", ["gaj", "mzj"])
def test_after_clean_runs_of_two_sources_of_the_same_people_the_check_of_each_is_consistent(
        two_sources, sessions, settings, first):
    configs = (GAJ.config, MZJ.config) if first == "gaj" else (MZJ.config, GAJ.config)
    runs = _run_both(sessions, settings, *configs)
    with sessions() as session:  # the two disagree on many people's addresses, and 公安局's are kept
        assert session.scalar(select(func.count(distinct(CoreLineage.record_key)))) > 100
    for name, report in _checks(sessions, settings, *configs).items():
        assert report.consistent, (name, report)
        assert report.same == runs[name].loaded + runs[name].unchanged


def test_sync_check_of_each_source_exits_0_after_clean_runs_of_both(two_sources, sessions, settings):
    _run_both(sessions, settings, GAJ.config, MZJ.config)
    env = {"GOVSHARE_DB_URL": settings.db_url, "GOVSHARE_VAR": str(settings.var_dir), "PATH": "/usr/bin:/bin",
           **{adapter.variable: f"sqlite:///{two_sources[adapter.file]}" for adapter in (GAJ, MZJ)}}
    for adapter in (GAJ, MZJ):
        check = govshare_here("sync", "check", adapter.config.name, env=env, cwd=FOLDER.parents[1])
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.startswith(f"{adapter.config.name}: consistent  same ")


def test_a_source_row_changed_after_the_runs_is_a_difference_for_that_source_alone(two_sources, sessions,
                                                                                    settings):
    _run_both(sessions, settings, GAJ.config, MZJ.config)
    renamed, remarried = _shared_keys(two_sources, sessions)[:2]
    _change_source(two_sources[GAJ.file], "UPDATE HJ_RKXX SET XM = '改名' WHERE GMSFHM = ?", renamed)
    _change_source(two_sources[MZJ.file], "UPDATE MarriageParty SET MaritalStatus = "
                   "CASE MaritalStatus WHEN '丧偶' THEN '未婚' ELSE '丧偶' END WHERE IdCardNo = ?", remarried)
    checks = _checks(sessions, settings, GAJ.config, MZJ.config)
    assert (checks["gaj-household"].differing, checks["gaj-household"].examples["differing"]) == (1, [renamed])
    assert (checks["mzj-marriage"].differing, checks["mzj-marriage"].examples["differing"]) == (1, [remarried])


def test_a_core_value_altered_is_a_difference_for_the_source_that_contributes_that_field(two_sources, sessions,
                                                                                         settings):
    _run_both(sessions, settings, GAJ.config, MZJ.config)
    household, marriage = _shared_keys(two_sources, sessions)[:2]
    _alter_core(sessions, household, "domicileAddress", "临江市篡改区某路1号")  # 公安局's, above 民政局's
    _alter_core(sessions, marriage, "maritalStatus", "30")  # only 民政局 gives it
    checks = _checks(sessions, settings, GAJ.config, MZJ.config)
    assert (checks["gaj-household"].differing, checks["gaj-household"].examples["differing"]) == (1, [household])
    assert (checks["mzj-marriage"].differing, checks["mzj-marriage"].examples["differing"]) == (1, [marriage])


def test_a_changed_value_the_higher_priority_source_keeps_is_no_difference_for_the_lower(two_sources, sessions,
                                                                                        settings):
    _run_both(sessions, settings, GAJ.config, MZJ.config)
    [moved, *_] = _shared_keys(two_sources, sessions, "WHERE JZDZ IS NOT NULL")
    _change_source(two_sources[MZJ.file], "UPDATE MarriageParty SET CurrentAddress = '临江市新址路2号' "
                   "WHERE IdCardNo = ?", moved)
    assert all(report.consistent for report in _checks(sessions, settings, GAJ.config, MZJ.config).values())


def test_between_equal_priorities_a_value_that_lost_to_a_newer_one_is_no_difference_until_it_changes(
        two_sources, sessions, settings, tmp_path):
    equal = tmp_path / MZJ.file  # 民政局 ranked as high as 公安局: the newer value wins
    equal.write_text((FOLDER / MZJ.file).read_text(encoding="utf-8").replace("priority = 50", "priority = 100"),
                     encoding="utf-8")
    mzj = load_adapter(equal)
    assert mzj.priority == GAJ.config.priority
    _run_both(sessions, settings, GAJ.config, mzj)
    assert all(report.consistent for report in _checks(sessions, settings, GAJ.config, mzj).values())
    [moved, *_] = _shared_keys(two_sources, sessions, "WHERE JZDZ IS NOT NULL")
    with sessions() as session:  # 民政局's address, sent last, is the one kept
        gaj = session.scalar(select(Department.id).where(Department.code == "gaj"))
        kept = session.scalar(select(CoreRecord).where(CoreRecord.record_key == moved,
                                                       CoreRecord.effective_to.is_(None)))
        assert (kept.field_sources or {}).get("residenceAddress", kept.source_id) != gaj
    _change_source(two_sources[GAJ.file], "UPDATE HJ_RKXX SET JZDZ = '临江市新址路2号' WHERE GMSFHM = ?", moved)
    checks = _checks(sessions, settings, GAJ.config, mzj)
    assert (checks["gaj-household"].differing, checks["gaj-household"].examples["differing"]) == (1, [moved])
    assert checks["mzj-marriage"].consistent


# -- MariaDB ---------------------------------------------------------------------------------------

def test_the_enterprise_register_on_mariadb_ends_as_its_manifest_says(mariadb_url, sessions, settings, monkeypatch,
                                                                     reading):
    manifest = market_regulation.generate_enterprise_registry(mariadb_url, 1000, seed=5)
    monkeypatch.setenv(SCJGJ.variable, mariadb_url)
    publish(sessions, settings, SCJGJ)
    assert_runs_end_as_the_manifest_says(sessions, settings, SCJGJ, manifest)


# -- govshare demo seed ----------------------------------------------------------------------------

def test_seeding_generates_each_missing_source_runs_each_adapter_and_leaves_sources_alone_the_second_time(
        sessions, settings, tmp_path, monkeypatch):
    for adapter in (GAJ, MZJ, SCJGJ, PARCELS):
        monkeypatch.setenv(adapter.variable, f"sqlite:///{tmp_path / adapter.department}.db")
    monkeypatch.setenv(TJJ.variable, str(tmp_path / "tjj.xlsx"))
    publish(sessions, settings, GAJ, MZJ, SCJGJ, TJJ, PARCELS, POINTS)
    operator = Context(Caller.platform("cli"), sessions, settings)
    first = seed_sources(operator, scale=0.1, echo=lambda line: None)
    assert list(first) == [s.adapter for s in DEMO_SOURCES]
    assert all("generated" in line and "succeeded" in line for line in first.values()), first
    again = seed_sources(operator, scale=0.1, echo=lambda line: None)
    assert all("generated" not in line and "succeeded" in line for line in again.values()), again
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.status == "succeeded")) == 12
        runs = session.execute(select(AuditEntry.channel, AuditEntry.result).where(AuditEntry.operation == "sync.run"))
        assert Counter(runs) == {("cli", "ok"): 12}  # each run an action of its own, as the seed's caller


def test_a_source_that_cannot_be_generated_is_reported_and_its_failed_run_listed(sessions, settings, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setenv(GAJ.variable, f"sqlite:///{tmp_path}/no-such-folder/gaj.db")
    monkeypatch.setattr(pipeline, "BACKOFF", 0.0)
    publish(sessions, settings, GAJ)
    operator = Context(Caller.platform("cli"), sessions, settings)
    outcome = seed_sources(operator, scale=0.01, echo=lambda line: None)["gaj-household"]
    assert outcome.startswith("not generated: OperationalError") and "failed: SourceError" in outcome
    [failed] = [run for run in monitoring.overview(operator).failed if run.adapter == "gaj-household"]
    assert "the source failed 3 times" in failed.message
