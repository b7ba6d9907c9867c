"""Tiny ONNX models with the real plate-model signatures, and images they "see" plates in.

The real weights (fast-plate-ocr's ``cct_xs_v1_global``, a YOLOv8n plate detector) cannot be
shipped with the repository, yet the reader's tests need models that fast-alpr, fast-plate-ocr
and open-image-models load through their own code and onnxruntime really executes, with
outputs that follow the image. These do that in a few kilobytes, deterministically:

- **OCR** (``cct_xs_v1_global``'s interface: input ``input`` uint8 [N, 64, 128, 3] NHWC RGB,
  output ``Identity:0`` float32 [N, 9, 37] probabilities over ``0-9A-Z_``). Each of the nine
  slots looks at one vertical band of the resized crop (the middle columns of a ninth of its
  width) and reads the band's mean *green* value: symbol ``i`` sits at level
  ``(36 - i) * LEVEL_STEP``, so black is the pad ``_`` and a band painted at a symbol's level
  reads as that symbol with probability ~0.999. Off-level values give lower, predictable
  confidences (``confidence_for_offset``).
- **YOLOv8 detector** (the interface of ``yolov8n_plate_int8``: input ``images`` float32
  [1, 3, 320, 320], output ``output0`` float32 [1, 5, 2100] = (cx, cy, w, h, score) per anchor of
  the stride 8/16/32 grids, no NMS inside). A plate is a pure-red rectangle of
  ``PLATE_BOX`` letterboxed pixels centred on a stride-16 anchor: that anchor scores a steep
  sigmoid of the mean *red* in the window around it (~0.98 for an exact hit, < 0.07 one anchor
  off), so only the exact anchor passes a 0.4 threshold. Strides 8 and 32 never fire.
- **YOLOv9 end-to-end detector** (what open-image-models' ``YoloV9Detector`` loads: input
  [1, 3, S, S], output [K, 7] = (batch, x1, y1, x2, y2, class, score) after the model's own
  selection). The same red-window rule, with anchors above 0.25 emitted as rows. The names of
  the real fast-alpr files' tensors could not be checked (the files are unavailable);
  open-image-models reads the first input and output by position, so names do not matter.

Red drives detection and green drives reading, so a plate's text never changes whether it is
found. Shared by the tests and the benchmark, hence in the package like ``matcher.faces.synthetic``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OCR_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
"""The v1 global models' symbols; the last one is the pad."""
OCR_PAD = "_"
OCR_SLOTS = 9
OCR_HEIGHT = 64
OCR_WIDTH = 128
LEVEL_STEP = 7
"""Green levels of neighbouring symbols differ by this much (36 * 7 = 252 fits in a byte)."""
_SIGMA = 2.5
_BAND_HALF_WIDTH = 3
"""Each slot averages 2 * 3 + 1 columns at its band's centre, clear of the blur at band edges."""

DETECTOR_INPUT = 320
"""Input side of the YOLOv8 detector (as the real ``yolov8n_plate_int8``)."""
STRIDE = 16
"""Grid the synthetic detectors fire on."""
PLATE_BOX = (96, 32)
"""Width and height of a detected plate, in letterboxed detector-input pixels."""
_DET_CENTRE = 0.9
_DET_GAIN = 40.0
_END2END_THRESHOLD = 0.25
_YOLOV8_STRIDES = (8, 16, 32)

Box = tuple[int, int, int, int]


def level(symbol: str) -> int:
    """The green value the OCR model reads as ``symbol`` (the pad ``_`` is 0, black)."""
    return (len(OCR_ALPHABET) - 1 - OCR_ALPHABET.index(symbol)) * LEVEL_STEP


def confidence_for_offset(offset: float) -> float:
    """The OCR probability of the nearest symbol for a band painted ``offset`` away from its level.

    Mirrors the graph (a softmax over ``-((value - level) / sigma)^2``) for a symbol with
    neighbours on both sides.
    """
    levels = np.arange(len(OCR_ALPHABET), dtype=np.float64) * LEVEL_STEP
    logits = -((((levels[18] + offset) - levels) / _SIGMA) ** 2)
    probabilities = np.exp(logits - logits.max())
    return float(probabilities[18] / probabilities.sum())


