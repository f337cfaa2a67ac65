"""What the package knows of each model, and the constructor's keyword checks."""
