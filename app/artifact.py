"""File names of the model artifact folder (written by app.train, read by app.serve)."""

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
SCHEMA_FILE = "schema.json"
METRICS_FILE = "metrics.json"
REFERENCE_FILE = "reference.json"  # the drift job's reference profile (app.monitor.profile)
