"""The service's code: the image test looks only at its dependencies."""
