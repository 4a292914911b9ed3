# Parity fixtures for EFA, factorability, parallel analysis, CFA and invariance.
# Run from the repository root:  Rscript tests/r/factor.R
# Needs psych 2.2.9, GPArotation, lavaan 0.6-14. Writes tests/fixtures/factor/*.
suppressPackageStartupMessages({library(psych); library(lavaan)})
out <- "tests/fixtures/factor"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
wcsv <- function(x, f) write.csv(x, file.path(out, f), row.names = TRUE)
wfit <- function(x, f) write.csv(data.frame(measure = names(x), value = as.numeric(x)),
                                  file.path(out, f), row.names = FALSE)
cat("psych", as.character(packageVersion("psych")), "lavaan", as.character(packageVersion("lavaan")),
    "GPArotation", as.character(packageVersion("GPArotation")), "\n",
    file = file.path(out, "VERSIONS.txt"))

# ---- data ----------------------------------------------------------------------------
# The Python tests read these 2800 rows from tests/fixtures/scoring/bfi.csv (written by
# tests/r/scoring.R, same rows in the same order); not written here.
b25 <- bfi[, 1:25]
HS <- HolzingerSwineford1939
write.csv(HS, file.path(out, "hs1939.csv"), row.names = FALSE)

# ---- factorability ---------------------------------------------------------------------
k <- KMO(b25)
wcsv(data.frame(msa = c(overall = k$MSA, k$MSAi)), "kmo_bfi.csv")
bt <- suppressMessages(cortest.bartlett(b25, n = nrow(b25)))
wcsv(data.frame(chisq = bt$chisq, df = bt$df, p = bt$p.value), "bartlett_bfi.csv")

# ---- EFA -------------------------------------------------------------------------------
efa_out <- function(f, tag) {
  wcsv(unclass(f$loadings), paste0("efa_", tag, "_loadings.csv"))
  if (!is.null(f$Phi)) wcsv(f$Phi, paste0("efa_", tag, "_phi.csv"))
  wcsv(data.frame(h2 = f$communality), paste0("efa_", tag, "_h2.csv"))
}
efa_out(fa(b25, 5, fm = "ml", rotate = "oblimin"), "ml_oblimin")
efa_out(fa(b25, 5, fm = "minres", rotate = "oblimin"), "minres_oblimin")
efa_out(fa(b25, 5, fm = "pa", rotate = "varimax"), "pa_varimax")
efa_out(fa(b25, 5, fm = "minres", rotate = "promax"), "minres_promax")
efa_out(fa(b25, 5, fm = "minres", rotate = "geominQ"), "minres_geomin")
efa_out(fa(b25, 5, fm = "ml", rotate = "none"), "ml_none")

# ---- parallel analysis (defaults; random, so only the observed eigenvalues and the
# suggestions are compared) -----------------------------------------------------------------
set.seed(42)
pa <- fa.parallel(b25, n.iter = 20, plot = FALSE)
wcsv(data.frame(pc = pa$pc.values, fa = pa$fa.values), "parallel_bfi_observed.csv")
wcsv(data.frame(nfact = pa$nfact, ncomp = pa$ncomp), "parallel_bfi_suggest.csv")

# ---- CFA -------------------------------------------------------------------------------
hs_model <- "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"
fm_keys <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli",
             "logl", "unrestricted.logl", "aic", "bic", "rmsea", "rmsea.ci.lower",
             "rmsea.ci.upper", "srmr")
