"""collective_action.figures: one module per claim (C1-C7 of docs/RESULTS.md), drawn from stored results.

``c1`` ... ``c5`` each offer ``build(frame) -> Figure`` and ``draw(frame, out_dir) -> [png, pdf]``
for a results DataFrame (``collective_action.runs.sweep.read_results``); ``common`` holds the shared
panels (success on a log-alpha axis, theory as lines, experiments as points with 95% Student-t
intervals over seeds) and ``style`` the paper style (Okabe-Ito palette, readable fonts).
"""
