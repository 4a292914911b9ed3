# Parity fixtures for the review of issue 9 (branch issue-9c): dyad agreement (psych::ICC), nesting
# ICC(1) (lme4::lmer REML) and cfa(cluster=) (lavaan 0.6-14) on fresh data with the shapes the
# original fixtures (tests/r/design.R, tests/r/mediation.R) do not have: tiny samples, a rater
# variance below zero (psych's lmer default then differs from the ANOVA ICC), integer ties, one
# huge caseload beside singletons, two clusters only, numeric worker ids with blanks, and a
# clustered CFA with missing answers (listwise) and clusters of one.
# R is the oracle, never a runtime dependency. Run from the repository root:
#   Rscript tests/r/design_review.R
suppressPackageStartupMessages({
  library(psych)
  library(lme4)
  library(lavaan)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("psych")) == "2.2.9", as.character(packageVersion("lavaan")) == "0.6.14")
out <- "tests/fixtures/design_review"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
put <- function(x, name) {
  writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE), file.path(out, name))
}

# ------------------------------------------------------------------ dyads
set.seed(90101)
t40 <- rnorm(40, 3.5, 0.15)
dy <- list(
  # rater means almost equal and weak targets: MSJ < MSE, so psych's REML sets the rater variance to 0
  negative_rater = {y <- round(t40 + rnorm(40, 0, .6), 3); p <- t40 + rnorm(40, 0, .6)
                    data.frame(y = y, p = round(p - mean(p) + mean(y) + 0.002, 3))},
  tiny = data.frame(y = c(2.5, 3.75, 4.25), p = c(3, 3.5, 4.75)),
  ties = {t <- sample(1:5, 60, TRUE); data.frame(y = pmin(5, pmax(1, t + sample(-1:1, 60, TRUE))),
                                               p = pmin(5, pmax(1, t + sample(c(0, 0, 1), 60, TRUE))))},
  # targets with less variance than the error: MSB < MSE, ICCs below zero
  negative_icc = {y <- rnorm(30, 3, .8); data.frame(y = round(y, 3), p = round(3.3 - 0.5 * (y - 3) + rnorm(30, 0, .5), 3))},
  # the worker rates every relationship exactly 0.25 higher: no residual variance
  constant_shift = {y <- round(runif(25, 1.5, 4.5), 2); data.frame(y = y, p = y + 0.25)}
)
res <- list()
for (name in names(dy)) {
  d <- dy[[name]]
  write.csv(d, file.path(out, paste0("dyad_", name, ".csv")), row.names = FALSE)
  a <- ICC(d, lmer = FALSE)$results
  dflt <- suppressMessages(suppressWarnings(ICC(d)$results))
  diff <- d$p - d$y
  # t.test() stops on constant differences; the interval then has width 0
  ci <- if (sd(diff) > 1e-12) unname(t.test(d$p, d$y, paired = TRUE)$conf.int[1:2]) else rep(mean(diff), 2)
  res[[name]] <- list(n_pairs = nrow(d),
    icc_a1 = a$ICC[a$type == "ICC2"], icc_c1 = a$ICC[a$type == "ICC3"],
    icc_a1_ci = c(a$`lower bound`[a$type == "ICC2"], a$`upper bound`[a$type == "ICC2"]),
    icc_c1_ci = c(a$`lower bound`[a$type == "ICC3"], a$`upper bound`[a$type == "ICC3"]),
    icc_a1_lmer = dflt$ICC[dflt$type == "ICC2"], icc_c1_lmer = dflt$ICC[dflt$type == "ICC3"],
    r = cor(d$y, d$p), mean_diff = mean(diff), mean_diff_ci = ci,
    loa = c(mean(diff) - 1.96 * sd(diff), mean(diff) + 1.96 * sd(diff)))
}
put(res, "psych_icc.json")

# ------------------------------------------------------------------ nesting
lmer_icc <- function(d) {
  fit <- suppressMessages(lmer(score ~ 1 + (1 | worker), data = d, REML = TRUE))
  vc <- as.data.frame(VarCorr(fit))
  tau2 <- vc$vcov[vc$grp == "worker"]; sig2 <- vc$vcov[vc$grp == "Residual"]
  a <- anova(lm(score ~ factor(worker), data = d))
  msb <- a$`Mean Sq`[1]; msw <- a$`Mean Sq`[2]
  nj <- table(d$worker); N <- nrow(d); J <- length(nj)
  n0 <- (N - sum(nj^2) / N) / (J - 1)
  icc1 <- tau2 / (tau2 + sig2)
  list(n = N, n_clusters = J, mean_cluster_size = N / J, tau2 = tau2, sigma2 = sig2, icc1 = icc1,
       icc1_anova = (msb - msw) / (msb + (n0 - 1) * msw), design_effect = 1 + (N / J - 1) * icc1,
       singular = isSingular(fit), reml_criterion = unname(REMLcrit(fit)))
}
set.seed(90102)
mk <- function(sizes, tau, sigma) {
  w <- rep(seq_along(sizes), sizes)
  u <- rnorm(length(sizes), 0, tau)[w]
  data.frame(worker = w, score = round(3 + u + rnorm(length(w), 0, sigma), 4))
}
nests <- list(huge_caseload = mk(c(250, 1, 1, 1, 2, 2, 3, sample(2:6, 20, TRUE)), 0.5, 1),
              two_clusters = mk(c(14, 9), 0.6, 0.8),
              mostly_singletons = mk(c(rep(1, 30), 2, 2, 3, 3, 4), 0.7, 0.7))
