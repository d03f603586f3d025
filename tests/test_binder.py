"""Binder: repo2docker accepts ``binder/``; a simulated Binder (a clean venv, then what
repo2docker does: ``binder/requirements.txt``, ``binder/postBuild``, ``binder/start``) runs a
tutorial notebook, and its Temporal Web UI answers through jupyter-server-proxy in a real Jupyter
server, checked in Chromium (the screenshot is kept in ``docs/screenshots/``).

Slow (a clean install of the workbench, JupyterLab and the dev server, from pip's cache): a few
minutes. Kept apart from the other tests for that reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from demo_process import _demo_port_block, wait_port_free
from rig import free_port

REPO = Path(__file__).resolve().parent.parent
BINDER_NOTEBOOK = "00-start-here.ipynb"
"""The notebook the simulation executes; 00-start-here.ipynb once the panels are merged."""
SCREENSHOT = REPO / "docs" / "screenshots" / "binder-web-ui.png"

pytestmark = pytest.mark.timeout(900)


@dataclass
class Binder:
    repo: Path
    venv: Path
    env: dict[str, str]
    data: Path

    def start(self, *command: str, extra_env: dict[str, str]) -> subprocess.Popen[str]:
        """``binder/start <command>`` in a session of its own (killed as a group at the end)."""
        return subprocess.Popen(
            ["binder/start", *command],
            cwd=self.repo,
            env={**self.env, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def _run(cmd: list[str], **kwargs: object) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    assert res.returncode == 0, f"{cmd} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"


def _copy_repo(target: Path) -> None:
    """The repository's files as a clone has them (tracked and new, not ignored)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory) -> Binder:
    root = tmp_path_factory.mktemp("binder")
    repo, venv, home = root / "repo", root / "venv", root / "home"
    _copy_repo(repo)
    home.mkdir()
    _run([sys.executable, "-m", "venv", str(venv)])
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CACHE_DIR"):
        if key in os.environ:  # the machine's package mirror, not the user's settings
            env[key] = os.environ[key]
    _run(["pip", "install", "--quiet", "-r", "binder/requirements.txt"], cwd=repo, env=env)
    _run(["binder/postBuild"], cwd=repo, env=env)
    return Binder(repo, venv, env, root / "demo-data")


def _stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM the session ``binder/start`` began (the demo in the background, and the command)."""
    with _suppress_lookup():
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        with _suppress_lookup():
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    # The demo (same session) stops its dev server on SIGTERM; give it the time it takes.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    return out or ""


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return exc_type is ProcessLookupError


def test_repo2docker_accepts_the_binder_folder(tmp_path: Path) -> None:
    venv = tmp_path / "r2d"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "--quiet", "jupyter-repo2docker"])
    res = subprocess.run(
        [str(venv / "bin" / "repo2docker"), "--no-build", "--no-run", str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    # The Dockerfile it would build: our requirements, our postBuild, our start, Python 3.11.
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in out
    assert "RUN ./binder/postBuild" in out
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in out
    assert "python=3.11" in out


def test_binder_start_serves_the_demo_to_a_notebook(binder: Binder, tmp_path: Path) -> None:
    port = _demo_port_block()
    executed = tmp_path / "executed.ipynb"
    proc = binder.start(
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--ExecutePreprocessor.timeout=300",
        "--output",
        str(executed),
        f"notebooks/{BINDER_NOTEBOOK}",
        extra_env={"WORKBENCH_DEMO_PORT": str(port), "WORKBENCH_DEMO_DATA": str(binder.data)},
    )
    try:
        proc.wait(600)
    finally:
        out = _stop(proc)
    wait_port_free(port)
    assert proc.returncode == 0, out
    nb = nbformat.read(executed, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    # Notebook 0 ends with the panels: the last code cell shows the Workbench widget.
    shown = [c for c in nb.cells if c.cell_type == "code" and c.source.strip() == "wb"]
    assert shown, "notebook 0 no longer ends with `wb`"
    views = [
        o
        for o in shown[0].outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert views, shown[0].outputs
    assert "Seeded in" in (binder.data / "demo.log").read_text()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except OSError:
        return 0


def test_web_ui_answers_through_jupyter_server_proxy(binder: Binder) -> None:
    from playwright.sync_api import sync_playwright

    port, lab_port, token = _demo_port_block(), free_port(), "binder-test-token"
    prefix = "/user/demo/"
    cmd = [
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={lab_port}",
        f"--ServerApp.base_url={prefix}",
        f"--IdentityProvider.token={token}",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = binder.start(
        *cmd,
        extra_env={
            "WORKBENCH_DEMO_PORT": str(port),
            "WORKBENCH_DEMO_DATA": str(binder.data),
            "JUPYTERHUB_SERVICE_PREFIX": prefix,
        },
    )
    base = f"http://127.0.0.1:{lab_port}{prefix}"
    ui = f"{base}proxy/absolute/{port + 1000}/namespaces/default/workflows"
    try:
        deadline = time.monotonic() + 180
        while _get(f"{ui}?token={token}") != 200:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the Web UI never answered through the proxy"
            time.sleep(1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{base}lab?token={token}")  # logs in: the proxy wants the cookie
                page.goto(ui)
                page.get_by_text("OrderWorkflow").first.wait_for(timeout=120_000)
                assert page.url.startswith(f"{base}proxy/absolute/{port + 1000}/")
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT))
                assert page.get_by_text("order-").count() > 0
            finally:
                browser.close()
    finally:
        _stop(proc)
    wait_port_free(port)
