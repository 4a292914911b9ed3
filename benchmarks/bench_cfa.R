# Six-factor CFA timing for benchmarks/bench_cfa.py:
#   Rscript bench_cfa.R DATA.csv MODEL.lav ESTIMATOR      (ML, MLR or WLSMV)
# lavaan::cfa (defaults; WLSMV with ordered = TRUE) + fitMeasures + standardizedSolution;
# prints JSON on the last line.
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
x <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
est <- if (length(args) > 2) args[3] else "ML"
scaled <- est != "ML"
keys <- c("chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr")
if (scaled) keys <- c(keys, "chisq.scaled")
t <- system.time({
  fit <- if (est == "WLSMV") cfa(model, data = x, ordered = TRUE, estimator = "WLSMV") else
    cfa(model, data = x, estimator = est)
  fm <- fitMeasures(fit, keys)
  std <- standardizedSolution(fit)
})[["elapsed"]]
cat(sprintf('{"seconds": %.4f, "chisq": %.8f, "df": %d, "cfi": %.8f, "tli": %.8f, "rmsea": %.8f, "rmsea_lo": %.8f, "rmsea_hi": %.8f, "srmr": %.8f, "chisq_scaled": %s, "iterations": %d}\n',
            t, fm[["chisq"]], as.integer(fm[["df"]]), fm[["cfi"]], fm[["tli"]], fm[["rmsea"]],
            fm[["rmsea.ci.lower"]], fm[["rmsea.ci.upper"]], fm[["srmr"]],
            if (scaled) sprintf("%.8f", fm[["chisq.scaled"]]) else "null", lavInspect(fit, "iterations")))
