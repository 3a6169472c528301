"""Feature engineering shared by the Spark job, training and serving.

Importing this package never imports PySpark: serving containers do not ship it. The Spark job
lives in ``app.features.job`` (entry point ``python -m app.features``).
"""

from app.features.definitions import (
    FEATURE_NAMES,
    FEATURES,
    featurize_frame,
    featurize_record,
    featurize_records,
)

__all__ = ["FEATURES", "FEATURE_NAMES", "featurize_frame", "featurize_record", "featurize_records"]
