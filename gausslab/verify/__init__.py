"""Every identity of the library as a check: closed form vs Monte Carlo or a precise reference.

``registry`` holds the ``Check``/``Result`` types and the ``@check`` decorator, ``checks/``
the checks by topic, and ``runner`` runs them with calibrated z-tests (``gausslab verify``).
"""
