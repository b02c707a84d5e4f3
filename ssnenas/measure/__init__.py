"""Measurements of the library's speed and behaviour, one module per measurement.

Each module holds the measuring logic (build inputs, time the paths, compare, summarise) and returns plain
dicts; the thin scripts in ``experiments/bench_*.py`` parse flags, call one module and print or write its
result. Like the drivers, these modules are generic: where a measurement needs searchers or a trainable
(``search_algos``, ``trainables``), the caller passes them in, so nothing here imports the upper floors.
"""
