# Baseline for bench_score.py: score the bfi-like file with psych::scoreItems, as an R user would.
# Usage: Rscript bench_score_psych.R INPUT.csv OUTPUT.csv
# Reads with data.table::fread, scores the five bfi scales with psych's keys
# (impute = "none": mean of the answered keyed items; reverse as min + max - x with min 1, max 6),
# writes id + scores with fwrite.
suppressPackageStartupMessages({
  library(data.table)
  library(psych)
})
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 2)
dt <- fread(args[1])
keys <- list(
  A = c("-A1", "A2", "A3", "A4", "A5"),
  C = c("C1", "C2", "C3", "-C4", "-C5"),
  E = c("-E1", "-E2", "E3", "E4", "E5"),
  N = c("N1", "N2", "N3", "N4", "N5"),
  O = c("O1", "-O2", "O3", "O4", "-O5")
)
items <- as.data.frame(dt[, !"id"])
scored <- scoreItems(keys, items, impute = "none", min = 1, max = 6)
out <- data.table(id = dt$id, scored$scores)
fwrite(out, args[2])
