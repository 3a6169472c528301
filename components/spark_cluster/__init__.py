"""SparkCluster: a Spark platform that scales to zero by default, with a job identity scoped to the lake."""

from components.spark_cluster.spec import SparkClusterArgs, SparkMode

__all__ = ["SparkClusterArgs", "SparkMode"]
