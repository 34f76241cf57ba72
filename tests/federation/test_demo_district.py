"""The demo's district (``make demo``): 临湖区's platform seeded beside the city's and registered at it
as a catalogue node; served with the settings the seed wrote, its published catalogue reaches the
city's, the withdrawn entry withdrawn there too.  Seeding twice adds nothing."""

from __future__ import annotations

import subprocess
import sys

import requests
from sqlalchemy import func, select

from adapters.demo.district import CATALOGUE, NODE, seed_district
from bench.federation.platforms import ROOT, Platform
from registry.db import unit_of_work
from registry.models import CatalogueEntry, Department
from trust import pki

from ..conftest import free_port
from .test_catalogue_federation import _city_entries, _wait


def _settings_of(env_file) -> dict[str, str]:
    lines = env_file.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_demo_district_federates_its_catalogue_into_the_city(tmp_path):
    city = Platform(tmp_path, "city")
    pki.init_ca(city.settings)
    env_file = seed_district(city.context(), echo=lambda line: None)
    assert env_file == city.folder / "demo" / "district" / "district.env"
    assert seed_district(city.context(), echo=lambda line: None) == env_file  # again: nothing new
    settings = _settings_of(env_file)
    assert settings["GOVSHARE_UPPER_URL"] == city.url
    with unit_of_work(city.sessions) as session:
        node = session.scalar(select(Department).where(Department.code == NODE["code"]))
        assert node.connection_mode == "catalogue_node" and node.status == "active"

    city.start()
    environment = {**city.env, **settings, "GOVSHARE_PORT": str(free_port())}
    log = (tmp_path / "district.log").open("w")
    district = subprocess.Popen([sys.executable, "-m", "server", "serve", "--no-scheduler"], cwd=ROOT,
                                env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: len(_city_entries(city)) == len(CATALOGUE), "the district's catalogue at the city", 60)
        ready = requests.get(f"http://127.0.0.1:{environment['GOVSHARE_PORT']}/ready", timeout=10)
        assert ready.status_code == 200, ready.text  # its own CA: the district is ready, not only serving
        assert "临湖区" in ready.json()["checks"]["ca"]["subject"]
        entries = _city_entries(city)
        assert sorted(e.status for e in entries.values()) == ["published"] * (len(CATALOGUE) - 1) + ["withdrawn"]
        assert {e.name for e in entries.values()} == {metadata["name"] for _user, metadata in CATALOGUE}
        assert {e.origin_provider for e in entries.values()} == {"临湖区卫生健康局", "临湖区民政局"}
    finally:
        district.terminate()
        district.wait(timeout=30)
        city.stop()
    with unit_of_work(city.sessions) as session:
        assert session.scalar(select(func.count()).select_from(CatalogueEntry)) == len(CATALOGUE)
