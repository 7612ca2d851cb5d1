"""pytest fixtures for the weights tests (load with `pytest_plugins = ["_hubserver"]`).

`hub` runs a loopback `HubServer`; `wenv` isolates the weights layer: its own FACEFILL_HOME, its own
registry toml, huggingface_hub pointed at the loopback server and never at the real Hub.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hub_server import HubServer, write_registry


@pytest.fixture
def hub():
    server = HubServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def wenv(tmp_path, monkeypatch, hub):
    """An isolated weights environment: own cache, own registry path, Hub endpoint on loopback."""
    import huggingface_hub.constants as hf_constants

    from facefill.runtime.context import RunContext
    from facefill.weights import download, registry

    home = tmp_path / "home"
    monkeypatch.setenv("FACEFILL_HOME", str(home))
    monkeypatch.setenv("FACEFILL_WEIGHTS_TOML", str(tmp_path / "registry.toml"))
    monkeypatch.setenv("HF_ENDPOINT", hub.base)
    for var in ("HF_HUB_OFFLINE", "FACEFILL_OFFLINE", "FACEFILL_WEIGHTS_DIR", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    # huggingface_hub reads these at import: patch this process, set the env for child processes.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "ENDPOINT", hub.base)
    template = hub.base + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(hf_constants, "AGENT_HARNESSES_PATH", str(tmp_path / "hf-home" / "agents.json"))
    monkeypatch.setattr(download, "RETRY_BACKOFF_S", 0.0)
    registry.clear_cache()

    class Env:
        root = tmp_path
        server = hub
        ctx = RunContext(progress=False)  # online; tests derive offline / require-hash variants

        def registry(self, items: list[dict]) -> Path:
            registry.clear_cache()
            return write_registry(tmp_path / "registry.toml", items)

    yield Env()
    registry.clear_cache()
