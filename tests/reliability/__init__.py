"""Reliability and safety tests: hostile input, concurrent runs, storage and FRR faults, secrets.

Each test records what it tried into the session's report (:mod:`tests.reliability.report`),
printed at the end of every pytest run that includes them.
"""
