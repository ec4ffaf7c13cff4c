"""Orchestration: experiment files -> cells -> executors (serial, process pool, Ray) -> the store.

Above the pillars and the vocabulary: it imports both, and neither imports it.

* :mod:`.store`: the results store (one SQLite file per results folder, resumable);
* :mod:`.executors`: where cells run (serial, a local process pool, a Ray cluster);
* :mod:`.sweep`: run or resume every cell of one experiment file;
* :mod:`.reproduce`: a claim end to end (its shipped files, sweeps, figure).
"""
