"""The runtime environment the pipeline relies on: one headless OpenCV, telemetry off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import cv2
import numpy as np
import pytest

from .conftest import REPO_ROOT


def test_cv2_is_one_headless_build_that_decodes() -> None:
    # insightface depends on the GUI build (opencv-python) and fast-alpr on the headless one;
    # both unpack into the same cv2/ folder and silently overwrite each other's files.
    owners = sorted(
        {
            dist.metadata["Name"]
            for dist in metadata.distributions()
            if any(str(f).startswith("cv2/") for f in dist.files or ())
        }
    )
    assert owners == ["opencv-python-headless"]
    build = cv2.getBuildInformation()
    gui = [line.split(":", 1)[1].strip() for line in build.splitlines() if line.strip().startswith("GUI:")]
    assert gui == ["NONE"]
    assert metadata.version("opencv-python-headless").startswith(cv2.__version__)
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert decoded is not None and np.array_equal(decoded, image)


@pytest.mark.parametrize(
    "module", ["matcher.faces", "matcher.plates.reader", "matcher.server", "matcher.cli"]
)
def test_telemetry_is_disabled_before_onnxruntime_is_imported(module: str) -> None:
    """In a fresh interpreter, record the variable at the instant onnxruntime is first imported,
    whichever of the project's entry points loads it (CI sets CI=true, which would hide it)."""
    probe = f"""
import importlib.abc, json, os, sys
seen = {{}}
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "onnxruntime" and name not in seen:
            seen[name] = os.environ.get("ORT_DISABLE_TELEMETRY")
        return None
sys.meta_path.insert(0, Spy())
import {module}
import onnxruntime
print(json.dumps(seen))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "CI")}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"onnxruntime": "1"}
