# Parity fixtures for peerscale's reliability, item analysis, omega, polychoric and ICC.
# R is the oracle, never a runtime dependency: run this once (psych 2.2.9) and commit what it
# writes to tests/fixtures/reliability/. Run from the repository root:
#   Rscript tests/r/reliability.R
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("psych")) == "2.2.9")
out <- "tests/fixtures/reliability"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
put <- function(x, name) {
  writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE),
             file.path(out, name))
}

data(bfi, package = "psychTools")
items <- bfi[, 1:25]
write.csv(items, file.path(out, "bfi.csv"), row.names = FALSE, na = "")

# the five bfi scales with psych's keys; reversed as (1 + 6) - x before any analysis
keys <- list(agree = c("-A1", "A2", "A3", "A4", "A5"),
             conscientious = c("C1", "C2", "C3", "-C4", "-C5"),
             extraversion = c("-E1", "-E2", "E3", "E4", "E5"),
             neuroticism = c("N1", "N2", "N3", "N4", "N5"),
             openness = c("O1", "-O2", "O3", "O4", "-O5"))
keyed <- items
for (k in unlist(keys)) if (startsWith(k, "-")) {
  v <- sub("-", "", k)
  keyed[[v]] <- 7 - keyed[[v]]
}
scale_items <- lapply(keys, function(k) sub("-", "", k))

# ------------------------------------------------------------------ polychoric
pc <- polychoric(items)
put(list(columns = colnames(items), rho = unname(pc$rho), tau = unname(pc$tau)),
    "psych_polychoric.json")
# unequal numbers of categories switch psych to pair-wise thresholds with the 0.5 correction
uneq <- items[1:400, c("A2", "A3", "A4", "A5", "C1")]
uneq$A5[uneq$A5 == 6] <- 5
uneq$C1[uneq$C1 <= 2] <- 2
write.csv(uneq, file.path(out, "uneven.csv"), row.names = FALSE, na = "")
pc2 <- suppressWarnings(polychoric(uneq))
put(list(columns = colnames(uneq), rho = unname(pc2$rho)), "psych_polychoric_uneven.json")
