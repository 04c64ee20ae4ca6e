"""Presentation outside the engine: reading run folders, tables, the paper's layout, figures.

``results`` reads and aggregates ``results.json`` files, ``tables`` and ``paper`` lay them out (terminal,
Markdown, CSV, LaTeX), ``stats`` holds the paired t-test, ``plots`` draws PNG figures (matplotlib, the
``plot`` extra), ``output`` writes files whole, ``progress`` is the built-in rich progress view (a listener of the run's typed
events, replaceable by a plugin). Nothing here is imported by a training run's loop.
"""
