"""The face engine: photo bytes -> detected faces -> aligned crops -> L2-normalised embeddings.

Detection (SCRFD), alignment (insightface's 5-point ``norm_crop``) and the recogniser's own input
normalisation (``ArcFaceONNX``) are insightface's, unchanged, so embeddings equal what
insightface itself produces for the same model and templates stay comparable with it. What this
module adds is what a watchlist service needs around them: refusal of unsafe images, quality
gates with reasons, enrolment's one-face rule, a model identity to stamp on every template,
batching where it is safe, and onnxruntime confined to the CPU with a fixed thread budget.

We never use insightface's ``FaceAnalysis``: it downloads a model pack when its folder is missing
and checks with ``assert``. Models are loaded from explicit local paths only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import insightface
import numpy as np
import onnx
import onnxruntime as ort
from insightface.model_zoo import SCRFD, ArcFaceONNX, get_model
from insightface.utils import face_align

from matcher.faces.errors import FaceError, ModelError, ModelMissingError, Reason
from matcher.faces.image import DEFAULT_LIMITS, ImageLimits, decode_image
from matcher.faces.models import install_command
from matcher.faces.quality import DEFAULT_GATES, Box, QualityGates, Rejection, iou

if int(insightface.__version__.split(".")[0]) < 2:
    # 0.7.x drops sess_options (so thread limits would silently not apply) and routes SCRFD
    # files to its RetinaFace class: fail here with the fix, not later with a puzzling error.
    raise ImportError(f"matcher.faces needs insightface>=2.1, found {insightface.__version__}")

Purpose = Literal["enrol", "search"]

MIN_FACE_BOX_IOU = 0.3
"""A caller's face_box selects the detected face it overlaps most, if the overlap is at least this."""


@dataclass(frozen=True)
class RecognizerInfo:
    """Identity of the recogniser, stamped on every template.

    Embeddings of different models (or of the same model quantised differently) live in
    different spaces: comparing them gives meaningless scores. The service stores
    ``model_id`` with each template and refuses to compare across ids. The sha256 part is the
    authority; the name part (the file's stem) is there for humans.
    """

    name: str
    sha256: str
    model_id: str
    embedding_dim: int
    batched: bool
    """False when several faces must not share one inference call (see ``_batch_safe``)."""


@dataclass(frozen=True, eq=False)
class FaceCandidate:
    """One detector output, before embedding, with the gate it failed (None when usable)."""

    box: Box
    det_score: float
    landmarks: np.ndarray
    rejection: Rejection | None

    def report(self) -> dict[str, Any]:
        """Geometry and score only, safe to return to the caller and to log."""
        return {
            "box": [round(v, 1) for v in self.box],
            "det_score": round(self.det_score, 4),
            "rejected": None if self.rejection is None else str(self.rejection.reason),
        }


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """An embedded face. ``landmarks`` is (5, 2) float32 in image pixels (eyes, nose, mouth
    corners); ``embedding`` is float32, L2-normalised, so cosine similarity is a dot product."""

    box: Box
    det_score: float
    landmarks: np.ndarray
    embedding: np.ndarray
    model_id: str


