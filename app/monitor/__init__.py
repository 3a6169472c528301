"""Model monitoring, cloud-neutral: capture reading, the reference profile, drift statistics, the drift job.

Imports numpy only (plus a cloud SDK for the store or publisher a run uses): the job runs on the Spark platforms'
Python (EMR Serverless, Databricks, Dataproc Serverless) as well as locally. Never imports Pulumi or tricloud.
"""
