"""Code every service shares: settings, the health view."""