def write_ocr_model(path: str | Path) -> Path:
    """Write the synthetic OCR model (``cct_xs_v1_global``'s signature) to ``path``."""
    bands = np.zeros((OCR_WIDTH, OCR_SLOTS), dtype=np.float32)
    for slot in range(OCR_SLOTS):
        centre = int((slot + 0.5) * OCR_WIDTH / OCR_SLOTS)
        bands[centre - _BAND_HALF_WIDTH : centre + _BAND_HALF_WIDTH + 1, slot] = 1.0 / (
            2 * _BAND_HALF_WIDTH + 1
        )
    levels = np.array([level(symbol) for symbol in OCR_ALPHABET], dtype=np.float32)
    nodes = [
        helper.make_node("Cast", ["input"], ["pixels"], to=TensorProto.FLOAT, name="pixels"),
        helper.make_node("Slice", ["pixels", "green_start", "green_end", "channel_axis"], ["green"]),
        # [N, 64, 128, 1] -> [N, 128]: mean green per column.
        helper.make_node("ReduceMean", ["green"], ["columns"], axes=[1, 3], keepdims=0, name="columns"),
        helper.make_node("MatMul", ["columns", "bands"], ["slots"], name="slots"),
        helper.make_node("Unsqueeze", ["slots", "last_axis"], ["slot_values"], name="slot_values"),
        helper.make_node("Sub", ["slot_values", "levels"], ["distance"], name="distance"),
        helper.make_node("Div", ["distance", "sigma"], ["scaled"], name="scaled"),
        helper.make_node("Mul", ["scaled", "scaled"], ["squared"], name="squared"),
        helper.make_node("Neg", ["squared"], ["logits"], name="logits"),
        helper.make_node("Softmax", ["logits"], ["Identity:0"], axis=-1, name="probabilities"),
    ]
    initialisers = [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "green_start"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "green_end"),
        numpy_helper.from_array(np.array([3], dtype=np.int64), "channel_axis"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
        numpy_helper.from_array(bands, "bands"),
        numpy_helper.from_array(levels, "levels"),
        numpy_helper.from_array(np.array(_SIGMA, dtype=np.float32), "sigma"),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic_plate_ocr",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, [None, OCR_HEIGHT, OCR_WIDTH, 3])],
        [
            helper.make_tensor_value_info(
                "Identity:0", TensorProto.FLOAT, [None, OCR_SLOTS, len(OCR_ALPHABET)]
            )
        ],
        initialisers,
    )
    return _save(graph, path, opset=15)


def write_ocr_config(path: str | Path, *, alphabet: str = OCR_ALPHABET) -> Path:
    """Write the plate config YAML fast-plate-ocr reads beside the model (v1 global values)."""
    target = Path(path)
    target.write_text(
        f"max_plate_slots: {OCR_SLOTS}\n"
        f"alphabet: '{alphabet}'\n"
        f"pad_char: '{OCR_PAD}'\n"
        f"img_height: {OCR_HEIGHT}\n"
        f"img_width: {OCR_WIDTH}\n"
        "keep_aspect_ratio: false\n"
        "interpolation: linear\n"
        "image_color_mode: rgb\n",
        encoding="utf-8",
    )
    return target


