"""Security policies: the catalogue (rules/), the Pulumi policy pack objects (pack.py), the offline evaluator
(evaluate.py) behind `tricloud policy check`, and the `tricloud:policy` config (exceptions, spec.py).

The policy pack itself lives in the repository's policy/ folder (`pulumi preview --policy-pack policy`); it only
imports `tricloud.policy.pack`, so the pack and the offline check run the same objects.
"""
