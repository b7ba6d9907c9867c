"""The model manifest, verified installation from a local folder, and resolution at start."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from matcher.faces import (
    FacePipeline,
    ModelIntegrityError,
    ModelMissingError,
    install_from,
    load_manifest,
    resolve,
)
from matcher.faces.errors import ModelError
from matcher.faces.models import DEFAULT_MANIFEST, Manifest

from .conftest import shared_dir


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(tmp_path: Path, det: Path, rec: Path, *, rec_sha256: str | None = None) -> Manifest:
    """A one-pack manifest pinning the synthetic models (or a chosen recogniser hash)."""
    body = {
        "schema": 1,
        "packs": {
            "synthetic": {
                "licence": "test only",
                "detector": {"file": "det.onnx", "size": det.stat().st_size, "sha256": _sha256(det)},
                "recognizer": {
                    "file": "rec.onnx",
                    "size": rec.stat().st_size,
                    "sha256": rec_sha256 or _sha256(rec),
                    "embedding_dim": 512,
                },
            }
        },
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(body))
    return load_manifest(path)


@pytest.fixture
def source(tmp_path: Path, synthetic_models: dict[str, Path]) -> Path:
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / "det.onnx").write_bytes(synthetic_models["det"].read_bytes())
    (folder / "rec.onnx").write_bytes(synthetic_models["rec"].read_bytes())
    return folder


def test_repository_manifest_lists_the_supported_packs() -> None:
    manifest = load_manifest()
    assert {"buffalo_l", "buffalo_s", "antelopev2", "test_scrfd500m_mbf_int8"} <= set(manifest.packs)
    for name in ("buffalo_l", "buffalo_s", "antelopev2", "test_scrfd500m_mbf_int8"):
        assert "non-commercial research only" in manifest.pack(name).licence
    assert manifest.pack("buffalo_l").recognizer.file == "w600k_r50.onnx"
    assert manifest.pack("antelopev2").detector.file == "scrfd_10g_bnkps.onnx"


def test_manifest_hashes_of_the_test_weights_equal_their_source_notes() -> None:
    pack = load_manifest().pack("test_scrfd500m_mbf_int8")
    notes = {
        "det_500m.onnx": shared_dir() / "models" / "scrfd_500m" / "SOURCE.md",
        "mobilefacenet_int8.onnx": shared_dir() / "models" / "w600k_mbf_int8" / "SOURCE.md",
    }
    for spec in (pack.detector, pack.recognizer):
        if not notes[spec.file].is_file():
            pytest.skip(f"{notes[spec.file]} is absent")
        text = notes[spec.file].read_text()
        assert spec.sha256 in re.findall(r"[0-9a-f]{64}", text)
        assert f"{spec.size:,}" in text


def test_manifest_cannot_steer_a_copy_outside_the_pack(tmp_path: Path) -> None:
    raw = json.loads(DEFAULT_MANIFEST.read_text())
    raw["packs"]["buffalo_l"]["recognizer"]["file"] = "../../etc/evil.onnx"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="plain"):
        load_manifest(path)


def test_install_verifies_and_the_pipeline_loads_it(
    tmp_path: Path, source: Path, synthetic_models: dict[str, Path]
) -> None:
    manifest = _manifest(tmp_path, synthetic_models["det"], synthetic_models["rec"])
    paths = install_from(source, tmp_path / "models", "synthetic", manifest=manifest)
    assert paths == resolve(tmp_path / "models", "synthetic", manifest)
    assert paths.recognizer == tmp_path / "models" / "synthetic" / "rec.onnx"
    assert _sha256(paths.recognizer) == _sha256(synthetic_models["rec"])
    assert sorted(p.name for p in paths.detector.parent.iterdir()) == ["det.onnx", "rec.onnx"]
    FacePipeline(paths.detector, paths.recognizer)


def test_hash_mismatch_installs_nothing(
    tmp_path: Path, source: Path, synthetic_models: dict[str, Path]
) -> None:
    manifest = _manifest(tmp_path, synthetic_models["det"], synthetic_models["rec"], rec_sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="refused"):
        install_from(source, tmp_path / "models", "synthetic", manifest=manifest)
    # Not even the detector, which was fine: no pack is ever half installed, no temp file left.
    assert list((tmp_path / "models" / "synthetic").iterdir()) == []


def test_size_mismatch_is_refused_before_copying(
    tmp_path: Path, source: Path, synthetic_models: dict[str, Path]
) -> None:
    manifest = _manifest(tmp_path, synthetic_models["det"], synthetic_models["rec"])
    with (source / "rec.onnx").open("ab") as f:
        f.write(b"\x00")
    with pytest.raises(ModelIntegrityError, match="bytes"):
        install_from(source, tmp_path / "models", "synthetic", manifest=manifest)


def test_failed_reinstall_keeps_the_installed_pack(
    tmp_path: Path, source: Path, synthetic_models: dict[str, Path]
) -> None:
    good = _manifest(tmp_path, synthetic_models["det"], synthetic_models["rec"])
    installed = install_from(source, tmp_path / "models", "synthetic", manifest=good)
    before = _sha256(installed.recognizer)
    bad = _manifest(tmp_path, synthetic_models["det"], synthetic_models["rec"], rec_sha256="1" * 64)
    with pytest.raises(ModelIntegrityError):
        install_from(source, tmp_path / "models", "synthetic", manifest=bad)
    assert _sha256(installed.recognizer) == before


def test_unpinned_files_need_the_operators_word(tmp_path: Path, synthetic_models: dict[str, Path]) -> None:
    source = tmp_path / "buffalo_s_unzipped" / "buffalo_s"  # nested, as zips often unpack
    source.mkdir(parents=True)
    (source / "det_500m.onnx").write_bytes(synthetic_models["det"].read_bytes())
    (source / "w600k_mbf.onnx").write_bytes(synthetic_models["rec"].read_bytes())
    with pytest.raises(ModelIntegrityError, match="pins no sha256"):
        install_from(source.parent, tmp_path / "models", "buffalo_s")
    paths = install_from(source.parent, tmp_path / "models", "buffalo_s", allow_unpinned=True)
    assert paths.recognizer.read_bytes() == synthetic_models["rec"].read_bytes()


def test_ambiguous_source_is_refused(tmp_path: Path, source: Path, synthetic_models: dict[str, Path]) -> None:
    manifest = _manifest(tmp_path, synthetic_models["det"], synthetic_models["rec"])
    nested = tmp_path / "nested"
    for sub in ("a", "b"):
        (nested / sub).mkdir(parents=True)
        (nested / sub / "rec.onnx").write_bytes(synthetic_models["rec"].read_bytes())
    (nested / "a" / "det.onnx").write_bytes(synthetic_models["det"].read_bytes())
    with pytest.raises(ModelError, match="ambiguous"):
        install_from(nested, tmp_path / "models", "synthetic", manifest=manifest)


def test_missing_pack_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as caught:
        resolve(tmp_path, "buffalo_l")
    assert "matcher models install --from DIR --pack buffalo_l" in str(caught.value)
    assert "det_10g.onnx" in str(caught.value)


def test_unknown_pack_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="antelopev2"):
        resolve(tmp_path, "buffalo_xl")


def test_installed_file_of_the_wrong_size_is_refused(
    tmp_path: Path, source: Path, synthetic_models: dict[str, Path]
) -> None:
    manifest = _manifest(tmp_path, synthetic_models["det"], synthetic_models["rec"])
    paths = install_from(source, tmp_path / "models", "synthetic", manifest=manifest)
    paths.detector.write_bytes(b"truncated")
    with pytest.raises(ModelIntegrityError, match="reinstall"):
        resolve(tmp_path / "models", "synthetic", manifest)


def test_real_test_weights_install_from_the_shared_folder(tmp_path: Path) -> None:
    models = shared_dir() / "models"
    if not (models / "w600k_mbf_int8" / "mobilefacenet_int8.onnx").is_file():
        pytest.skip(f"real test weights are absent under {models}")
    paths = install_from(models, tmp_path, "test_scrfd500m_mbf_int8")
    assert FacePipeline(paths.detector, paths.recognizer).model_id == "mobilefacenet_int8:7caa7fb0ad6c37b3"
