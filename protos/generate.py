"""Regenerates the Python gRPC code in matcher/v1 from protos/matcher/v1/*.proto.

The generated modules are checked in so that a fresh install needs no code generation step;
tests/test_contract.py regenerates them into a temporary folder and fails when the checked-in
copies differ, so they are never edited by hand and never drift from the contract.

Usage: python protos/generate.py [OUTPUT_ROOT]   (default: the repository root)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent


def _mypy_grpc_plugin() -> str:
    """mypy-protobuf's protoc-gen-mypy_grpc (the dev extra), which writes the typed `_pb2_grpc.pyi`:
    found next to this interpreter first, so that it works from a venv that is not on PATH."""
    name = "protoc-gen-mypy_grpc"
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install the dev extra (mypy-protobuf)")
    return found


def generate(output_root: Path) -> list[Path]:
    """Runs protoc on every matcher/v1 proto; returns the files written."""
    protos = sorted((PROTO_ROOT / "matcher" / "v1").glob("*.proto"))
    out = output_root / "matcher" / "v1"
    out.mkdir(parents=True, exist_ok=True)
    include = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={output_root}",
        f"--pyi_out={output_root}",
        f"--grpc_python_out={output_root}",
        f"--plugin=protoc-gen-mypy_grpc={_mypy_grpc_plugin()}",
        f"--mypy_grpc_out={output_root}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    init = out / "__init__.py"
    init.write_text('"""Generated gRPC code for the matcher.v1 contract: do not edit."""\n')
    return sorted(out.glob("*.py*"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT
    for path in generate(target):
        print(path)
