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

# The Python tests read these 2800 rows from tests/fixtures/scoring/bfi.csv (written by
# tests/r/scoring.R from psych's copy of bfi, same rows in the same order); not written here.
data(bfi, package = "psychTools")
items <- bfi[, 1:25]

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

# ------------------------------------------------------------------ alpha (pairwise and listwise)
alpha_json <- function(a, n) {
  t <- a$total
  s <- a$item.stats
  d <- a$alpha.drop
  list(n = n, alpha = t$raw_alpha, alpha_std = t$std.alpha, g6 = t[["G6(smc)"]],
       average_r = t$average_r, s_n = t[["S/N"]], ase = t$ase, median_r = t$median_r,
       var_r = unname(a$var.r), total_mean = t$mean, total_sd = t$sd,
       feldt = unname(c(a$feldt$lower.ci, a$feldt$upper.ci)),
       items = lapply(setNames(seq_len(nrow(s)), sub("-$", "", rownames(s))), function(i) list(
         n = s$n[i], raw_r = s$raw.r[i], std_r = s$std.r[i], r_cor = s$r.cor[i], r_drop = s$r.drop[i],
         mean = s$mean[i], sd = s$sd[i], alpha_if_dropped = d$raw_alpha[i],
         alpha_std_if_dropped = d$std.alpha[i], g6_if_dropped = d[["G6(smc)"]][i],
         average_r_if_dropped = d$average_r[i], s_n_if_dropped = d[["S/N"]][i],
         alpha_se_if_dropped = d[["alpha se"]][i], var_r_if_dropped = d$var.r[i],
         median_r_if_dropped = d$med.r[i])))
}
alphas <- list()
for (nm in names(keys)) {
  x <- keyed[, scale_items[[nm]]]
  pw <- alpha(x, check.keys = FALSE, warnings = FALSE)
  cc <- na.omit(x)
  lw <- alpha(cc, check.keys = FALSE, warnings = FALSE)
  alphas[[nm]] <- list(keys = keys[[nm]], pairwise = alpha_json(pw, nrow(x)),
                       listwise = alpha_json(lw, nrow(cc)))
}
put(alphas, "psych_alpha.json")

# ------------------------------------------------------------------ omega and ordinal versions
om_json <- function(o, nf) {
  res <- list(n_factors = nf, omega_total = o$omega.tot, alpha = o$alpha, g6 = o$G6,
              h2 = unname(o$schmid$sl[, "h2"]))
  if (nf > 1) {
    res$omega_h <- o$omega_h
    res$omega_limit <- o$omega.lim
    res$ecv <- unname(o$ECV)
    res$general <- unname(o$schmid$sl[, 1])
    res$groups <- unname(as.matrix(o$omega.group))
    res$flipped <- sub("-$", "", grep("-$", rownames(o$schmid$sl), value = TRUE))
  }
  res
}
quiet <- function(expr) suppressMessages(suppressWarnings(expr))
omegas <- list()
for (nm in names(keys)) {
  x <- keyed[, scale_items[[nm]]]
  poly <- quiet(polychoric(x))
  oa <- quiet(alpha(poly$rho, check.keys = FALSE, warnings = FALSE))
  omegas[[nm]] <- list(
    minres = om_json(quiet(omega(x, nfactors = 1, plot = FALSE)), 1),
    ml = om_json(quiet(omega(x, nfactors = 1, fm = "ml", plot = FALSE)), 1),
    ordinal = om_json(quiet(omega(x, nfactors = 1, poly = TRUE, plot = FALSE)), 1),
    ordinal_alpha = list(alpha = oa$total$raw_alpha, g6 = oa$total[["G6(smc)"]],
                         average_r = oa$total$average_r, r_drop = unname(oa$item.stats$r.drop),
                         r_cor = unname(oa$item.stats$r.cor),
                         alpha_if_dropped = unname(oa$alpha.drop$raw_alpha)))
}
all25 <- keyed[, unlist(scale_items)]
omegas[["bfi25_5"]] <- om_json(quiet(omega(all25, nfactors = 5, plot = FALSE)), 5)
omegas[["bfi25_3"]] <- om_json(quiet(omega(all25, nfactors = 3, plot = FALSE)), 3)
omegas[["agree_consc_2"]] <- om_json(quiet(omega(keyed[, c(scale_items$agree, scale_items$conscientious)],
                                                 nfactors = 2, plot = FALSE)), 2)
put(omegas, "psych_omega.json")

# ------------------------------------------------------------------ item descriptives (type 3 skew)
desc <- describe(items, type = 3)
put(list(columns = colnames(items), mean = desc$mean, sd = desc$sd, skew = desc$skew,
         kurtosis = desc$kurtosis, n = desc$n), "psych_describe.json")

# ------------------------------------------------------------------ ICC (two waves, then three raters)
set.seed(20240607)
true <- rnorm(120, 3.5, 0.6)
waves <- data.frame(id = sprintf("p%03d", 1:120), w1 = round(true + rnorm(120, 0, 0.35), 2),
                    w2 = round(true + 0.15 + rnorm(120, 0, 0.35), 2),
                    w3 = round(true - 0.1 + rnorm(120, 0, 0.5), 2))
waves$w2[c(7, 40)] <- NA  # two people missed wave 2: left out listwise
write.csv(waves, file.path(out, "icc_waves.csv"), row.names = FALSE, na = "")
icc_json <- function(x) {
  r <- ICC(na.omit(x), lmer = FALSE)$results
  list(n = nrow(na.omit(x)), icc = r$ICC, F = r$F, df1 = r$df1, df2 = r$df2, p = r$p,
       lower = r[["lower bound"]], upper = r[["upper bound"]])
}
put(list(types = c("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"),
         two_waves = icc_json(waves[, c("w1", "w2")]),
         three_raters = icc_json(waves[, c("w1", "w2", "w3")])), "psych_icc.json")
