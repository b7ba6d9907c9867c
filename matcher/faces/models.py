"""Model packs: the manifest, installing a pack from a local directory, and finding it at start.

Models are never downloaded by the service: the operator copies a pack's files from wherever
they obtained them (``matcher models install --from DIR --pack NAME``). Installation verifies
each file's size and sha256 against ``models/manifest.json`` while copying, and only renames
the copies into place once every file of the pack has passed, so a failed or interrupted
install never leaves a half-written model that would later load and produce wrong embeddings.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.faces.errors import ModelError, ModelIntegrityError, ModelMissingError

DEFAULT_MANIFEST = Path(
    os.environ.get("MATCHER_MODEL_MANIFEST", Path(__file__).resolve().parents[2] / "models" / "manifest.json")
)
"""The manifest: ``models/manifest.json`` of the source tree, or MATCHER_MODEL_MANIFEST (images)."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
_ROLES = ("detector", "recognizer")


def install_command(pack: str = "PACK") -> str:
    """The command that fixes a missing model, quoted in every error about one."""
    return f"matcher models install --from DIR --pack {pack}"


@dataclass(frozen=True)
class ModelFile:
    """One file of a pack. ``size``/``sha256`` are None where the manifest does not know them."""

    file: str
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    licence: str
    detector: ModelFile
    recognizer: ModelFile
    embedding_dim: int

    def files(self) -> dict[str, ModelFile]:
        return {"detector": self.detector, "recognizer": self.recognizer}


@dataclass(frozen=True)
class Manifest:
    packs: dict[str, Pack]

    def pack(self, name: str) -> Pack:
        try:
            return self.packs[name]
        except KeyError:
            raise ValueError(f"unknown model pack {name!r}; known: {', '.join(sorted(self.packs))}") from None


@dataclass(frozen=True)
class ModelPaths:
    """Where an installed pack's files are, ready for ``FacePipeline(detector, recognizer)``."""

    pack: str
    detector: Path
    recognizer: Path
    licence: str


