"""Model and dataset paths a client sends must lie under the configured roots.

Escapes tried: an absolute path elsewhere (/etc, /tmp/x), '..' out of a root, a project-relative
path outside models/, a root's sibling whose name starts like the root, and a symlink inside a
root that leads out of it.
"""

from __future__ import annotations

import os

import pytest

from configs.path_roots import PathNotAllowedError, confine, dataset_roots, model_roots
from configs.settings import PROJECT_ROOT, AppConfig


@pytest.fixture
def config(tmp_path):
    return AppConfig.model_validate(
        {
            "output": {"dir": str(tmp_path / "runs")},
            "model": {"allowed_roots": [str(tmp_path / "hub")]},
            "data": {"allowed_roots": [str(tmp_path / "data")]},
        }
    )


def test_project_models_output_and_configured_roots_are_allowed(config, tmp_path):
    roots = model_roots(config)
    shipped = confine("models/qwen2.5-coder-0.5b-tools", roots, "model_path", "model.allowed_roots")
    assert shipped == (PROJECT_ROOT / "models" / "qwen2.5-coder-0.5b-tools").resolve()
    adapter = tmp_path / "runs" / "job-1" / "adapter"
    assert confine(str(adapter), roots, "model_path", "s") == adapter
    assert confine(str(tmp_path / "hub" / "qwen"), roots, "model_path", "s").name == "qwen"
    rows = tmp_path / "data" / "rows.jsonl"
    assert confine(str(rows), dataset_roots(config), "dataset_path", "s") == rows


@pytest.mark.parametrize(
    "path",
    [
        "/etc",
        "/tmp/elsewhere/model",
        "models/../configs",
        "configs",
        "{tmp}/hub/../secret",
        "{tmp}/hub-sibling/model",
    ],
)
def test_paths_outside_every_root_are_refused_naming_the_roots(config, tmp_path, path):
    path = path.format(tmp=tmp_path)
    with pytest.raises(PathNotAllowedError, match="model.allowed_roots") as refused:
        confine(path, model_roots(config), "model_path", "model.allowed_roots")
    assert str(tmp_path / "hub") in str(refused.value)


def test_a_symlink_inside_a_root_that_leads_out_is_refused(config, tmp_path):
    (tmp_path / "hub").mkdir()
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", tmp_path / "hub" / "link")
    with pytest.raises(PathNotAllowedError):
        confine(str(tmp_path / "hub" / "link"), model_roots(config), "model_path", "s")


def test_model_roots_do_not_admit_datasets(config, tmp_path):
    with pytest.raises(PathNotAllowedError, match="data.allowed_roots"):
        confine(str(tmp_path / "hub" / "x.jsonl"), dataset_roots(config), "d", "data.allowed_roots")
