"""Batch jobs on Ray (the optional ``lmrec[ray]`` extra): catalogue encoding, all-user scoring
and hyper-parameter search. Without Ray, lmrec runs the same jobs in one process."""
