"""Training entry point shared by SageMaker, Azure ML and Vertex AI (``python -m app.train``)."""

from app.train.core import Hyperparameters, TrainingResult, train

__all__ = ["Hyperparameters", "TrainingResult", "train"]
