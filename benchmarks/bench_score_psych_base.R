# Baseline for bench_score.py: psych::scoreItems the way psych's documentation and most
# psych users do it, with base R input and output (read.csv, write.csv).
# Usage: Rscript bench_score_psych_base.R INPUT.csv OUTPUT.csv
suppressPackageStartupMessages(library(psych))
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 2)
d <- read.csv(args[1])
keys <- list(
  A = c("-A1", "A2", "A3", "A4", "A5"),
  C = c("C1", "C2", "C3", "-C4", "-C5"),
  E = c("-E1", "-E2", "E3", "E4", "E5"),
  N = c("N1", "N2", "N3", "N4", "N5"),
  O = c("O1", "-O2", "O3", "O4", "-O5")
)
scored <- scoreItems(keys, d[, setdiff(names(d), "id")], impute = "none", min = 1, max = 6)
write.csv(data.frame(id = d$id, scored$scores), args[2], row.names = FALSE)
