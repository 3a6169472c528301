"""Model serving: one predictor, adapters for SageMaker, Vertex AI and Azure ML."""
