use dspgd::*;
fn main() {
    let (x, y) = synthetic::gaussian_problem::<f64>(40, 160, 3, 1);
    let wgd = min_distance_interpolator(x.as_ref(), y.as_ref(), None).unwrap();
    for k in ["ngd","power:3","power:1.5","spectral","sign","lp:3", "adam:1e-2", "eclip:0.05"] {
        for (lr, sch) in [("0.1","geom:0.99"),("0.1","geom:0.995"),("0.3","geom:0.99"), ("1.0","geom:0.99"), ("0.2", "const"), ("0.4","const")] {
            let o = Options { precond: k.parse().unwrap(), lr: lr.parse().unwrap(), schedule: sch.parse().unwrap(), analyze: true, max_iters: 20000, backend: BackendChoice::Reference, ..Default::default() };
            match solve(x.as_ref(), y.as_ref(), None, &o) {
                Ok(s) => println!("{k:14} {lr:5} {sch:12} it={:6} rel={:.2e} {} dist={:.2e} rho={:.6} {:.3}s", s.iterations, s.rel_residual, s.stop_reason, norm_fro_diff(s.w.as_ref(), wgd.as_ref())/wgd.norm_fro(), s.analysis.unwrap().rho, s.seconds),
                Err(e) => println!("{k:14} {lr:5} {sch} ERR {e}"),
            }
        }
    }
}
