"""`objects`: moving objects: motion unlike the camera's in the backbone's field, filled out by the segmentation
network's foreground near it (preanalysis.learning.models.objects: `motion_evidence`, `foreground`), and
object ids that stay the same from frame to frame (handed on through Analyser.object_ids)."""

from __future__ import annotations

import cv2
import numpy as np

from .base import AnalysisContext, ModelAnalyser, register_analyser
from .flow_motion import backbone_outputs
from ..learning.models.objects import ObjectsModel, foreground, motion_evidence
from ..morphology import MIN_OBJECT_PIXELS


class ObjectTracker:
    """Connected components of the foreground, ids kept across frames by the largest overlap with the
    previous frame's objects (each old id goes to at most one new component); new objects get new ids."""

    def __init__(self, threshold: float = 0.5, min_pixels: int = MIN_OBJECT_PIXELS):
        self.threshold, self.min_pixels = threshold, min_pixels
        self.previous: np.ndarray | None = None
        self.next_id = 1

    def update(self, probability: np.ndarray) -> np.ndarray:
        """int32 id map (0 = background) for this frame."""
        n, labels, stats, _ = cv2.connectedComponentsWithStats((probability > self.threshold).astype(np.uint8), 8)
        ids = np.zeros(labels.shape, np.int32)
        candidates = []
        for label in range(1, n):
            if stats[label, cv2.CC_STAT_AREA] < self.min_pixels:
                continue
            region = labels == label
            if self.previous is not None:
                old, counts = np.unique(self.previous[region], return_counts=True)
                candidates += [(int(c), label, int(o)) for o, c in zip(old, counts) if o > 0]
            ids[region] = -label  # not yet assigned
        taken_old, taken_new = set(), set()
        for _, label, old in sorted(candidates, reverse=True):
            if old not in taken_old and label not in taken_new:
                ids[ids == -label] = old
                taken_old.add(old)
                taken_new.add(label)
        for label in np.unique(ids[ids < 0]):
            ids[ids == label] = self.next_id
            self.next_id += 1
        self.previous = ids
        return ids


@register_analyser
class Objects(ModelAnalyser):
    """Map `objects`: moving-object probability; object_ids() gives the current frame's tracked object ids."""

    name = "objects"
    maps = ("objects",)
    model_class = ObjectsModel

    def reset(self) -> None:
        self.tracker = ObjectTracker()  # a new shot starts with new ids
        self.ids: np.ndarray | None = None
        self.before: np.ndarray | None = None  # the frame before ctx.previous (the shot's first until then)

    def object_ids(self) -> np.ndarray | None:
        return self.ids

    def process(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        prev = ctx.luma if ctx.previous is None else ctx.previous
        before = prev if self.before is None else self.before
        prob = self.model.infer(before, prev, ctx.luma)
        self.before = prev
        flow, _ = backbone_outputs(ctx, str(self.model.device))
        objects = foreground(prob, motion_evidence(ctx.luma, prev, flow[0].cpu().numpy(), ctx.scale))
        self.ids = self.tracker.update(objects)
        return {"objects": objects}