def _red_score_map(size: int, prefix: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Nodes scoring every stride-16 anchor of a [1, 3, size, size] input: [1, 1, size/16, size/16].

    The pooling window is ``PLATE_BOX`` centred on the anchor ((j + 0.5) * 16, (i + 0.5) * 16);
    padding counts as black so a plate cut by the border scores low, as a real detector would.
    """
    width, height = PLATE_BOX
    pad_w, pad_h = width // 2 - STRIDE // 2, height // 2 - STRIDE // 2
    nodes = [
        helper.make_node(
            "Slice", ["images", f"{prefix}_r0", f"{prefix}_r1", f"{prefix}_c"], [f"{prefix}_red"]
        ),
        helper.make_node(
            "AveragePool",
            [f"{prefix}_red"],
            [f"{prefix}_mean"],
            kernel_shape=[height, width],
            strides=[STRIDE, STRIDE],
            pads=[pad_h, pad_w, pad_h, pad_w],
            count_include_pad=1,
        ),
        helper.make_node("Sub", [f"{prefix}_mean", f"{prefix}_centre"], [f"{prefix}_shift"]),
        helper.make_node("Mul", [f"{prefix}_shift", f"{prefix}_gain"], [f"{prefix}_logit"]),
        helper.make_node("Sigmoid", [f"{prefix}_logit"], [f"{prefix}_map"]),
    ]
    initialisers = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), f"{prefix}_r0"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), f"{prefix}_r1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), f"{prefix}_c"),
        numpy_helper.from_array(np.array(_DET_CENTRE, dtype=np.float32), f"{prefix}_centre"),
        numpy_helper.from_array(np.array(_DET_GAIN, dtype=np.float32), f"{prefix}_gain"),
    ]
    return nodes, initialisers, f"{prefix}_map"


def _anchor_centres(size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major anchor centres of one grid, as Ultralytics orders them."""
    cells = np.arange(size // stride, dtype=np.float32)
    cy, cx = np.meshgrid((cells + 0.5) * stride, (cells + 0.5) * stride, indexing="ij")
    return cx.reshape(-1), cy.reshape(-1)


def write_yolov8_detector(path: str | Path) -> Path:
    """Write the synthetic detector with ``yolov8n_plate_int8``'s signature to ``path``."""
    nodes, initialisers, score_map = _red_score_map(DETECTOR_INPUT, "s16")
    boxes = []
    scores = []
    for stride in _YOLOV8_STRIDES:
        cx, cy = _anchor_centres(DETECTOR_INPUT, stride)
        if stride == STRIDE:
            size = np.array(PLATE_BOX, dtype=np.float32)
            scores.append(f"{score_map}_row")
        else:
            size = np.array([stride, stride], dtype=np.float32)
            name = f"zeros{stride}"
            initialisers.append(numpy_helper.from_array(np.zeros((1, 1, cx.size), np.float32), name))
            scores.append(name)
        boxes.append(np.stack([cx, cy, np.full_like(cx, size[0]), np.full_like(cx, size[1])]))
    anchors = sum((DETECTOR_INPUT // s) ** 2 for s in _YOLOV8_STRIDES)
    initialisers += [
        numpy_helper.from_array(np.concatenate(boxes, axis=1)[np.newaxis], "anchor_boxes"),
        numpy_helper.from_array(np.array([1, 1, -1], dtype=np.int64), "row_shape"),
    ]
    nodes += [
        helper.make_node("Reshape", [score_map, "row_shape"], [f"{score_map}_row"]),
        helper.make_node("Concat", scores, ["scores"], axis=2),
        helper.make_node("Concat", ["anchor_boxes", "scores"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic_yolov8_plate",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, DETECTOR_INPUT, DETECTOR_INPUT])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, anchors])],
        initialisers,
    )
    return _save(graph, path, opset=17)


def write_yolov9_end2end_detector(path: str | Path, *, size: int = 384) -> Path:
    """Write a synthetic end-to-end detector of the kind open-image-models' YoloV9Detector runs."""
    nodes, initialisers, score_map = _red_score_map(size, "s16")
    cx, cy = _anchor_centres(size, STRIDE)
    width, height = PLATE_BOX
    zeros = np.zeros_like(cx)
    rows = np.stack([zeros, cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2, zeros], axis=1)
    initialisers += [
        numpy_helper.from_array(rows.astype(np.float32), "anchor_rows"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "column_axis"),
        numpy_helper.from_array(np.array(_END2END_THRESHOLD, dtype=np.float32), "threshold"),
    ]
    nodes += [
        helper.make_node("Reshape", [score_map, "flat"], ["scores"]),
        helper.make_node("Greater", ["scores", "threshold"], ["kept"]),
        helper.make_node("NonZero", ["kept"], ["kept_index"]),
        helper.make_node("Reshape", ["kept_index", "flat"], ["selected"]),
        helper.make_node("Gather", ["anchor_rows", "selected"], ["selected_rows"], axis=0),
        helper.make_node("Gather", ["scores", "selected"], ["selected_scores"], axis=0),
        helper.make_node("Unsqueeze", ["selected_scores", "column_axis"], ["score_column"]),
        helper.make_node("Concat", ["selected_rows", "score_column"], ["output"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic_yolov9_end2end_plate",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 7])],
        initialisers,
    )
    return _save(graph, path, opset=17)


def plate_image(
    text: str, width: int, height: int, *, offsets: Mapping[int, float] | None = None
) -> np.ndarray:
    """A BGR plate the synthetic models read as ``text`` (slot ``i`` painted ``offsets[i]`` off-level).

    Red 255 everywhere (what the detectors look for), green per band (what the OCR reads),
    blue 0. Slots beyond ``text`` are pad (green 0), as fast-plate-ocr pads short plates.
    """
    if len(text) > OCR_SLOTS:
        raise ValueError(f"the synthetic OCR reads at most {OCR_SLOTS} characters")
    symbols = text.ljust(OCR_SLOTS, OCR_PAD)
    plate = np.zeros((height, width, 3), dtype=np.uint8)
    plate[:, :, 2] = 255
    for slot, symbol in enumerate(symbols):
        value = level(symbol) + (offsets or {}).get(slot, 0.0)
        x1, x2 = round(slot * width / OCR_SLOTS), round((slot + 1) * width / OCR_SLOTS)
        plate[:, x1:x2, 1] = int(np.clip(round(value), 0, 255))
    return plate


def plate_box(image_size: tuple[int, int], anchor: tuple[int, int], input_size: int = DETECTOR_INPUT) -> Box:
    """Image box (x1, y1, x2, y2) that letterboxes exactly onto stride-16 anchor (row, col).

    Letterboxing scales by ``r = min(S / h, S / w)`` and centres the result; choose image sizes
    for which the box comes out in whole pixels (e.g. 320x320, 640x640, 640x480).
    """
    width, height = image_size
    ratio = min(input_size / height, input_size / width)
    pad_x = (input_size - round(width * ratio)) / 2
    pad_y = (input_size - round(height * ratio)) / 2
    row, col = anchor
    box_w, box_h = PLATE_BOX
    lx1 = (col + 0.5) * STRIDE - box_w / 2
    ly1 = (row + 0.5) * STRIDE - box_h / 2
    corners = (
        (lx1 - pad_x) / ratio,
        (ly1 - pad_y) / ratio,
        (lx1 + box_w - pad_x) / ratio,
        (ly1 + box_h - pad_y) / ratio,
    )
    if any(c != int(c) for c in corners):
        raise ValueError(f"anchor {anchor} does not map to whole pixels in a {width}x{height} image")
    x1, y1, x2, y2 = (int(c) for c in corners)
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise ValueError(f"anchor {anchor} puts the plate outside a {width}x{height} image")
    return (x1, y1, x2, y2)


def scene(
    image_size: tuple[int, int],
    plates: Sequence[tuple[str, tuple[int, int]]],
    *,
    input_size: int = DETECTOR_INPUT,
) -> tuple[np.ndarray, list[Box]]:
    """A dark BGR image with one synthetic plate per (text, anchor); returns it and the plate boxes."""
    width, height = image_size
    image = np.full((height, width, 3), (90, 60, 30), dtype=np.uint8)
    boxes = []
    for text, anchor in plates:
        x1, y1, x2, y2 = plate_box(image_size, anchor, input_size)
        image[y1:y2, x1:x2] = plate_image(text, x2 - x1, y2 - y1)
        boxes.append((x1, y1, x2, y2))
    return image, boxes


def _save(graph: onnx.GraphProto, path: str | Path, *, opset: int) -> Path:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="matcher.plates.reader_synthetic",
    )
    model.ir_version = 8  # as the real files (tf2onnx, onnx.quantize); any onnxruntime loads it
    onnx.checker.check_model(model)
    target = Path(path)
    onnx.save(model, str(target))
    return target
