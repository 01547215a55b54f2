"""The wheel as an operator installs it: built, installed into a venv of its own, run outside the source tree."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from tests.service.test_cli import env_for, free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
#: What a source distribution holds; copied so that the build sees no stale build/ or egg-info of a checkout.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "service", "forms", "signing", "migrations")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the built wheel; the dependencies come from the test's own environment.

    A ``.pth`` line adds the test environment's site-packages after the venv's own: plain path
    lines do not run the ``.pth`` files found there, so the checkout's editable install stays out.
    """
    base = tmp_path_factory.mktemp("package")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", base / "dist", source], check=True)
    (wheel,) = (base / "dist").glob("shinsei-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    subprocess.run([*pip, "--python", venv / "bin" / "python", "install", "--no-deps", wheel], check=True)
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def run_installed(venv: Path, cwd: Path, *args: str, dsn: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv / "bin" / "shinsei", *args], cwd=cwd, env=env_for(dsn), capture_output=True, text=True, timeout=120
    )


def test_the_wheel_migrates_an_empty_database(installed: Path, empty_db: str, tmp_path: Path) -> None:
    where = subprocess.run(
        [installed / "bin" / "python", "-c", "import service, service.migrations as m; print(service.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(installed), "the checkout was imported, not the wheel"
    shipped = sorted(p.stem for p in (ROOT / "migrations").glob("*.sql"))

    upgraded = run_installed(installed, tmp_path, "db", "upgrade", dsn=empty_db)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines() == [f"applied {name}" for name in shipped]
    status = run_installed(installed, tmp_path, "db", "status", dsn=empty_db)
    assert status.returncode == 0, status.stderr
    assert [line.split()[:2] for line in status.stdout.splitlines()] == [["applied", name] for name in shipped]


def test_the_wheel_serves_its_samples(installed: Path, db: str, tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [installed / "bin" / "shinsei", "serve", "--port", str(port), "--load-samples"],
        cwd=tmp_path, env=env_for(db, SHINSEI_DATA_DIR=str(tmp_path / "state")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, process)
    try:
        assert len(httpx.get(base + "/api/v1/forms").json()["items"]) == len(
            list((ROOT / "service/samples/forms").iterdir())
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0
