# Baseline for bench_score.py: the fastest plain R an evaluator would write for the same job.
# Usage: Rscript bench_score_datatable.R INPUT.csv OUTPUT.csv
# fread, reverse-key as 7 - x (range 1..6), mean of answered items per scale
# (rowMeans(na.rm = TRUE); no minimum-answered rule, no validation of codes), fwrite id + scores.
suppressPackageStartupMessages(library(data.table))
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
out <- data.table(id = dt$id)
for (scale in names(keys)) {
  k <- keys[[scale]]
  rev <- startsWith(k, "-")
  cols <- sub("^-", "", k)
  m <- as.matrix(dt[, ..cols])
  m[, rev] <- 7 - m[, rev]
  s <- rowMeans(m, na.rm = TRUE)
  s[is.nan(s)] <- NA
  set(out, j = scale, value = s)
}
fwrite(out, args[2])
