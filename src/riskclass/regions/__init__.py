"""Regional and industry risk analysis (issue 14): cells, empirical-Bayes shrinkage, trends, recommendations."""
