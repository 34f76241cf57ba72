"""Command line of the federation benchmark; see ``bench.federation``."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.directory.report import machine, report
from bench.processes import end
from directory import federation
from directory.accounts import create_user, register_department
from directory.catalogue import workflow
from directory.demo import credit_code_for
from governance import onboarding
from registry.db import unit_of_work
from registry.models import CatalogueEntry, Department, User
from trust import pki
from trust.auth import Caller

from .platforms import Platform, fill

ROOT = Path(__file__).resolve().parents[2]


def _held(city: Platform) -> set[str]:
    with unit_of_work(city.sessions) as session:
        return set(session.scalars(select(CatalogueEntry.origin_code).where(CatalogueEntry.origin_code.is_not(None))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.federation")
    p.add_argument("--entries", type=int, default=10_000)
    p.add_argument("--publishes", type=int, default=10)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="govshare-bench-federation-") as folder:
        root = Path(folder)
        city = Platform(root, "city")
        pki.init_ca(city.settings)
        filed = onboarding.apply(city.context(), code="lhq", name="临江市临湖区人民政府",
                                 credit_code=credit_code_for("00260100"), division_code="330102",
                                 connection_mode="catalogue_node", contact_name="王晓明", contact_phone="0571-87001234")
        onboarding.approve(city.context(), application_id=filed.id)
        with unit_of_work(city.sessions) as session:
            node = session.scalar(select(Department).where(Department.code == "lhq"))
            issued = pki.issue(session, city.settings, node)
            (root / "lhq.key").write_bytes(issued.key_pem())
            (root / "lhq.pem").write_bytes(issued.cert_pem())
        district = Platform(root, "district", GOVSHARE_UPPER_URL=city.url, GOVSHARE_UPPER_KEY=str(root / "lhq.key"),
                            GOVSHARE_UPPER_CERT=str(root / "lhq.pem"),
                            GOVSHARE_UPPER_CA=str(city.folder / "pki/ca.pem"))
        with unit_of_work(district.sessions) as session:
            wjw = register_department(session, district.settings, code="wjw", name="临湖区卫生健康局",
                                      credit_code=credit_code_for("00260101"))
            create_user(session, username="li.na", password="Secret-123", department=wjw, roles=("cataloguer",))
            create_user(session, username="shen.li", password="Secret-123", department=None, roles=("reviewer",))
        fill(district.sessions, args.entries)
        city.start()
        try:
            started = time.perf_counter()
            documents, _ = federation.outgoing(district.context())
            baseline = time.perf_counter() - started
            assert len(documents) == args.entries
            reconcile, printed = district.command("federation", "reconcile")
            held = len(_held(city))
            in_step, printed_again = district.command("federation", "reconcile")
            district.start()
            visible = []
            with unit_of_work(district.sessions) as session:
                users = {u.username: Caller.of_user(u, "cli") for u in session.scalars(select(User))}
            for n in range(args.publishes):
                data = {"classification": "101003", "name": f"临湖区死亡医学证明信息 {n}",
                        "abstract": "死亡医学证明签发信息。",
                        "format_class": "接口", "format_type": "WebService", "sharing_type": "无条件共享",
                        "sharing_method": "接口", "open_to_public": False, "update_cycle": "每日",
                        "items": [{"name": "姓名", "data_type": "C", "length": 50}],
                        "access_point": "http://10.20.1.5/death/service"}
                code = workflow.create(district.context(users["li.na"]), metadata=data).resource_code
                workflow.submit(district.context(users["li.na"]), resource_code=code)
                workflow.approve(district.context(users["shen.li"]), resource_code=code)
                workflow.publish(district.context(users["shen.li"]), resource_code=code)
                published = time.perf_counter()
                while code not in _held(city):
                    if time.perf_counter() - published > 60:
                        raise SystemExit(f"{code} not at the city after 60 s")
                    time.sleep(0.05)
                visible.append(time.perf_counter() - published)
            with unit_of_work(city.sessions) as session:
                total = session.scalar(select(func.count()).select_from(CatalogueEntry))
        finally:
            if district.process is not None:
                end(district.process)
            end(city.process)
    result = {
        "machine": machine(None), "entries": args.entries, "baseline_s": round(baseline, 2),
        "reconcile_s": round(reconcile, 2), "reconcile_vs_baseline": round(reconcile / baseline, 1),
        "entries_per_s": round(args.entries / reconcile), "held_at_city": held, "reconcile_printed": printed,
        "in_step_s": round(in_step, 2), "in_step_printed": printed_again,
        "visible_s": {"median": round(statistics.median(visible), 2), "max": round(max(visible), 2),
                      "each": [round(v, 2) for v in visible]},
        "city_entries_after": total,
        "targets": {"reconcile_s_at_10000": 60, "visible_s": 5},
    }
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
