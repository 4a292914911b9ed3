# Oracle for the probit (normal-ogive) graded response model and MAP scoring: lavaan's
# categorical one-factor model and lavPredict(method = "EBM") (empirical Bayes modal: the
# mode of the posterior of the factor given the answers, N(0, 1) prior with std.lv = TRUE).
# Run from the repository root:  Rscript tests/r/irt_probit.R   (lavaan 0.6-14)
#
# Data: 600 simulated respondents x 12 items from a normal-ogive graded model, ten items with
# five categories and two with three, 3% of answers missing. The model is fitted twice
# (WLSMV, missing = "pairwise"): with parameterization = "theta" (residual variances 1, so
# a_j = lambda_j and d_jk = -tau_jk) and with the default "delta" (var(y*) = 1, residual
# variance 1 - lambda_j^2, so a_j = lambda_j / sqrt(1 - lambda_j^2), d_jk = -tau_jk / sqrt(...)).
# Writes tests/fixtures/irt/probit_data.csv, probit_lavaan_params.csv (per item and
# parameterisation: lambda, residual variance, thresholds) and probit_lavaan_ebm.csv (EBM
# scores under both parameterisations, with lavPredict's default optimiser, BFGS with numerical
# gradients and reltol 1e-8, and with optim.method = "nlminb", rel.tol 1e-8).
suppressPackageStartupMessages(library(lavaan))
out <- "tests/fixtures/irt"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
set.seed(20260)
n <- 600
J <- 12
lambda <- seq(0.45, 0.85, length.out = J)
eta <- rnorm(n)
y <- matrix(NA_integer_, n, J)
for (j in seq_len(J)) {
  K <- if (j %in% c(4, 9)) 3 else 5
  tau <- sort(qnorm(seq(0.15, 0.85, length.out = K - 1)) + rnorm(K - 1, 0, 0.1))
  ystar <- lambda[j] * eta + rnorm(n, 0, sqrt(1 - lambda[j]^2))
  y[, j] <- findInterval(ystar, tau) + 1L
}
y[matrix(runif(n * J) < 0.03, n, J)] <- NA
colnames(y) <- sprintf("P%02d", seq_len(J))
dat <- as.data.frame(y)
write.csv(dat, file.path(out, "probit_data.csv"), row.names = FALSE, na = "")
model <- paste("f =~", paste(colnames(y), collapse = " + "))
params <- list()
scores <- data.frame(row = seq_len(n))
for (pz in c("theta", "delta")) {
  fit <- cfa(model, data = dat, ordered = colnames(y), std.lv = TRUE, parameterization = pz,
             missing = "pairwise")
  pe <- parameterEstimates(fit)
  th <- inspect(fit, "est")$tau
  lam <- inspect(fit, "est")$lambda[, 1]
  res <- diag(lavInspect(fit, "theta"))
  for (j in seq_len(J)) {
    item <- colnames(y)[j]
    tj <- th[grepl(paste0("^", item, "\\|"), rownames(th)), 1]
    params[[length(params) + 1]] <- data.frame(parameterization = pz, item = item, lambda = lam[[item]],
                                               residual = res[[item]], thresholds = paste(format(tj, digits = 17), collapse = " "))
  }
  scores[[paste0("ebm_", pz)]] <- as.numeric(lavPredict(fit, method = "EBM"))
  scores[[paste0("ebm_", pz, "_nlminb")]] <- as.numeric(lavPredict(fit, method = "EBM", optim.method = "nlminb"))
}
write.csv(do.call(rbind, params), file.path(out, "probit_lavaan_params.csv"), row.names = FALSE)
write.csv(format(scores, digits = 17), file.path(out, "probit_lavaan_ebm.csv"), row.names = FALSE, quote = FALSE)
writeLines(c(R.version.string, paste("lavaan", packageVersion("lavaan"))), file.path(out, "probit_VERSIONS.txt"))
