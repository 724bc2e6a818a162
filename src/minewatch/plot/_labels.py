"""Site labels that never overlap: a deterministic greedy placement, redone at every draw.

Each label is tried at eight positions around its site's outline (upper right first, as
cartographers do), on rings further and further out (a site much larger than its label is
labelled inside, at its representative point, first); the first position that stays inside the
map and overlaps no label placed before it and no map furniture (scale bar, north arrow) wins;
positions that also keep off other sites and off pools are preferred. Labels placed away from
their site get a thin leader line. A label with no free position is hidden rather than drawn
over another.

Placement works in display units at draw time (a ``_LabelLayer`` artist drawn before the
labels), so it stays right whatever size, dpi or layout the figure is saved at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patheffects import withStroke
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["label_sites", "site_labels"]

# Eight directions around a box, in order of preference: (dx, dy) in {-1, 0, 1}.
_DIRECTIONS = ((1, 1), (1, 0), (0, 1), (1, -1), (-1, 1), (-1, 0), (0, -1), (-1, -1))
_GID = "site-label"


class _LabelLayer(Artist):
    """Moves its labels (and leader lines) to free positions, then lets the Axes draw them."""

    def __init__(self, texts: list[Text], anchors: np.ndarray, boxes: np.ndarray,
                 leaders: list[Line2D], obstacles: list[Callable], *, gap_pt: float,
                 rings: int, avoid: np.ndarray | None = None) -> None:
        super().__init__()
        self.texts = texts
        self.anchors = anchors          # (n, 2) data coordinates
        self.boxes = boxes              # (n, 4) data bounds of each site: x0, y0, x1, y1
        self.leaders = leaders
        self.obstacles = obstacles      # callables renderer -> Bbox | None
        self.avoid = (np.empty((0, 4)) if avoid is None  # data bounds labels should not cover
                      else np.asarray(avoid, dtype=float).reshape(-1, 4))
        self.gap_pt = gap_pt
        self.rings = rings
        self.set_zorder(-1e6)           # drawn before everything else in the Axes
        self.hidden: list[str] = []

    def get_window_extent(self, renderer=None) -> Bbox:
        return Bbox.null()

    def get_tightbbox(self, renderer=None) -> Bbox | None:
        return None

    def draw(self, renderer) -> None:
        if not self.texts:
            return
        ax = self.axes
        to_display = ax.transData
        frame = ax.get_window_extent(renderer)
        gap = self.gap_pt * renderer.points_to_pixels(1.0)
        corners = to_display.transform(np.vstack([self.boxes[:, :2], self.boxes[:, 2:]]))
        n = len(self.texts)
        sites = np.column_stack([np.minimum(corners[:n], corners[n:]),
                                 np.maximum(corners[:n], corners[n:])])
        blocked = [b for f in self.obstacles if (b := f(renderer)) is not None]
        for text in self.texts:
            text.set_visible(True)
        sizes = np.array([(e.width, e.height) for e in
                          (t.get_window_extent(renderer) for t in self.texts)])
        # large sites are labelled inside, at their anchor; labels keep off small ones only
        large = ((sites[:, 2] - sites[:, 0] > 2.5 * sizes[:, 0])
                 & (sites[:, 3] - sites[:, 1] > 2.5 * sizes[:, 1]))
        index = np.arange(n)
        soft = np.empty((0, 4))
        if len(self.avoid):
            ends = to_display.transform(np.vstack([self.avoid[:, :2], self.avoid[:, 2:]]))
            m = len(self.avoid)
            soft = np.column_stack([np.minimum(ends[:m], ends[m:]),
                                    np.maximum(ends[:m], ends[m:])])
        fixed = np.array([[b.x0, b.y0, b.x1, b.y1] for b in blocked]).reshape(-1, 4)
        placed = np.empty((0, 4))
        self.hidden = []
        inverse = to_display.inverted()
        for i, text in enumerate(self.texts):
            w, h = sizes[i]
            box_i = sites[i]
            if large[i]:
                # a large site: its label goes inside, at its anchor (or around it)
                anchor = to_display.transform([self.anchors[i]])[0]
                centred = np.array([[anchor[0] - w / 2, anchor[1] - h / 2,
                                     anchor[0] + w / 2, anchor[1] + h / 2]])
                around, rings_around = _candidates(np.r_[anchor, anchor], w, h, gap,
                                                   self.rings)
                candidates = np.vstack([centred, around])
                ring_of = np.r_[0, rings_around + 1]
                ring_of[1:9] = 0  # right next to the anchor: no leader needed
            else:
                candidates, ring_of = _candidates(box_i, w, h, gap, self.rings)
            inside = ((candidates[:, 0] >= frame.x0) & (candidates[:, 2] <= frame.x1)
                      & (candidates[:, 1] >= frame.y0) & (candidates[:, 3] <= frame.y1))
            free = inside & ~_overlaps(candidates, placed, gap / 2) & ~_overlaps(
                candidates, fixed, gap / 2)
            others = sites[~large & (index != i)]
            off_sites = ~_overlaps(candidates, others, 0.0)
            off_pools = ~_overlaps(candidates, soft, 0.0)
            choice = np.array([], dtype=int)
            for preferred in (free & off_sites & off_pools, free & off_sites, free):
                choice = np.flatnonzero(preferred)
                if choice.size:
                    break
            if not choice.size:
                text.set_visible(False)
                self.leaders[i].set_visible(False)
                self.hidden.append(text.get_text())
                continue
            box = candidates[choice[0]]
            placed = np.vstack([placed, box])
            centre = inverse.transform([((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)])[0]
            text.set_position(centre)
            leader = self.leaders[i]
            if ring_of[choice[0]] > 0:
                anchor = to_display.transform([self.anchors[i]])[0]
                end = (np.clip(anchor[0], box[0], box[2]), np.clip(anchor[1], box[1], box[3]))
                leader.set_data(*inverse.transform([anchor, end]).T)
                leader.set_visible(True)
            else:
                leader.set_visible(False)
        self.stale = False


def _candidates(site: np.ndarray, w: float, h: float, gap: float, rings: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Label boxes (x0, y0, x1, y1) around ``site`` for each ring and direction."""
    x0, y0, x1, y1 = site
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    boxes, ring_of = [], []
    for ring in range(rings):
        d = gap + ring * (h + gap)
        for dx, dy in _DIRECTIONS:
            if dx > 0:
                left = x1 + d
            elif dx < 0:
                left = x0 - d - w
            else:
                left = cx - w / 2
            if dy > 0:
                bottom = y1 + d
            elif dy < 0:
                bottom = y0 - d - h
            else:
                bottom = cy - h / 2
            boxes.append((left, bottom, left + w, bottom + h))
            ring_of.append(ring)
    return np.asarray(boxes), np.asarray(ring_of)


