# Monte Carlo planning loop in R for benchmarks/bench_plan.py:
#   Rscript bench_plan.R POPULATION.lav ANALYSIS.lav N1,N2,... REPS SEED
# For each n and replication: lavaan::simulateData from the population model (standardised
# loadings, factor correlations, thresholds: ordinal items), then lavaan::cfa(std.lv = TRUE, ML)
# with the same analysis model as peerscale plan (labelled loadings and residuals, omega per
# scale as :=), fitMeasures (cfi, rmsea, srmr) and parameterEstimates: the work of one
# replication. Prints JSON on the last line: seconds in total and per replication, converged.
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
pop <- paste(readLines(args[1]), collapse = "\n")
model <- paste(readLines(args[2]), collapse = "\n")
ns <- as.integer(strsplit(args[3], ",")[[1]])
reps <- as.integer(args[4])
seed <- as.integer(args[5])
converged <- 0L
cover <- c()
t <- system.time({
  for (n in ns) for (r in seq_len(reps)) {
    d <- suppressWarnings(simulateData(pop, sample.nobs = n, seed = seed * 100000 + n * 1000 + r))
    fit <- try(cfa(model, data = d, std.lv = TRUE, estimator = "ML"), silent = TRUE)
    if (inherits(fit, "try-error") || !lavInspect(fit, "converged")) next
    converged <- converged + 1L
    fm <- fitMeasures(fit, c("cfi", "rmsea", "srmr"))
    pe <- parameterEstimates(fit)
  }
})[["elapsed"]]
total <- length(ns) * reps
cat(sprintf('{"seconds": %.3f, "per_rep": %.5f, "reps": %d, "converged": %d, "lavaan": "%s"}\n',
            t, t / total, total, converged, as.character(packageVersion("lavaan"))))
