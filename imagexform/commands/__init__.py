"""Every built-in ``imagexform`` command, one module per name the user types: ``app``,
``batch``, ``doctor``, ``evaluate`` (``eval``), ``export`` (``export`` and ``import``),
``models``, ``plugins``, ``prepare``. ``train`` is defined in :mod:`imagexform.cli`.

The CLI imports these modules at start-up, so each keeps its module level to click and the
standard library and imports its workers (torch among them) inside the command bodies; a
command is argument parsing and output, the work lives in the package it names.
"""
