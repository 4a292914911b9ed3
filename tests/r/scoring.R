# Parity fixture for `peerscale score` (issue 2): psych::scoreItems on bfi.
# Run from the repository root:  Rscript tests/r/scoring.R
# Writes tests/fixtures/scoring/bfi.csv (the 25 items, gender, education, age with an id)
# and tests/fixtures/scoring/bfi_scores.csv (psych's five scale means, impute = "none").
suppressPackageStartupMessages(library(psych))
out <- "tests/fixtures/scoring"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
data(bfi, package = "psych")
keys <- list(agree = c("-A1", "A2", "A3", "A4", "A5"),
             conscientious = c("C1", "C2", "C3", "-C4", "-C5"),
             extraversion = c("-E1", "-E2", "E3", "E4", "E5"),
             neuroticism = c("N1", "N2", "N3", "N4", "N5"),
             openness = c("O1", "-O2", "O3", "O4", "-O5"))
items <- bfi[, 1:25]
sc <- scoreItems(keys, items, impute = "none", min = 1, max = 6)
ids <- data.frame(id = rownames(bfi))
write.csv(cbind(ids, bfi), file.path(out, "bfi.csv"), row.names = FALSE, na = "")
scores <- cbind(ids, as.data.frame(sc$scores))
write.csv(format(scores, digits = 17), file.path(out, "bfi_scores.csv"), row.names = FALSE, na = "", quote = FALSE)
writeLines(c(paste("psych", as.character(packageVersion("psych"))), R.version.string),
           file.path(out, "VERSIONS.txt"))
