"""Risk model: labels, training, validation, MLflow registry (champion / challenger)."""