fm_rob <- c("chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
            "baseline.chisq.scaled", "cfi.scaled", "tli.scaled", "cfi.robust", "tli.robust",
            "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled",
            "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "srmr")
fit_ml <- cfa(hs_model, data = HS)
wfit(fitMeasures(fit_ml, fm_keys), "cfa_hs_ml_fit.csv")
wcsv(parameterEstimates(fit_ml), "cfa_hs_ml_est.csv")
wcsv(standardizedSolution(fit_ml), "cfa_hs_ml_std.csv")
wcsv(modindices(fit_ml, sort. = TRUE), "cfa_hs_ml_mi.csv")
wcsv(residuals(fit_ml, type = "cor")$cov, "cfa_hs_ml_rescor.csv")

fit_mlr <- cfa(hs_model, data = HS, estimator = "MLR")
wfit(fitMeasures(fit_mlr, c(fm_keys, fm_rob)), "cfa_hs_mlr_fit.csv")
wcsv(parameterEstimates(fit_mlr), "cfa_hs_mlr_est.csv")

fit_one <- cfa("g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9", data = HS)
wfit(fitMeasures(fit_one, fm_keys), "cfa_hs_one_fit.csv")
lrt <- lavTestLRT(fit_ml, fit_one)
wcsv(as.data.frame(lrt), "cfa_hs_lrt_three_vs_one.csv")

# ---- measurement invariance by school ------------------------------------------------------
conf <- cfa(hs_model, data = HS, group = "school")
metr <- cfa(hs_model, data = HS, group = "school", group.equal = "loadings")
scal <- cfa(hs_model, data = HS, group = "school", group.equal = c("loadings", "intercepts"))
inv <- rbind(configural = fitMeasures(conf, fm_keys), metric = fitMeasures(metr, fm_keys),
             scalar = fitMeasures(scal, fm_keys))
wcsv(inv, "invariance_hs_school_fit.csv")
wcsv(as.data.frame(lavTestLRT(conf, metr, scal)), "invariance_hs_school_lrt.csv")
wcsv(parameterEstimates(scal), "invariance_hs_school_scalar_est.csv")

# ---- robust (MLR) invariance, Satorra-Bentler 2001 scaled differences ------------------------
conf_r <- cfa(hs_model, data = HS, group = "school", estimator = "MLR")
metr_r <- cfa(hs_model, data = HS, group = "school", estimator = "MLR", group.equal = "loadings")
inv_r <- rbind(configural = fitMeasures(conf_r, c(fm_keys, fm_rob)),
               metric = fitMeasures(metr_r, c(fm_keys, fm_rob)))
wcsv(inv_r, "invariance_hs_school_mlr_fit.csv")
wcsv(as.data.frame(lavTestLRT(conf_r, metr_r)), "invariance_hs_school_mlr_lrt.csv")

# ---- FIML (missing = "ml") on HolzingerSwineford1939 with 10% of x1..x9 blanked (MCAR) --------
set.seed(20261127)
HSm <- HS
for (v in paste0("x", 1:9)) HSm[runif(nrow(HSm)) < 0.10, v] <- NA
write.csv(HSm, file.path(out, "hs1939_missing.csv"), row.names = FALSE, na = "")
fit_fiml <- cfa(hs_model, data = HSm, missing = "ml")
wfit(fitMeasures(fit_fiml, fm_keys), "cfa_hs_fiml_fit.csv")
wcsv(parameterEstimates(fit_fiml), "cfa_hs_fiml_est.csv")

# ---- ordinal CFA: DWLS on polychorics with the mean-and-variance adjusted test (WLSMV) --------
bfi10 <- na.omit(b25[, c(paste0("A", 1:5), paste0("C", 1:5))])
ord_model <- "A =~ A2 + A1 + A3 + A4 + A5\nC =~ C1 + C2 + C3 + C4 + C5"
fit_ord <- cfa(ord_model, data = bfi10, ordered = TRUE, estimator = "WLSMV")
wfit(fitMeasures(fit_ord, c("npar", "chisq", "df", "pvalue", "chisq.scaled", "pvalue.scaled",
                            "chisq.scaling.factor", "chisq.shift.parameters", "baseline.chisq",
                            "baseline.chisq.scaled", "cfi", "tli", "rmsea", "cfi.scaled", "tli.scaled",
                            "rmsea.scaled", "srmr")), "cfa_bfi_wlsmv_fit.csv")
wcsv(parameterEstimates(fit_ord), "cfa_bfi_wlsmv_est.csv")
wcsv(standardizedSolution(fit_ord), "cfa_bfi_wlsmv_std.csv")

# ---- EFA of polychoric correlations (psych::polychoric then fa) ------------------------------
pc <- polychoric(b25[, c(paste0("A", 1:5), paste0("C", 1:5))])$rho
efa_out(fa(pc, 2, n.obs = nrow(b25), fm = "minres", rotate = "oblimin"), "poly_minres_oblimin")

# ---- EFA fit statistics (psych's factor.stats) ------------------------------------------------
efa_fit <- function(f, tag) {
  s <- c(objective = f$objective, STATISTIC = f$STATISTIC, dof = f$dof, PVAL = f$PVAL, TLI = f$TLI,
         RMSEA = f$RMSEA[1], RMSEA.lower = f$RMSEA[2], RMSEA.upper = f$RMSEA[3], BIC = f$BIC,
         rms = f$rms, crms = f$crms, null.chisq = f$null.chisq, null.dof = f$null.dof)
  wfit(s, paste0("efa_", tag, "_fit.csv"))
}
efa_fit(fa(b25, 5, fm = "ml", rotate = "oblimin"), "ml_oblimin")
efa_fit(fa(b25, 5, fm = "minres", rotate = "oblimin"), "minres_oblimin")

# ---- robust FIML (MLR with missing = "ml") ----------------------------------------------------
fit_fiml_r <- cfa(hs_model, data = HSm, missing = "ml", estimator = "MLR")
wfit(fitMeasures(fit_fiml_r, c(fm_keys, fm_rob)), "cfa_hs_fiml_mlr_fit.csv")
wcsv(parameterEstimates(fit_fiml_r), "cfa_hs_fiml_mlr_est.csv")