class FacePipeline:
    """Detect, gate, align and embed faces in JPEG/PNG bytes.

    Thread-safe: one instance can serve concurrent requests (onnxruntime sessions are safe to run
    concurrently; the pipeline keeps no per-call state). Each session uses
    ``intra_op_threads`` threads, default 1: the service gets parallelism from concurrent
    requests, as it does for FAISS, instead of oversubscribing the cores.
    """

    def __init__(
        self,
        detector_path: str | Path,
        recognizer_path: str | Path,
        *,
        det_size: tuple[int, int] = (640, 640),
        intra_op_threads: int = 1,
        quality: QualityGates = DEFAULT_GATES,
        limits: ImageLimits = DEFAULT_LIMITS,
    ) -> None:
        if intra_op_threads < 1:
            raise ValueError("intra_op_threads must be >= 1")
        if len(det_size) != 2 or min(det_size) < 32 or any(v % 32 for v in det_size):
            raise ValueError("det_size must be (width, height), multiples of 32")
        self.det_size = (int(det_size[0]), int(det_size[1]))
        self.quality = quality
        self.limits = limits
        detector_file = _existing(detector_path, "detector")
        recognizer_file = _existing(recognizer_path, "recogniser")
        options = session_options(intra_op_threads)

        self._detector = _load(detector_file, SCRFD, "an SCRFD face detector", options)
        if not self._detector.use_kps:
            raise ModelError(f"{detector_file} outputs no landmarks; alignment needs 5 of them")
        # Detect down to the report floor so weak candidates can be reported, not just dropped.
        self._detector.det_thresh = quality.report_score_floor
        self._recognizer = _load(recognizer_file, ArcFaceONNX, "an ArcFace recogniser", options)
        self.recognizer = _describe(recognizer_file, self._recognizer)
        # Warm-up builds insightface's fixed-shape detector sessions (one per input size) now,
        # not on the first request.
        self.detector_sizes = detector_sizes(self.det_size)
        self._detector.detect(
            np.zeros((self.det_size[1], self.det_size[0], 3), np.uint8), input_size=self.detector_sizes
        )

    @property
    def model_id(self) -> str:
        """The recogniser's identity, ``name:sha256[:16]``; see RecognizerInfo."""
        return self.recognizer.model_id

    def embed_image(
        self,
        image_bytes: bytes,
        *,
        purpose: Purpose,
        face_box: Sequence[float] | None = None,
        aligned_crop: bool = False,
    ) -> list[DetectedFace]:
        """Embed the faces of one photo, or refuse it with a FaceError saying why.

        - ``enrol``: exactly one usable face, else MULTIPLE_FACES (with all boxes, so the
          investigator can pick one and call again with ``face_box``).
        - ``search``: every usable face, one result each; faces failing a gate are left out.
        - ``face_box`` (x1, y1, x2, y2), either purpose: only the detected face overlapping it
          most (IoU >= 0.3), refused with that face's own reason if it fails a gate.

        - ``aligned_crop``: the photo is one face already warped to the recogniser's template
          (112x112 for ArcFace, as edge devices and NVRs send it): embedded as it is, without
          re-alignment, once the detector's confidence gate has passed on it (see
          ``_embed_aligned``).

        No usable face at all is a refusal for both purposes (NO_FACE, or the gate that the
        most confident candidate failed).
        """
        if purpose not in ("enrol", "search"):
            raise ValueError(f"purpose must be 'enrol' or 'search', not {purpose!r}")
        wanted = _check_box(face_box) if face_box is not None else None
        image = decode_image(image_bytes, self.limits)
        if aligned_crop:
            if wanted is not None:
                raise FaceError(
                    Reason.FACE_BOX_INVALID,
                    "an aligned crop is one face already: send it without face_box",
                )
            return [self._embed_aligned(image)]
        candidates = self.detect(image)
        chosen = self._select(candidates, purpose, wanted, image.shape)
        embeddings = self.embed_crops([self.align(image, c.landmarks) for c in chosen])
        return [
            DetectedFace(c.box, c.det_score, c.landmarks, emb, self.model_id)
            for c, emb in zip(chosen, embeddings, strict=True)
        ]

    def count_faces(self, image_bytes: bytes) -> int:
        """How many faces a frame shows, for P6's presence count: the detector alone.

        No crop is aligned and the recogniser never runs, so nothing that could tell who anyone
        is gets computed. A face counts when the detector is confident of it (the score gate);
        the size gate does not apply: a small, distant face is still somebody present.
        """
        image = decode_image(image_bytes, self.limits)
        return sum(1 for c in self.detect(image) if c.det_score >= self.quality.min_det_score)

    def embed_frame(self, image: np.ndarray) -> list[DetectedFace]:
        """Every usable face of a decoded BGR video frame (a camera gateway's frame), embedded;
        none when no face passes the gates. The same detector, gates and alignment as photos."""
        usable = [c for c in self.detect(image) if c.rejection is None]
        embeddings = self.embed_crops([self.align(image, c.landmarks) for c in usable])
        return [
            DetectedFace(c.box, c.det_score, c.landmarks, emb, self.model_id)
            for c, emb in zip(usable, embeddings, strict=True)
        ]

    def detect(self, image: np.ndarray) -> list[FaceCandidate]:
        """Run SCRFD on a BGR image at the sizes of ``detector_sizes``; candidates sorted by
        score (duplicates across sizes merged by insightface's NMS), each judged by the gates."""
        dets, kpss = self._detector.detect(image, input_size=self.detector_sizes)
        height, width = image.shape[:2]
        candidates = []
        for det, kps in zip(dets, kpss, strict=True):
            box = (
                float(np.clip(det[0], 0, width)),
                float(np.clip(det[1], 0, height)),
                float(np.clip(det[2], 0, width)),
                float(np.clip(det[3], 0, height)),
            )
            score = float(det[4])
            landmarks = np.asarray(kps, dtype=np.float32)
            candidates.append(FaceCandidate(box, score, landmarks, self.quality.judge(box, score)))
        return candidates

    def _embed_aligned(self, image: np.ndarray) -> DetectedFace:
        """Embed a caller's aligned crop, after the gates that still mean something for it.

        The crop must have the recogniser's input size exactly: resizing a crop aligned for
        another template would embed a distorted face. The detector still runs on it, and its
        most confident candidate must pass the score gate: a crop of a wall, a hand or a blank
        frame would otherwise become a template (NO_FACE / FACE_LOW_SCORE, as for any photo).
        The size gate is met by construction (the face spans the whole crop), and so is the
        one-face rule (the face is the crop; a second, partial face at its edge is ignored).
        """
        side = int(self._recognizer.input_size[0])
        height, width = image.shape[:2]
        details: dict[str, Any] = {"image_size": [int(width), int(height)], "gates": asdict(self.quality)}
        if (width, height) != (side, side):
            raise FaceError(
                Reason.ALIGNED_CROP_WRONG_SIZE,
                f"an aligned crop must be {side}x{side} pixels (the recogniser's input), "
                f"not {width}x{height}; send the photo itself without aligned_crop instead",
                details,
            )
        candidates = self.detect(image)
        details["faces"] = [c.report() for c in candidates]
        if not candidates:
            raise FaceError(Reason.NO_FACE, "no face was detected in the aligned crop", details)
        best = candidates[0]
        rejection = self.quality.judge(best.box, best.det_score)
        if rejection is not None and rejection.reason is Reason.FACE_LOW_SCORE:
            raise FaceError(rejection.reason, rejection.message, details)
        [embedding] = self.embed_crops([image])
        box = (0.0, 0.0, float(width), float(height))
        return DetectedFace(
            box,
            best.det_score,
            np.asarray(face_align.arcface_dst, np.float32) * (side / 112.0),
            embedding,
            self.model_id,
        )

    def align(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Warp a face to the recogniser's input (112x112 for ArcFace) on the 5-point template."""
        crop: np.ndarray = face_align.norm_crop(
            image, landmark=landmarks, image_size=self._recognizer.input_size[0]
        )
        return crop

    def embed_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Embed aligned BGR crops: (N, D) float32, each row L2-normalised.

        One batched call when the model allows it; one call per face otherwise (see
        ``_batch_safe``), so a face's embedding never depends on who else is in the photo.
        """
        if not crops:
            return np.empty((0, self.recognizer.embedding_dim), dtype=np.float32)
        if self.recognizer.batched:
            outputs = self._recognizer.get_feat(list(crops))
        else:
            outputs = np.concatenate([self._recognizer.get_feat([crop]) for crop in crops])
        raw = np.asarray(outputs, dtype=np.float32).reshape(len(crops), -1)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ModelError("the recogniser produced a zero or non-finite embedding")
        normalised: np.ndarray = raw / norms
        return normalised

    def _select(
        self,
        candidates: list[FaceCandidate],
        purpose: Purpose,
        wanted: Box | None,
        shape: tuple[int, ...],
    ) -> list[FaceCandidate]:
        details: dict[str, Any] = {
            "image_size": [int(shape[1]), int(shape[0])],
            "faces": [c.report() for c in candidates],
            "gates": asdict(self.quality),
        }
        if not candidates:
            raise FaceError(Reason.NO_FACE, "no face was detected in the image", details)
        if wanted is not None:
            overlap, best = max(((iou(c.box, wanted), c) for c in candidates), key=lambda t: t[0])
            details.update(face_box=list(wanted), best_iou=round(overlap, 3))
            if overlap < MIN_FACE_BOX_IOU:
                raise FaceError(
                    Reason.FACE_BOX_NOT_FOUND,
                    f"no detected face overlaps the given face_box (best IoU {overlap:.2f} < "
                    f"{MIN_FACE_BOX_IOU}); pick one of the boxes in details",
                    details,
                )
            if best.rejection is not None:
                raise FaceError(best.rejection.reason, best.rejection.message, details)
            return [best]
        usable = [c for c in candidates if c.rejection is None]
        if not usable:
            # Candidates are sorted by score: explain the most face-like one.
            rejection = next(c.rejection for c in candidates if c.rejection is not None)
            raise FaceError(rejection.reason, rejection.message, details)
        if purpose == "enrol" and len(usable) > 1:
            raise FaceError(
                Reason.MULTIPLE_FACES,
                f"{len(usable)} usable faces found; enrolment takes one: pass face_box to choose",
                details,
            )
        return usable


def detector_sizes(det_size: tuple[int, int]) -> list[tuple[int, int]]:
    """The detector's input sizes: ``det_size``, half of it and a quarter (640, 320, 160).

    SCRFD resizes the whole image to fit its input. Only at 640x640, a 112x112 close-up crop was
    magnified almost six times into a 640-pixel face, larger than the detector's biggest anchors,
    and came back NO_FACE (issue 10); so did a phone close-up whose face fills the frame. At 320
    and 160 such a face has a size the detector knows; the two passes add a quarter and a
    sixteenth of the 640 pass's pixels (1.3 to 1.5 times its time, measured). insightface
    merges the boxes of all passes by NMS.

    The sizes are fixed, never derived from the image: insightface builds one onnxruntime session
    per input size, so sizes that followed the uploads would let callers grow the process's
    memory without bound. All of them are built at start-up.
    """
    sizes: list[tuple[int, int]] = []
    for divisor in (1, 2, 4):
        size = (max(32, det_size[0] // divisor // 32 * 32), max(32, det_size[1] // divisor // 32 * 32))
        if size not in sizes:
            sizes.append(size)
    return sizes


def _check_box(face_box: Sequence[float]) -> Box:
    values = tuple(float(v) for v in face_box)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise FaceError(Reason.FACE_BOX_INVALID, "face_box must be 4 finite numbers x1, y1, x2, y2")
    x1, y1, x2, y2 = values
    if x2 <= x1 or y2 <= y1:
        raise FaceError(
            Reason.FACE_BOX_INVALID, "face_box needs x2 > x1 and y2 > y1", {"face_box": list(values)}
        )
    return (x1, y1, x2, y2)


def _existing(path: str | Path, role: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise ModelMissingError(
            f"the face {role} model {file} is missing; install the model pack with: {install_command()}"
        )
    return file


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    """CPU session settings: ``intra_op_threads`` per call, no inter-op pool, sequential."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def _load(path: Path, kind: type[Any], description: str, options: ort.SessionOptions) -> Any:
    """Load through insightface's router (which picks SCRFD/ArcFaceONNX from the graph's shape)
    and refuse a file that is not the kind expected, e.g. detector and recogniser swapped."""
    try:
        model: Any = get_model(str(path), providers=["CPUExecutionProvider"], sess_options=options)
    except Exception as exc:  # onnxruntime and onnx raise many unrelated types for a bad file
        raise ModelError(f"{path} cannot be loaded as an ONNX model: {exc}") from exc
    if not isinstance(model, kind):
        found = type(model).__name__ if model is not None else "nothing"
        raise ModelError(f"{path} is not {description} (insightface recognised it as {found})")
    if model.session.get_providers() != ["CPUExecutionProvider"]:
        raise ModelError(f"{path} did not load on the CPU provider alone")
    # Refuse to run with default threads if a future insightface stops passing sess_options on.
    if model.session.get_session_options().intra_op_num_threads != options.intra_op_num_threads:
        raise ModelError("insightface ignored the session options (thread count); use insightface>=2.1")
    return model


def _describe(path: Path, recognizer: Any) -> RecognizerInfo:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    sha256 = digest.hexdigest()
    size = recognizer.input_size[0]
    # Probe the real output width: the declared shape may be symbolic or wrong (the INT8
    # w600k_mbf declares [1, 512] yet accepts any batch).
    probe = recognizer.get_feat([np.zeros((size, size, 3), dtype=np.uint8)])
    name = path.stem
    return RecognizerInfo(
        name=name,
        sha256=sha256,
        model_id=f"{name}:{sha256[:16]}",
        embedding_dim=int(np.asarray(probe).reshape(1, -1).shape[1]),
        batched=_batch_safe(path, recognizer.input_shape),
    )


def _batch_safe(path: Path, input_shape: Sequence[Any]) -> bool:
    """Whether several faces may share one inference call without changing their embeddings.

    Not for dynamically quantised graphs: ``DynamicQuantizeLinear`` computes one activation
    scale over the whole input tensor, so each face's embedding would depend on the other faces
    in the batch (cosine 0.98-0.99 batched vs alone on the INT8 w600k_mbf; see its SOURCE.md).
    Nor for graphs whose batch dimension is fixed to 1.
    """
    if input_shape and input_shape[0] == 1:
        return False
    graph = onnx.load(str(path), load_external_data=False).graph
    return not any(node.op_type == "DynamicQuantizeLinear" for node in graph.node)
