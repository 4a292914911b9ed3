# Oracle for peerscale.irt.mirt_em.bfgs: R's optim(method = "BFGS") (Nash's variable-metric
# method), the M-step optimiser of mirt's default EM. Run from the repository root:
#   Rscript tests/r/irt_optim_bfgs.R
# Writes tests/fixtures/irt/optim_bfgs.csv: for each problem the start, maxit, and optim's
# par, value and counts (function, gradient evaluations), with R's default reltol.
out <- "tests/fixtures/irt"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

rosen <- function(x) sum(100 * (x[-1] - x[-length(x)]^2)^2 + (1 - x[-length(x)])^2)
rosen_gr <- function(x) {
  n <- length(x)
  g <- numeric(n)
  i <- seq_len(n - 1)
  g[i] <- -400 * x[i] * (x[i + 1] - x[i]^2) - 2 * (1 - x[i])
  g[i + 1] <- g[i + 1] + 200 * (x[i + 1] - x[i]^2)
  g
}
# a smooth convex problem shaped like an M-step: sum exp(x) - w x plus a chain penalty
w <- c(0.5, 1.5, 2.5, 0.8, 1.2, 3)
chain <- function(x) sum(exp(x) - w * x) + 0.5 * sum(diff(x)^2)
chain_gr <- function(x) {
  g <- exp(x) - w
  dx <- diff(x)
  g[-length(x)] <- g[-length(x)] - dx
  g[-1] <- g[-1] + dx
  g
}
cases <- list(
  list(id = "rosenbrock", fn = "rosen", start = c(-1.2, 1), maxit = 100),
  list(id = "rosenbrock_maxit15", fn = "rosen", start = c(-1.2, 1), maxit = 15),
  list(id = "rosenbrock10", fn = "rosen", start = rep(c(-1.2, 1), 5), maxit = 50),
  list(id = "chain", fn = "chain", start = rep(0, 6), maxit = 100),
  list(id = "chain_maxit3", fn = "chain", start = c(1, -1, 2, 0, 0.5, 1), maxit = 3)
)
rows <- lapply(cases, function(c) {
  f <- get(c$fn)
  g <- get(paste0(c$fn, "_gr"))
  o <- optim(c$start, f, g, method = "BFGS", control = list(maxit = c$maxit))
  data.frame(id = c$id, fn = c$fn, start = paste(format(c$start, digits = 17), collapse = " "), maxit = c$maxit,
             par = paste(format(o$par, digits = 17), collapse = " "), value = format(o$value, digits = 17),
             fncount = o$counts[[1]], grcount = o$counts[[2]], convergence = o$convergence)
})
write.csv(do.call(rbind, rows), file.path(out, "optim_bfgs.csv"), row.names = FALSE)
writeLines(R.version.string, file.path(out, "optim_bfgs_VERSION.txt"))
