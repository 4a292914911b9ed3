# Parallel analysis timing for benchmarks/bench_parallel.py:
#   Rscript bench_parallel.R DATA.csv N_ITER
# psych::fa.parallel defaults (fa="both", fm="minres", SMC=FALSE, sim=TRUE, quant=.95);
# prints the elapsed seconds of the call and the suggestions as JSON on the last line.
suppressPackageStartupMessages(library(psych))
args <- commandArgs(trailingOnly = TRUE)
x <- read.csv(args[1])[, 2:26]  # the 25 items (id first, demographics last)
n_iter <- as.integer(args[2])
set.seed(1)
t <- system.time(pa <- suppressMessages(fa.parallel(x, n.iter = n_iter, plot = FALSE)))[["elapsed"]]
cat(sprintf('{"seconds": %.4f, "nfact": %d, "ncomp": %d, "cores": %d}\n', t, pa$nfact, pa$ncomp,
            getOption("mc.cores", 2L)))
