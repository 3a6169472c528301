"""Serverless API handlers (AWS Lambda, Azure Functions, Cloud Functions) over one shared core.

Cloud SDK imports live only in the per-cloud modules, so each bundle carries only its own SDK.
"""
