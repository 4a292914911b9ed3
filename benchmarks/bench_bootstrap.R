# Bootstrap interval of alpha with psych: 2,000 resamples of bfi's agreeableness items
# (2,800 rows x 5 items, A1 reversed as 7 - x), the same data peerscale's benchmark uses.
# Usage: Rscript benchmarks/bench_bootstrap.R FILE N_ITER MC_CORES
# Prints one JSON line: seconds spent in psych::alpha(n.iter = N_ITER) and its interval.
suppressPackageStartupMessages(library(psych))
args <- commandArgs(trailingOnly = TRUE)
x <- read.csv(args[1])[, c("A1", "A2", "A3", "A4", "A5")]
x$A1 <- 7 - x$A1
options(mc.cores = as.integer(args[3]))  # psych runs its resamples with parallel::mclapply
set.seed(1)
t <- system.time(a <- alpha(x, n.iter = as.integer(args[2]), check.keys = FALSE, warnings = FALSE))
cat(sprintf('{"seconds": %.4f, "cpu": %.4f, "lower": %.6f, "upper": %.6f, "alpha": %.6f}\n',
            t[["elapsed"]], t[["user.self"]] + t[["sys.self"]] + t[["user.child"]] + t[["sys.child"]],
            a$boot.ci[1], a$boot.ci[3], a$total$raw_alpha))
