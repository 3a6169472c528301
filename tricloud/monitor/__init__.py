"""`tricloud monitor`: drift on files, the stack's drift job, reference publishing, guarded retraining, the offline
scenario. The drift logic itself is cloud-neutral and lives in app/monitor (it runs on the platforms' compute)."""
