"""collective_action.figures: every figure, drawn from stored results (never live objects).

The plotting API (:mod:`.api`)::

    fig, panels = draw(frame, "C2", panels=["success"], size="single")   # Figure, {name: Axes}
    save(fig, "figs/c2", formats=["pdf", "svg"])

``draw`` takes a figure kind of ``FIGURE_KINDS`` (C1 ... C7, stress, critical-mass, results),
the panel kinds to draw (``PANEL_KINDS``) and a page size of ``SIZES``; ``drawing(...)`` sets
the same options for a block of code that draws through the modules below.

One module per claim (``c1`` ... ``c7``: ``build(frame) -> Figure`` and ``draw(frame, out_dir)
-> paths``), ``stress`` and ``critical_mass`` for their tables; ``common`` holds the shared
panels (success on a log-alpha axis, theory as lines, experiments as points with 95% Student-t
intervals over seeds), ``style`` the paper style and page sizes, ``looks`` one colour and marker
per algorithm and strategy of the registries, ``panels`` the panel names, ``layout`` the panel
grid, ``output`` the file formats, ``options`` the drawing options in force.
"""

_EXPORTS = {
    "draw": "api", "save": "api", "build": "api", "Drawing": "api", "FIGURE_KINDS": "api",
    "drawing": "options", "PANEL_KINDS": "panels", "panels_of": "panels", "NoPanelSelected": "panels",
    "SIZES": "style", "FORMATS": "output", "algorithm_look": "looks", "strategy_look": "looks",
}


def __getattr__(name: str):
    # matplotlib is imported only when something that draws is asked for
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