def load_manifest(path: str | Path = DEFAULT_MANIFEST) -> Manifest:
    """Read and validate the manifest; a malformed one is refused whole (ValueError)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if raw.get("schema") != 1 or not isinstance(raw.get("packs"), dict):
        raise ValueError(f"{path}: expected schema 1 with a 'packs' object")
    return Manifest({name: _parse_pack(name, body) for name, body in raw["packs"].items()})


def _parse_pack(name: str, body: dict[str, Any]) -> Pack:
    files = {role: _parse_file(f"{name}.{role}", body[role]) for role in _ROLES}
    dim = body["recognizer"].get("embedding_dim")
    if not isinstance(dim, int) or dim <= 0:
        raise ValueError(f"{name}.recognizer.embedding_dim must be a positive integer")
    return Pack(
        name=name,
        description=str(body.get("description", "")),
        licence=str(body["licence"]),
        detector=files["detector"],
        recognizer=files["recognizer"],
        embedding_dim=dim,
    )


def _parse_file(where: str, body: dict[str, Any]) -> ModelFile:
    file, size, sha256 = body["file"], body.get("size"), body.get("sha256")
    # A bare file name: the manifest must not be able to steer a copy outside the pack folder.
    if (
        not isinstance(file, str)
        or Path(file).name != file
        or file.startswith(".")
        or not file.endswith(".onnx")
    ):
        raise ValueError(f"{where}.file must be a plain '*.onnx' file name, not {file!r}")
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise ValueError(f"{where}.size must be a positive integer or null")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.fullmatch(sha256)):
        raise ValueError(f"{where}.sha256 must be 64 lower-case hex digits or null")
    return ModelFile(file, size, sha256)


def resolve(model_dir: str | Path, pack: str, manifest: Manifest | None = None) -> ModelPaths:
    """The installed files of ``pack`` under ``model_dir/<pack>/``.

    Raises ModelMissingError (naming the install command) when a file is absent, and
    ModelIntegrityError when its size differs from the manifest. The full sha256 is not
    re-read here: FacePipeline hashes the recogniser for its model_id anyway.
    """
    entry = (manifest or load_manifest()).pack(pack)
    folder = Path(model_dir) / entry.name
    paths: dict[str, Path] = {}
    for role, spec in entry.files().items():
        path = folder / spec.file
        if not path.is_file():
            raise ModelMissingError(
                f"the face {role} model {path} (pack {pack}) is missing; install it with: "
                f"{install_command(pack)}   (DIR: a folder holding {spec.file})"
            )
        if spec.size is not None and path.stat().st_size != spec.size:
            raise ModelIntegrityError(
                f"{path} is {path.stat().st_size} bytes, the manifest says {spec.size}; "
                f"reinstall it with: {install_command(pack)}"
            )
        paths[role] = path
    return ModelPaths(pack, paths["detector"], paths["recognizer"], entry.licence)


def install_from(
    src_dir: str | Path,
    dest_dir: str | Path,
    pack: str,
    *,
    manifest: Manifest | None = None,
    allow_unpinned: bool = False,
) -> ModelPaths:
    """Copy ``pack``'s files from ``src_dir`` into ``dest_dir/<pack>/``, verified.

    Each file is found at ``src_dir/<file>`` or, failing that, as the only file of that name
    below ``src_dir`` (an unzipped pack often nests a folder). It is hashed as it is copied to a
    temporary file beside its destination, so what is checked is what was written. Only when
    every file of the pack has passed are they renamed into place. A file the manifest pins no
    sha256 for is refused unless ``allow_unpinned`` (the operator vouches for the file).
    """
    entry = (manifest or load_manifest()).pack(pack)
    source_root = Path(src_dir)
    if not source_root.is_dir():
        raise ModelMissingError(f"{source_root} is not a directory")
    target = Path(dest_dir) / entry.name
    target.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for spec in entry.files().values():
            if spec.sha256 is None and not allow_unpinned:
                raise ModelIntegrityError(
                    f"the manifest pins no sha256 for {pack}/{spec.file}, so it cannot be verified; "
                    "install it only if you trust its origin, with allow_unpinned"
                )
            staged.append((_stage(_find(source_root, spec.file), target, spec), target / spec.file))
        for temporary, final in staged:
            os.replace(temporary, final)
        _fsync_dir(target)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    return resolve(dest_dir, pack, Manifest({pack: entry}))


def _find(root: Path, name: str) -> Path:
    direct = root / name
    if direct.is_file():
        return direct
    matches = sorted(p for p in root.rglob(name) if p.is_file())
    if not matches:
        raise ModelMissingError(f"{name} is not in {root} or below it")
    if len(matches) > 1:
        raise ModelError(f"{name} is ambiguous under {root}: {', '.join(map(str, matches))}")
    return matches[0]


def _stage(source: Path, target: Path, spec: ModelFile) -> Path:
    """Copy ``source`` to a temporary file in ``target``, verifying it; return the temp path."""
    if spec.size is not None and source.stat().st_size != spec.size:
        raise ModelIntegrityError(f"{source} is {source.stat().st_size} bytes, the manifest says {spec.size}")
    fd, name = tempfile.mkstemp(prefix=f".{spec.file}.", suffix=".partial", dir=target)
    temporary = Path(name)
    try:
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out, source.open("rb") as inp:
            for block in iter(lambda: inp.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
                written += len(block)
            out.flush()
            os.fsync(out.fileno())
        if spec.size is not None and written != spec.size:
            raise ModelIntegrityError(f"{source} changed size while being copied")
        if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
            raise ModelIntegrityError(
                f"{source} has sha256 {digest.hexdigest()}, the manifest says {spec.sha256}: refused"
            )
        os.chmod(temporary, 0o644)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
