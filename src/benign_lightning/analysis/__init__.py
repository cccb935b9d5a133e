"""What reads finished runs (their results contract) and draws: figures, the memorization and
influence estimates, noise detectors, the planar reports, run-to-run comparisons. No Trainer."""
