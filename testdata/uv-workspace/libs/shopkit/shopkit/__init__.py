"""What the shop's Django services share: settings, the health view and populators."""
