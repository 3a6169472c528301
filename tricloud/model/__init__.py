"""Model delivery: `tricloud model train|register|approve|rollout|smoke|rollback|status` on AWS, Azure and GCP.

The commands read every name from the stack outputs and every setting from the stack config; the cloud work lives
in one module per cloud (`aws`, `azure`, `gcp`) behind the same `Delivery` interface (`base`).
"""
