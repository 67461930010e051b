"""The steps of :func:`~diffpy.crystalnet.solver.pipeline.solve`, one module
each.

Every step module has a ``NAME`` (its key in ``SolveResult.timings``) and a
``run(state)`` function that reads and extends the
:class:`~diffpy.crystalnet.solver.state.SolveState`.  The pipeline runs them
in the order of :data:`diffpy.crystalnet.solver.pipeline.STEPS`; a new step
is a new module here and one entry there.
"""
