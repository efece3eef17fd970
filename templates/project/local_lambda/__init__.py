"""Run the project's functions on this machine, without Docker: ``python -m local_lambda``.

``invoke`` calls one function in-process on a sample event (or stdin) with the environment,
timeout and context that template.yaml gives it; ``serve`` answers real HTTP requests with the
API functions. AWS calls go to moto, with the template's tables, queues, buckets, topics and
streams created there first, unless ``--aws`` sends them to a real account.
See "Run functions locally" in README.md for what differs from AWS.
"""
