# Parity fixtures for peerscale's dyad agreement (psych::ICC) and nesting ICC(1) (lme4::lmer REML).
# R is the oracle, never a runtime dependency: run this once (psych 2.2.9, lme4) and commit what
# it writes to tests/fixtures/design/. Run from the repository root:
#   Rscript tests/r/design.R
suppressPackageStartupMessages({
  library(psych)
  library(lme4)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("psych")) == "2.2.9")
out <- "tests/fixtures/design"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
put <- function(x, name) {
  writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE), file.path(out, name))
}

# ------------------------------------------------------------------ dyads: young person vs worker
# Each case: n pairs, a true score, a worker shift (mean difference) and rater noise.
dyad_case <- function(n, shift, noise, seed) {
  set.seed(seed)
  t <- rnorm(n, 3.5, 0.6)
  y <- round(t + rnorm(n, 0, noise), 4)
  p <- round(t + shift + rnorm(n, 0, noise), 4)
  data.frame(y = y, p = p)
}
cases <- list(shifted = dyad_case(80, 0.35, 0.5, 11), agree = dyad_case(150, 0.0, 0.3, 12),
              small = dyad_case(12, -0.2, 0.8, 13), weak = dyad_case(60, 0.1, 1.2, 14))
dyads <- list()
for (name in names(cases)) {
  d <- cases[[name]]
  write.csv(d, file.path(out, paste0("dyad_", name, ".csv")), row.names = FALSE)
  anova <- ICC(d, lmer = FALSE)$results          # two-way ANOVA mean squares
  dflt <- suppressMessages(suppressWarnings(ICC(d)$results))  # psych's default (lmer = TRUE)
  diff <- d$p - d$y
  tt <- t.test(d$p, d$y, paired = TRUE)
  dyads[[name]] <- list(
    n_pairs = nrow(d),
    icc_a1 = anova$ICC[anova$type == "ICC2"], icc_c1 = anova$ICC[anova$type == "ICC3"],
    icc_a1_ci = c(anova$`lower bound`[anova$type == "ICC2"], anova$`upper bound`[anova$type == "ICC2"]),
    icc_c1_ci = c(anova$`lower bound`[anova$type == "ICC3"], anova$`upper bound`[anova$type == "ICC3"]),
    icc_a1_lmer = dflt$ICC[dflt$type == "ICC2"], icc_c1_lmer = dflt$ICC[dflt$type == "ICC3"],
    r = cor(d$y, d$p), mean_diff = mean(diff), mean_diff_ci = unname(tt$conf.int[1:2]),
    sd_diff = sd(diff), loa = c(mean(diff) - 1.96 * sd(diff), mean(diff) + 1.96 * sd(diff)))
}
put(dyads, "psych_icc_dyads.json")

# ------------------------------------------------------------------ nesting: young people within workers
# Unbalanced clusters (sizes 1 to 16, some singletons), a worker random intercept.
nest_case <- function(sizes, tau, sigma, seed) {
  set.seed(seed)
  worker <- rep(sprintf("W%02d", seq_along(sizes)), sizes)
  u <- rnorm(length(sizes), 0, tau)[as.integer(factor(worker))]
  data.frame(worker = worker, score = round(3.4 + u + rnorm(length(worker), 0, sigma), 4))
}
set.seed(21)
sizes1 <- c(sample(2:16, 35, replace = TRUE), 1, 1, 1, 1, 1)
nests <- list(moderate = nest_case(sizes1, 0.35, 0.7, 22),
              small = nest_case(sample(3:12, 25, replace = TRUE), 0.08, 0.8, 23),
              boundary = nest_case(rep(c(2, 5, 9), 8), 0.0, 1.0, 24),
              large = nest_case(c(3, 4, 5, 6, 7, 8, 9, 10, 2, 2, 1), 0.9, 0.5, 25))
nesting <- list()
for (name in names(nests)) {
  d <- nests[[name]]
  write.csv(d, file.path(out, paste0("nest_", name, ".csv")), row.names = FALSE)
  fit <- lmer(score ~ 1 + (1 | worker), data = d, REML = TRUE)
  vc <- as.data.frame(VarCorr(fit))
  tau2 <- vc$vcov[vc$grp == "worker"]
  sig2 <- vc$vcov[vc$grp == "Residual"]
  # one-way ANOVA ICC(1) with n0 = (N - sum(n_j^2)/N) / (J - 1) for unequal cluster sizes
  a <- anova(lm(score ~ factor(worker), data = d))
  msb <- a$`Mean Sq`[1]
  msw <- a$`Mean Sq`[2]
  nj <- table(d$worker)
  N <- nrow(d)
  J <- length(nj)
  n0 <- (N - sum(nj^2) / N) / (J - 1)
  icc1 <- tau2 / (tau2 + sig2)
  m <- N / J
  nesting[[name]] <- list(n = N, n_clusters = J, mean_cluster_size = m, tau2 = tau2, sigma2 = sig2,
                          icc1 = icc1, intercept = unname(fixef(fit)[1]), reml_criterion = unname(REMLcrit(fit)),
                          msb = msb, msw = msw, n0 = n0, icc1_anova = (msb - msw) / (msb + (n0 - 1) * msw),
                          design_effect = 1 + (m - 1) * icc1, singular = isSingular(fit))
}
put(nesting, "lme4_nesting.json")
put(list(R = R.version.string, psych = as.character(packageVersion("psych")),
         lme4 = as.character(packageVersion("lme4"))), "versions.json")
