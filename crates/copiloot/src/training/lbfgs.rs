//! A small limited-memory BFGS minimiser for smooth convex objectives (the logistic-regression fits of
//! `logistic.rs`: the heads and the churn models).
//!
//! Written here rather than pulled in as a dependency (an optimisation framework such as argmin) because
//! the fits need only this: a few hundred full-batch iterations on a few hundred thousand parameters,
//! deterministic, f64 for a stable line search.

/// Result of a minimisation.
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub iterations: usize,
}

/// Minimises `f`, which returns the value and writes the gradient into its second argument.
pub(crate) fn minimize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> Minimum {
    const M: usize = 10;
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut iterations = 0;
    for it in 0..max_iter {
        iterations = it + 1;
        let gnorm = norm(&g);
        if gnorm <= tol * fx.abs().max(1.0) {
            break;
        }
        // Two-loop recursion: d = -H·g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let k = s_hist.len();
        let mut alpha = vec![0.0; k];
        for i in (0..k).rev() {
            let rho = 1.0 / dotf(&y_hist[i], &s_hist[i]);
            alpha[i] = rho * dotf(&s_hist[i], &d);
            axpy(-alpha[i], &y_hist[i], &mut d);
        }
        let gamma = if k > 0 {
            dotf(&s_hist[k - 1], &y_hist[k - 1]) / dotf(&y_hist[k - 1], &y_hist[k - 1])
        } else {
            1.0 / gnorm.max(1e-12)
        };
        d.iter_mut().for_each(|v| *v *= gamma);
        for i in 0..k {
            let rho = 1.0 / dotf(&y_hist[i], &s_hist[i]);
            let beta = rho * dotf(&y_hist[i], &d);
            axpy(alpha[i] - beta, &s_hist[i], &mut d);
        }
        let mut slope = dotf(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (curvature information went stale): restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            d = g.iter().map(|v| -v / gnorm.max(1e-12)).collect();
            slope = dotf(&g, &d);
        }
        // Backtracking line search with the Armijo condition.
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
            }
            let f_new = f(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= fx + 1e-4 * step * slope {
                let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
                let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
                if dotf(&s, &y) > 1e-12 {
                    if s_hist.len() == M {
                        s_hist.remove(0);
                        y_hist.remove(0);
                    }
                    s_hist.push(s);
                    y_hist.push(y);
                }
                let improvement = fx - f_new;
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                fx = f_new;
                accepted = true;
                if improvement <= 1e-10 * fx.abs().max(1.0) {
                    return Minimum { x, value: fx, iterations };
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    Minimum { x, value: fx, iterations }
}

fn dotf(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dotf(a, a).sqrt()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[test]
    fn minimizes_a_quadratic() {
        let m = super::minimize(
            |x, g| {
                g[0] = 2.0 * (x[0] - 3.0);
                g[1] = 20.0 * (x[1] + 1.0);
                (x[0] - 3.0).powi(2) + 10.0 * (x[1] + 1.0).powi(2)
            },
            vec![0.0, 0.0],
            100,
            1e-9,
        );
        assert!((m.x[0] - 3.0).abs() < 1e-4 && (m.x[1] + 1.0).abs() < 1e-4, "{:?}", m.x);
        assert!(m.value < 1e-8);
    }
}
