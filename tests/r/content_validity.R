# Oracle for Aiken's V and its score confidence interval (Penfield & Giacobbi 2004).
# Run from the repository root:  Rscript tests/r/content_validity.R
# The interval is the Wilson score interval of V read as a proportion of n*k trials, so base
# R's prop.test(x = sum(r - lo), n = n * k, correct = FALSE)$conf.int is the reference;
# V = sum(r - lo) / (n * k) (Aiken 1985). Writes tests/fixtures/content/aiken_v.csv.
out <- "tests/fixtures/content"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
cases <- list(
  list(id = "six_raters",   r = c(4, 4, 3, 4, 3, 4),            lo = 1, hi = 4, level = 0.95),
  list(id = "mixed_1_4",    r = c(1, 2, 3, 4, 2, 3, 4, 4),      lo = 1, hi = 4, level = 0.95),
  list(id = "all_top",      r = c(4, 4, 4, 4, 4),               lo = 1, hi = 4, level = 0.95),
  list(id = "all_bottom",   r = c(1, 1, 1),                     lo = 1, hi = 4, level = 0.95),
  list(id = "five_point",   r = c(5, 4, 4, 3, 5, 5, 2, 4, 4, 5), lo = 1, hi = 5, level = 0.95),
  list(id = "zero_to_six",  r = c(6, 5, 5, 4, 6, 3, 6),         lo = 0, hi = 6, level = 0.90),
  list(id = "ten_raters99", r = c(3, 4, 4, 2, 3, 4, 3, 3, 4, 4), lo = 1, hi = 4, level = 0.99)
)
rows <- lapply(cases, function(c) {
  k <- c$hi - c$lo
  n <- length(c$r)
  x <- sum(c$r - c$lo)
  ci <- prop.test(x, n * k, conf.level = c$level, correct = FALSE)$conf.int
  data.frame(id = c$id, ratings = paste(c$r, collapse = " "), lo = c$lo, hi = c$hi, level = c$level,
             v = x / (n * k), lower = ci[1], upper = ci[2])
})
res <- do.call(rbind, rows)
write.csv(format(res, digits = 17), file.path(out, "aiken_v.csv"), row.names = FALSE, quote = FALSE)
writeLines(R.version.string, file.path(out, "VERSIONS.txt"))
