"""Pulumi ComponentResources of tricloud: one package per concept, one module per cloud.

`<concept>/spec.py` holds the cloud-neutral Args, enums, defaults, validation and the output names every cloud
must provide; `<concept>/<cloud>.py` implements it with raw provider resources.
"""
