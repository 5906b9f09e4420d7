"""Training support: the run manifest and the Axolotl plugin that writes it."""
