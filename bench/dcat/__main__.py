"""Command line of the DCAT-AP harvest benchmark; see ``bench.dcat``."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import update

from bench.directory.report import machine, report
from bench.federation.platforms import Platform, fill
from bench.processes import end
from directory.accounts import register_department
from directory.demo import credit_code_for
from registry.db import unit_of_work
from registry.models import CatalogueEntry

DOCUMENTS = ("dcat.ttl", "dcat.jsonld")


def _walk(url: str, tags: dict[int, str] | None = None) -> tuple[list[float], int, dict[int, str]]:
    """Every page of the file at ``url`` (with ``tags``: revalidated, each must be 304); the seconds of
    each page, the bytes, and each page's ETag."""
    seconds, size, found, page = [], 0, {}, 1
    with requests.Session() as http:
        while not tags or page in tags:
            headers = {"If-None-Match": tags[page]} if tags else {}
            started = time.perf_counter()
            r = http.get(url, params={"page": page}, headers=headers, timeout=300)
            seconds.append(time.perf_counter() - started)
            if r.status_code == 404 and page > 1:
                seconds.pop()
                return seconds, size, found
            assert r.status_code == (304 if tags else 200), (page, r.status_code, r.text[:300])
            size += len(r.content)
            found[page] = r.headers["ETag"]
            page += 1
    return seconds, size, found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dcat")
    p.add_argument("--entries", type=int, default=10_000)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="govshare-bench-dcat-") as folder:
        city = Platform(Path(folder), "city", GOVSHARE_AUDIT="1")
        with unit_of_work(city.sessions) as session:
            register_department(session, city.settings, code="wjw", name="临江市卫生健康委员会",
                                credit_code=credit_code_for("00250109"))
        fill(city.sessions, args.entries)
        with unit_of_work(city.sessions) as session:
            session.execute(update(CatalogueEntry).values(open_to_public=True, open_condition="无条件开放",
                                                          sharing_type="无条件共享", sharing_condition=""))
        city.start()
        result: dict = {"machine": machine(None), "entries": args.entries}
        try:
            for document in DOCUMENTS:
                url = f"{city.url}/catalogue/{document}"
                walk, size, tags = _walk(url)
                again, _, _ = _walk(url, tags)
                baseline = statistics.median(again)
                result[document] = {
                    "pages": len(walk), "walk_s": round(sum(walk), 1), "slowest_page_s": round(max(walk), 2),
                    "page_median_s": round(statistics.median(walk), 2), "mbytes": round(size / 1e6, 1),
                    "baseline_304_median_s": round(baseline, 3), "revalidate_walk_s": round(sum(again), 2),
                    "page_vs_304": round(statistics.median(walk) / baseline, 1),
                }
        finally:
            end(city.process)
    report(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
