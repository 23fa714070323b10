"""Entry-point plugins: a small package "installed" (a dist-info folder on sys.path) registers a model family
and a substitute, and a fresh process sees both (a study worker is such a process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = '''
from torch import nn

from budgetsearch.models import ModelFamily, register_model
from budgetsearch.substitutes import Substitute, register_substitute
from budgetsearch.substitutes.conv import dense_conv


def _build(width, num_classes, conv):
    return nn.Sequential(conv(3, width, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, num_classes))


register_model(ModelFamily(pattern=r"plugnet-(\\d+)", example="plugnet-8", build=_build, input_size=(3, 8, 8),
                           num_classes=5, summary="a plugin's family"))
register_substitute(Substitute(name="plug-dense", build=dense_conv, hyperparameter=None,
                               original_name="PlugDense", summary="a plugin's substitute"))
'''


def _install(site: Path, broken: bool = False) -> None:
    (site / "bsplugin_demo.py").write_text("raise ImportError('half-installed')\n" if broken else PLUGIN)
    info = site / "bsplugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bsplugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[budgetsearch.models]\nplugnet = bsplugin_demo\n\n"
                                           "[budgetsearch.substitutes]\nplug-dense = bsplugin_demo\n")


def _run(site: Path, *argv: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[1]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(site), str(root)])}
    return subprocess.run([sys.executable, str(root / "cli.py"), *argv], env=env, capture_output=True, text=True,
                          cwd=site, timeout=120)


def test_an_installed_plugin_registers_its_family_and_substitute(tmp_path):
    _install(tmp_path)
    done = _run(tmp_path, "count", "--model", "plugnet-8", "--substitute", "plug-dense", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["params"] == (3 * 8 * 9 + 8) + (8 * 5 + 5) and result["substitute"] == "plug-dense"


def test_a_plugin_that_fails_to_load_is_named(tmp_path):
    _install(tmp_path, broken=True)
    done = _run(tmp_path, "count", "--model", "wrn-10-1")
    assert done.returncode == 2
    assert "plugin 'plugnet' (budgetsearch.models = 'bsplugin_demo') failed to load: ImportError: half-installed" \
        in done.stderr
