"""One evaluation for every method: natural and adversarial error over the ε grid, the noise-fit
statistics (``evaluate``), and the sanity checks of the attack behind each number (``checks``)."""
