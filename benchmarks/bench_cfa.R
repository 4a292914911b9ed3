# Six-factor CFA timing for benchmarks/bench_cfa.py:
#   Rscript bench_cfa.R DATA.csv MODEL.lav
# lavaan::cfa (ML, defaults) + fitMeasures + standardizedSolution; prints JSON on the last line.
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
x <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
t <- system.time({
  fit <- cfa(model, data = x)
  fm <- fitMeasures(fit, c("chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr"))
  std <- standardizedSolution(fit)
})[["elapsed"]]
cat(sprintf('{"seconds": %.4f, "chisq": %.8f, "df": %d, "cfi": %.8f, "tli": %.8f, "rmsea": %.8f, "rmsea_lo": %.8f, "rmsea_hi": %.8f, "srmr": %.8f, "iterations": %d}\n',
            t, fm[["chisq"]], as.integer(fm[["df"]]), fm[["cfi"]], fm[["tli"]], fm[["rmsea"]],
            fm[["rmsea.ci.lower"]], fm[["rmsea.ci.upper"]], fm[["srmr"]], lavInspect(fit, "iterations")))
