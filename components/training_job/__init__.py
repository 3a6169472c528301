"""TrainingJob: the identity, image and locations a training run needs; the run itself is the deploy step's."""

from components.training_job.spec import TrainingJobArgs

__all__ = ["TrainingJobArgs"]
