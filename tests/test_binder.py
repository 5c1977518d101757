"""binder/ 的配置与 requirements.txt 保持一致：同样的包、同样的版本，只有 torch 换成 CPU 版。"""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path):
    """Return ({package: version}, [option lines]) of a requirements file; fail on any unpinned line."""
    pins, options = {}, []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: not an exact pin: {line!r}"
        name = _normalize(match.group(1))
        assert name not in pins, f"{path.name}: {name} listed twice"
        pins[name] = match.group(2)
    return pins, options


@pytest.fixture(scope="module")
def pins():
    return read_pins(ROOT / "requirements.txt")[0]


@pytest.fixture(scope="module")
def binder():
    return read_pins(ROOT / "binder" / "requirements.txt")


def test_requirements_pin_torch_2_13_0(pins):
    assert pins["torch"] == "2.13.0"
    assert "optimlab" not in pins  # installed with pip install -e ., never from a registry


def test_binder_has_the_same_packages(pins, binder):
    assert set(binder[0]) == set(pins)


def test_binder_has_the_same_versions_with_cpu_torch(pins, binder):
    differ = {name: (pins[name], version) for name, version in binder[0].items() if version != pins[name]}
    assert differ == {"torch": ("2.13.0", "2.13.0+cpu")}


def test_binder_takes_torch_from_the_cpu_index(binder):
    assert binder[1] == ["--extra-index-url https://download.pytorch.org/whl/cpu"]


def test_binder_python_matches_the_pinned_environment():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}"


def test_binder_installs_cjk_fonts_and_optimlab():
    apt = (ROOT / "binder" / "apt.txt").read_text().split()
    assert "fonts-noto-cjk" in apt
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    assert "pip install --no-deps -e ." in post_build.read_text()
