"""Points and quadrilaterals as the platform writes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

__all__ = ["CORNERS", "Centred", "Point", "Quad", "point_in_quad", "quad_dict"]

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]
CORNERS: Final = ("left_top", "right_top", "right_bottom", "left_bottom")


class _Box(Protocol):
    @property
    def left(self) -> float: ...
    @property
    def right(self) -> float: ...
    @property
    def top(self) -> float: ...
    @property
    def bottom(self) -> float: ...


class Centred:
    """``cx`` and ``cy``, the centre of a box with ``left``, ``right``, ``top``, ``bottom``."""

    __slots__ = ()

    @property
    def cx(self: _Box) -> float:
        return (self.left + self.right) / 2

    @property
    def cy(self: _Box) -> float:
        return (self.top + self.bottom) / 2


def point_in_quad(point: Point, quad: Sequence[Point]) -> bool:
    """Whether ``point`` lies inside the convex quadrilateral ``quad``."""
    sign = 0.0
    for i in range(4):
        (x1, y1), (x2, y2) = quad[i], quad[(i + 1) % 4]
        cross = (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1)
        if cross != 0:
            if sign and (cross > 0) != (sign > 0):
                return False
            sign = cross
    return True


def quad_dict(quad: Sequence[Point]) -> dict[str, dict[str, dict[str, int]]]:
    """A quadrilateral as the platform writes it: ``{"pos": {corner: {x, y}}}``."""
    return {
        "pos": {
            name: {"x": round(x), "y": round(y)} for name, (x, y) in zip(CORNERS, quad, strict=True)
        }
    }
