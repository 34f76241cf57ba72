"""Resource codes (资源代码 = 分类码/顺序码): generated, sequential within a class, unique."""

from __future__ import annotations

import threading

import pytest
import stdnum.cn.uscc
from sqlalchemy import func, select

from directory.accounts import create_user, register_department
from directory.catalogue import codes, workflow
from registry.db import unit_of_work
from registry.models import CatalogueEntry
from tests.conftest import as_user


def credit_code(n: int) -> str:
    body = f"113301000{n:08d}"
    return body + stdnum.cn.uscc.calc_check_digit(body)


def metadata(classification: str = "101002", name: str = "出生医学证明信息") -> dict:
    return {
        "classification": classification, "name": name, "abstract": "出生医学证明签发信息。",
        "format_class": "数据库", "format_type": "oracle",
        "items": [{"name": "新生儿姓名", "data_type": "C", "length": 50}],
        "sharing_type": "无条件共享", "sharing_method": "接口", "open_to_public": False, "update_cycle": "每日",
    }


@pytest.fixture
def cataloguer(sessions, settings):
    """``create(metadata)``: the 资源代码 of a new entry catalogued by li.na of 市卫生健康委员会."""
    with unit_of_work(sessions) as s:
        dept = register_department(s, settings, code="wsjw", name="市卫生健康委员会", credit_code=credit_code(1))
        create_user(s, username="li.na", password="pw", department=dept, roles=("cataloguer",))

    def create(data: dict) -> str:
        return workflow.create(as_user(sessions, settings, "li.na"), metadata=data).resource_code

    return create


def test_code_is_class_code_slash_six_digit_sequence():
    assert codes.format_code("101002", 23) == "101002/000023"
    assert codes.parse_code("101002/000023") == ("101002", 23)


@pytest.mark.parametrize("bad", ["101002", "101002/23", "1010/000001", "101002/000000", "x101/000001", ""])
def test_malformed_code_is_refused_with_the_expected_form(bad):
    with pytest.raises(ValueError, match="分类码/顺序码"):
        codes.parse_code(bad)


def test_first_resource_of_a_class_gets_sequence_one(sessions, cataloguer):
    assert cataloguer(metadata()) == "101002/000001"


def test_codes_are_sequential_within_a_class(sessions, cataloguer):
    made = [cataloguer(metadata(name=f"资源{n}")) for n in range(3)]
    assert made == ["101002/000001", "101002/000002", "101002/000003"]


def test_each_class_has_its_own_sequence(sessions, cataloguer):
    cataloguer(metadata("101002"))
    assert cataloguer(metadata("202001")) == "202001/000001"
    assert cataloguer(metadata("101002")) == "101002/000002"


def test_a_clash_with_a_taken_sequence_is_retried(sessions, cataloguer, monkeypatch):
    cataloguer(metadata())
    real = codes.next_sequence
    stale = iter([1])  # what a concurrent creator that had not yet seen sequence 1 would read
    monkeypatch.setattr(codes, "next_sequence", lambda session, class_code: next(stale, None) or real(session,
                                                                                                        class_code))
    assert cataloguer(metadata()) == "101002/000002"


def test_an_action_failing_after_the_insert_removes_the_new_entry(sessions, cataloguer, monkeypatch):
    # On SQLite a savepoint opened first would commit on release; the action's rollback must still win.
    def fail(*_args, **_kwargs):
        raise RuntimeError("after the insert")

    monkeypatch.setattr(workflow, "_record", fail)
    with pytest.raises(RuntimeError, match="after the insert"):
        cataloguer(metadata())
    with unit_of_work(sessions) as s:
        assert s.scalar(select(func.count()).select_from(CatalogueEntry)) == 0


def test_concurrent_creation_gives_unique_sequential_codes(sessions, cataloguer):
    workers, each = 4, 5
    made: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(n: int) -> None:
        start.wait()
        try:
            for i in range(each):
                made.append(cataloguer(metadata(name=f"资源{n}-{i}")))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(made) == [codes.format_code("101002", n) for n in range(1, workers * each + 1)]
