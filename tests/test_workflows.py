"""The GitHub workflows (.github/workflows/): actionlint finds nothing, CI runs the README's test command,
Pages builds the site and the PDF and deploys them with the official actions, and the README's badge and
site address follow ``repository.url`` in ``_config.yml``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
README = (ROOT / "README.md").read_text(encoding="utf-8")

sys.path.insert(0, str(ROOT / "tools"))
from make_pdf import load_config, site_url  # noqa: E402


def workflow(name):
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def steps(flow):
    return [step for job in flow["jobs"].values() for step in job.get("steps", [])]


def uses(flow):
    return {step["uses"].split("@")[0] for step in steps(flow) if "uses" in step}


def test_actionlint_finds_nothing():
    actionlint = Path(sys.executable).with_name("actionlint")
    actionlint = str(actionlint) if actionlint.exists() else shutil.which("actionlint")
    assert actionlint, "actionlint is not installed (requirements.txt pins it)"
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"ci.yml", "pages.yml"}
    out = subprocess.run([actionlint, "-no-color", *map(str, files)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "", out.stdout + out.stderr


def test_ci_runs_the_readme_test_command():
    command = re.search(r"^(make test)\b", README, re.M)
    assert command, "the README names no test command"
    flow = workflow("ci.yml")
    job = next(iter(flow["jobs"].values()))
    assert job["runs-on"] == "ubuntu-latest"
    runs = [step.get("run", "") for step in steps(flow)]
    assert any(re.match(rf"{command.group(1)}\b", run.strip()) for run in runs), runs
    python = next(step["with"] for step in steps(flow) if step.get("uses", "").startswith("actions/setup-python@"))
    assert str(python["python-version"]) == "3.11" and python["cache"] == "pip"
    assert python["cache-dependency-path"] == "requirements.txt"
    node = next(step["with"] for step in steps(flow) if step.get("uses", "").startswith("actions/setup-node@"))
    assert node["cache"] == "npm"
    # 系统包：测试读 PDF 要 poppler-utils，图和 PDF 里的中文要 fonts-noto-cjk（与 .ci/run 相同）
    apt = " ".join(run for run in runs if "apt-get install" in run)
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for package in ("fonts-noto-cjk", "poppler-utils"):
        assert package in apt and package in ci_run, package


def test_pages_builds_the_site_and_the_pdf_and_deploys_them():
    flow = workflow("pages.yml")
    on = flow.get("on", flow.get(True))  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    assert flow["permissions"]["pages"] == "write" and flow["permissions"]["id-token"] == "write"
    assert flow["concurrency"]["group"]
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= uses(flow)
    runs = " ".join(step.get("run", "") for step in steps(flow))
    assert re.search(r"make book pdf\b", runs), runs
    artifact = next(s["with"] for s in steps(flow) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert artifact["path"] == "_build/html"


def test_readme_badge_and_site_follow_the_repository_setting():
    config = load_config()
    repo = config["repository"]["url"].rstrip("/")
    site = site_url(config)
    assert f"[![CI]({repo}/actions/workflows/ci.yml/badge.svg)]({repo}/actions/workflows/ci.yml)" in README
    assert site in README
    # 不留别的仓库或站点地址：改 repository.url 时 README 里的地址都要跟着改
    others = {u for u in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", README) if u != repo}
    assert others == set(), others
    assert set(re.findall(r"https://[\w-]+\.github\.io/[\w.-]*/?", README)) == {site}
    assert "Settings → Pages" in README and "GitHub Actions" in README
