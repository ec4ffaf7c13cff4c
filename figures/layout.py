"""Placing rows of panels on a page with a fixed number of panel columns.

A figure is made of rows of panels that belong together (one experiment's success, clean and
worst-group panels; C7's interaction maps). A row with more panels than the page has columns
wraps onto further grid rows, so every panel keeps the width of one column whatever the page.
"""

from __future__ import annotations

from typing import Sequence


def wrap(count: int, columns: int) -> list[int]:
    """Panels per grid row when ``count`` panels wrap into ``columns`` columns ([3, 3, 1] for 7
    panels in 3 columns; [] for none)."""
    if columns < 1:
        raise ValueError(f"a page needs at least one column, got {columns}")
    return [min(columns, count - start) for start in range(0, count, columns)]


def panel_rows(fig, rows: Sequence[int], columns: int) -> list[list]:
    """Axes for rows of ``rows[i]`` panels each, wrapped into ``columns`` columns, on one grid
    spanning ``fig`` (every grid row equally high). Returns the axes of each row, in order."""
    grid_rows = [wrap(n, columns) for n in rows]
    n_grid_rows = sum(len(parts) for parts in grid_rows)
    if not n_grid_rows:
        return [[] for _ in rows]
    grid = fig.add_gridspec(n_grid_rows, columns)
    out, g = [], 0
    for parts in grid_rows:
        axes = []
        for n in parts:
            axes += [fig.add_subplot(grid[g, c]) for c in range(n)]
            g += 1
        out.append(axes)
    return out
