"""Tiny ONNX models with the real SCRFD and ArcFace signatures, and images they "see" faces in.

The insightface packs cannot be shipped or downloaded (non-commercial licence, no network), yet
the service's tests need a FacePipeline that really runs: insightface must route the files to
SCRFD and ArcFaceONNX, onnxruntime must execute them, and the outputs must follow the image.
These models do exactly that, in a few kilobytes, and are deterministic:

- The detector has det_500m's interface (input ``input.1`` [1, 3, H, W]; nine outputs: scores,
  boxes and landmarks at strides 8, 16, 32 with two anchors). A "face" is a bright 64x64 square
  (mean pixel value ``FACE_MEAN``, centred on a multiple of 32 in the detector's 640x640 input).
  Only stride 32 fires: each anchor's score is a sigmoid of the mean brightness of the 64x64
  window centred on it, the box is that window, and the five landmarks sit where the ArcFace
  template puts them, so ``norm_crop`` maps the square exactly onto the 112x112 crop.
- The recogniser has ArcFace's interface ([N, 3, 112, 112] -> [N, 512]): it subtracts each
  crop's mean, average-pools 8x8 and applies a fixed random projection, so the embedding
  depends on the face's texture (two random textures are nearly orthogonal) and not on where
  the face is.

Shared with the service's own tests and the benchmark, hence in the package, not under tests/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FACE = 64
"""Side of a synthetic face, in detector-input pixels."""
FACE_MEAN = 217.5
"""Mean pixel value of ``face_texture`` (values 180..255)."""
_GAIN = 20.0
_CENTRE = 0.5
_STRIDES = (8, 16, 32)
_ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
# Output names and order of the real det_500m.onnx: scores 8/16/32, boxes 8/16/32, landmarks 8/16/32.
_DET_OUTPUTS = ("443", "468", "493", "446", "471", "496", "449", "474", "499")


def score_for_value(value: float) -> float:
    """The detector score of a uniform square of this pixel value (in a 640x640 image)."""
    normalised = (value - 127.5) / 128.0  # SCRFD's input_mean / input_std
    return float(1.0 / (1.0 + np.exp(-_GAIN * (normalised - _CENTRE))))


def value_for_score(score: float) -> float:
    """The uniform pixel value that the detector scores ``score`` (inverse of score_for_value)."""
    logit = float(np.log(score / (1.0 - score)))
    return 127.5 + 128.0 * (_CENTRE + logit / _GAIN)


def face_texture(seed: int, size: int = FACE) -> np.ndarray:
    """A random bright BGR texture: a distinct synthetic identity per seed."""
    return np.random.default_rng(seed).integers(180, 256, size=(size, size, 3), dtype=np.uint8)


def paint(canvas: np.ndarray, centre: tuple[int, int], patch: np.ndarray) -> tuple[int, int, int, int]:
    """Paste ``patch`` centred at ``centre`` (x, y); return its box (x1, y1, x2, y2)."""
    height, width = patch.shape[:2]
    x1, y1 = centre[0] - width // 2, centre[1] - height // 2
    canvas[y1 : y1 + height, x1 : x1 + width] = patch
    return (x1, y1, x1 + width, y1 + height)


def write_detector(path: str | Path) -> Path:
    """Write the synthetic SCRFD-signature detector to ``path``."""
    nodes = [helper.make_node("ReduceMean", ["input.1"], ["grey"], axes=[1], keepdims=1, name="grey")]
    initialisers = [
        numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "col"),
        numpy_helper.from_array(np.array([0.0], dtype=np.float32), "zero"),
        numpy_helper.from_array(np.array([_CENTRE], dtype=np.float32), "centre"),
        numpy_helper.from_array(np.array([_GAIN], dtype=np.float32), "gain"),
        numpy_helper.from_array(np.ones((1, 4), dtype=np.float32) * (FACE / 2 / 32), "box32"),
        numpy_helper.from_array(((_ARCFACE_TEMPLATE - 56.0) * (FACE / 112.0) / 32.0).reshape(1, 10), "kps32"),
        numpy_helper.from_array(np.zeros((1, 4), dtype=np.float32), "box0"),
        numpy_helper.from_array(np.zeros((1, 10), dtype=np.float32), "kps0"),
    ]
    for stride, score_name, box_name, kps_name in zip(
        _STRIDES, _DET_OUTPUTS[0:3], _DET_OUTPUTS[3:6], _DET_OUTPUTS[6:9], strict=True
    ):
        s = f"s{stride}"
        if stride == 32:
            # Window of 64 centred on the anchor point (SCRFD's anchor for cell (i, j) is (32j, 32i)).
            nodes += [
                helper.make_node(
                    "AveragePool",
                    ["grey"],
                    [f"{s}_mean"],
                    kernel_shape=[64, 64],
                    strides=[32, 32],
                    pads=[32, 32, 0, 0],
                    name=f"{s}_pool",
                ),
                helper.make_node("Sub", [f"{s}_mean", "centre"], [f"{s}_shift"], name=f"{s}_shift"),
                helper.make_node("Mul", [f"{s}_shift", "gain"], [f"{s}_logit"], name=f"{s}_gain"),
                helper.make_node("Sigmoid", [f"{s}_logit"], [f"{s}_map"], name=f"{s}_sigmoid"),
            ]
            box_const, kps_const = "box32", "kps32"
        else:
            # Same grid as the real model, never firing.
            nodes += [
                helper.make_node(
                    "AveragePool",
                    ["grey"],
                    [f"{s}_mean"],
                    kernel_shape=[stride, stride],
                    strides=[stride, stride],
                    name=f"{s}_pool",
                ),
                helper.make_node("Mul", [f"{s}_mean", "zero"], [f"{s}_map"], name=f"{s}_zero"),
            ]
            box_const, kps_const = "box0", "kps0"
        nodes += [
            # One score per location, then the second anchor of each location scoring 0.
            helper.make_node("Reshape", [f"{s}_map", "col"], [f"{s}_col"], name=f"{s}_col"),
            helper.make_node("Mul", [f"{s}_col", "zero"], [f"{s}_off"], name=f"{s}_off"),
            helper.make_node("Concat", [f"{s}_col", f"{s}_off"], [f"{s}_pair"], axis=1, name=f"{s}_pair"),
            helper.make_node("Reshape", [f"{s}_pair", "col"], [score_name], name=f"{s}_scores"),
            helper.make_node("Mul", [score_name, "zero"], [f"{s}_blank"], name=f"{s}_blank"),
            helper.make_node("Add", [f"{s}_blank", box_const], [box_name], name=f"{s}_boxes"),
            helper.make_node("Add", [f"{s}_blank", kps_const], [kps_name], name=f"{s}_kps"),
        ]
    widths = (1, 1, 1, 4, 4, 4, 10, 10, 10)
    graph = helper.make_graph(
        nodes,
        "synthetic_scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, None, None])],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, w])
            for n, w in zip(_DET_OUTPUTS, widths, strict=True)
        ],
        initialisers,
    )
    return _save(graph, path)


def write_recognizer(path: str | Path, *, dim: int = 512, seed: int = 0) -> Path:
    """Write the synthetic ArcFace-signature recogniser (fp32, batch-independent) to ``path``."""
    projection = np.random.default_rng(seed).standard_normal((3 * 14 * 14, dim)).astype(np.float32)
    nodes = [
        # Node names must not start with "Sub"/"Mul": insightface would take it for an MXNet
        # export with built-in normalisation (ArcFaceONNX inspects the first node names).
        helper.make_node("ReduceMean", ["input.1"], ["level"], axes=[1, 2, 3], keepdims=1, name="level"),
        helper.make_node("Sub", ["input.1", "level"], ["centred"], name="centred"),
        helper.make_node(
            "AveragePool", ["centred"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8], name="pool"
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1, name="flatten"),
        helper.make_node("MatMul", ["flat", "projection"], ["embedding"], name="project"),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [None, 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [None, dim])],
        [numpy_helper.from_array(projection, "projection")],
    )
    return _save(graph, path)


def _save(graph: onnx.GraphProto, path: str | Path) -> Path:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="matcher.faces.synthetic"
    )
    model.ir_version = 6  # as the real insightface exports; old enough for any onnxruntime
    onnx.checker.check_model(model)
    target = Path(path)
    onnx.save(model, str(target))
    return target
