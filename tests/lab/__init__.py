"""The pe-plan lab: the seed's Layer 2 scenario on a real kernel, inside User-Mode Linux.

Host side: :mod:`tests.lab.guest` boots the guest, :mod:`tests.lab.harness` runs a scenario in
it and reads back its report, ``python -m tests.lab demo`` prints it. Guest side:
:mod:`tests.lab.scenario` builds the topology (:mod:`tests.lab.topology`), lets pe-plan set up
each node's router (:mod:`tests.lab.routers`) and runs the checks (:mod:`tests.lab.checks`).
"""