nres <- list()
for (name in names(nests)) {
  d <- nests[[name]]
  write.csv(d, file.path(out, paste0("nest_", name, ".csv")), row.names = FALSE)
  nres[[name]] <- lmer_icc(d)
}

# Item-level data for the command line: worker ids are numbers, some blank; 4 items 1..5 with a
# few answers missing; the ad-hoc scale's score is the mean of the answered items when at least 3
# of 4 are answered (peerscale's ad-hoc default, 0.75). Rows without a worker or a score drop out.
set.seed(90103)
sizes <- c(40, sample(1:9, 30, TRUE))
w <- rep(seq_along(sizes), sizes)
n <- length(w)
eta <- rnorm(length(sizes), 0, 0.6)[w] + rnorm(n)
items <- sapply(1:4, function(k) pmin(5, pmax(1, round(3 + 0.8 * eta + rnorm(n, 0, 0.8)))))
colnames(items) <- paste0("q", 1:4)
items[sample(n * 4, 25)] <- NA
d <- data.frame(id = sprintf("P%03d", 1:n), worker = w, items)
d$worker[c(3, 50, 51)] <- NA
write.csv(d, file.path(out, "nest_items.csv"), row.names = FALSE, na = "")
answered <- rowSums(!is.na(d[, paste0("q", 1:4)]))
score <- ifelse(answered >= 3, rowMeans(d[, paste0("q", 1:4)], na.rm = TRUE), NA)
keep <- !is.na(d$worker) & !is.na(score)
nres$items <- c(lmer_icc(data.frame(worker = d$worker[keep], score = score[keep])),
                list(rows = n, rows_without_worker = sum(is.na(d$worker)),
                     rows_without_score = sum(is.na(score) & !is.na(d$worker))))
put(nres, "lme4_nesting.json")

# ------------------------------------------------------------------ cfa(cluster =)
# the reference fits run to the exact optimum (lavaan's default, or the tight fit when it reaches a
# lower minimum), as tests/r/mediation.R
ctl <- list(rel.tol = 1e-15, x.tol = 1e-15, iter.max = 20000L, eval.max = 40000L)
tcfa <- function(...) {
  a <- cfa(...)
  b <- tryCatch(suppressWarnings(cfa(..., control = ctl, optim.force.converged = TRUE)), error = function(e) NULL)
  if (!is.null(b) && is.finite(b@optim$fx) && b@optim$fx < a@optim$fx) b else a
}
set.seed(90104)
sizes <- c(60, 1, 1, 2, 3, sample(2:9, 25, replace = TRUE))
G <- length(sizes); n <- sum(sizes)
cl <- rep(1:G, sizes)
u <- rnorm(G, 0, 0.6)[cl]
F1 <- u + rnorm(n); F2 <- 0.5 * F1 + 0.5 * u + rnorm(n)
it <- function(f, l) round(l * f + rnorm(n, sd = 0.8), 3)
d <- data.frame(worker = cl, a1 = it(F1, 1), a2 = it(F1, .8), a3 = it(F1, .7),
                b1 = it(F2, 1), b2 = it(F2, .9), b3 = it(F2, .6))
d$a2[c(5, 40, 77)] <- NA; d$b3[c(9, 100)] <- NA
write.csv(d, file.path(out, "cfa_cluster.csv"), row.names = FALSE, na = "")
fit <- tcfa("A =~ a1 + a2 + a3\nB =~ b1 + b2 + b3", d, cluster = "worker")
p <- parameterEstimates(fit)[, c("lhs", "op", "rhs", "est", "se")]
write.csv(p, file.path(out, "cfa_cluster_est.csv"), row.names = FALSE)
fm <- fitMeasures(fit, c("chisq", "df", "chisq.scaled", "chisq.scaling.factor", "pvalue.scaled", "cfi.robust",
                         "rmsea.robust", "srmr"))
put(c(as.list(fm), list(nobs = lavInspect(fit, "nobs"))), "cfa_cluster_fit.json")
put(list(R = R.version.string, psych = as.character(packageVersion("psych")),
         lme4 = as.character(packageVersion("lme4")), lavaan = as.character(packageVersion("lavaan"))),
    "versions.json")

# the same CFA with FIML (missing = "ml") and cluster=, as `peerscale cfa --cluster` by default
fit <- tcfa("A =~ a1 + a2 + a3\nB =~ b1 + b2 + b3", d, cluster = "worker", missing = "ml")
p <- parameterEstimates(fit)[, c("lhs", "op", "rhs", "est", "se")]
write.csv(p, file.path(out, "cfa_cluster_fiml_est.csv"), row.names = FALSE)
fm <- fitMeasures(fit, c("chisq", "df", "chisq.scaled", "chisq.scaling.factor", "pvalue.scaled"))
put(c(as.list(fm), list(nobs = lavInspect(fit, "nobs"))), "cfa_cluster_fiml_fit.json")