def _overlaps(candidates: np.ndarray, boxes: np.ndarray, margin: float) -> np.ndarray:
    """For each candidate box, whether it overlaps any of ``boxes`` (grown by ``margin``)."""
    if not len(boxes):
        return np.zeros(len(candidates), dtype=bool)
    c = candidates[:, None, :]
    b = boxes[None, :, :]
    hit = ((c[..., 0] < b[..., 2] + margin) & (c[..., 2] > b[..., 0] - margin)
           & (c[..., 1] < b[..., 3] + margin) & (c[..., 3] > b[..., 1] - margin))
    return hit.any(axis=1)


def label_sites(ax: Axes, names: Sequence[str], anchors: np.ndarray, bounds: np.ndarray, *,
                fontsize: float = 6.0, colour: str = "black", halo: str = "white",
                obstacles: Sequence[Artist | Callable] = (), gap_pt: float = 2.0,
                rings: int = 3, avoid: np.ndarray | None = None) -> list[Text]:
    """Label sites on ``ax`` without overlaps; return the label Texts (in ``names`` order).

    Parameters
    ----------
    ax
        A map Axes (data coordinates: the map CRS).
    names
        The label of each site (its ID).
    anchors
        (n, 2) point of each site (data coordinates) leader lines start from.
    bounds
        (n, 4) bounds (x0, y0, x1, y1) of each site (data coordinates); labels go around them.
    fontsize, colour, halo
        Text size (pt), colour, and the colour of the halo that keeps it readable on imagery.
    obstacles
        Artists (or callables ``renderer -> Bbox``) labels must not cover.
    gap_pt
        Distance (pt) between a label and its site, and between labels.
    rings
        How many rings of positions to try before hiding a label.
    avoid
        (m, 4) data bounds of things labels should rather not cover (pools); a label covers
        them only when no other position is free.

    Returns
    -------
    list of matplotlib.text.Text
        The labels; their gid is ``"site-label-<name>"``.
    """
    blocks: list[Callable] = []
    for item in obstacles:
        if isinstance(item, Artist):
            blocks.append(lambda r, a=item: a.get_window_extent(r) if a.get_visible() else None)
        else:
            blocks.append(item)
    texts, leaders = [], []
    for name, anchor in zip(names, anchors, strict=True):
        texts.append(ax.text(anchor[0], anchor[1], str(name), ha="center", va="center",
                             fontsize=fontsize, color=colour, zorder=8, clip_on=True,
                             gid=f"{_GID}-{name}",
                             path_effects=[withStroke(linewidth=2.0, foreground=halo)]))
        leader = Line2D([], [], color=colour, linewidth=0.5, zorder=7, visible=False,
                        path_effects=[withStroke(linewidth=1.5, foreground=halo)])
        ax.add_line(leader)
        leaders.append(leader)
    layer = _LabelLayer(texts, np.asarray(anchors, dtype=float).reshape(-1, 2),
                        np.asarray(bounds, dtype=float).reshape(-1, 4), leaders, blocks,
                        gap_pt=gap_pt, rings=rings, avoid=avoid)
    ax.add_artist(layer)
    return texts


def site_labels(ax: Axes) -> list[Text]:
    """The visible site labels drawn on ``ax`` by the map functions (after a draw).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> site_labels(ax)
    []
    >>> plt.close(fig)
    """
    return [t for t in ax.texts
            if (t.get_gid() or "").startswith(_GID) and t.get_visible()]
