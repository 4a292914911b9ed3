# Ordinal invariance timing for benchmarks/bench_invariance.py:
#   Rscript bench_invariance.R DATA.csv MODEL.lav
# The Wu & Estabrook (2016) sequence as semTools::measEq.syntax builds it (ID.fac = "std.lv"),
# lavaan::cfa with WLSMV (delta), fitMeasures per step and lavTestLRT between steps;
# prints JSON on the last line.
suppressPackageStartupMessages({library(lavaan); library(semTools)})
args <- commandArgs(trailingOnly = TRUE)
x <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
items <- setdiff(names(x), "group")
steps <- list(configural = "", thresholds = "thresholds", metric = c("thresholds", "loadings"),
              scalar = c("thresholds", "loadings", "intercepts"))
t <- system.time({
  fits <- lapply(steps, function(ge) {
    syn <- measEq.syntax(configural.model = model, data = x, ordered = items, group = "group",
                         parameterization = "delta", ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016",
                         group.equal = ge)
    cfa(as.character(syn), data = x, ordered = items, group = "group")
  })
  fm <- sapply(fits, fitMeasures, c("chisq", "df", "chisq.scaled", "cfi.scaled", "rmsea.scaled"))
  lrt <- lavTestLRT(fits$configural, fits$thresholds, fits$metric, fits$scalar)
})[["elapsed"]]
num <- function(v) paste0("[", paste(sprintf("%.8f", v), collapse = ", "), "]")
cat(sprintf('{"seconds": %.4f, "chisq": %s, "df": [%s], "chisq_scaled": %s, "cfi_scaled": %s, "rmsea_scaled": %s, "diff": %s}\n',
            t, num(fm["chisq", ]), paste(as.integer(fm["df", ]), collapse = ", "), num(fm["chisq.scaled", ]),
            num(fm["cfi.scaled", ]), num(fm["rmsea.scaled", ]), num(lrt[["Chisq diff"]][-1])))
