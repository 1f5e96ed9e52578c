//! Views CBLAS cannot read in place (no unit stride, broadcast rows, zero
//! strides) go through packed copies: every BLAS-backed operation against
//! the reference backend on such views, and sweeps over several row blocks.
use dspgd_backend::conformance::{rel_diff, Layout, Stored, LAYOUTS};
use dspgd_backend::{
    Backend, Loss, Mat, MatMut, MatRef, Precond, Reference, ResidualUpdate, Scalar, Step,
};
use dspgd_openblas::{BlasScalar, OpenBlasBackend};

use dspgd_backend::conformance::pseudo_random as mat;

/// `m` stored with both strides > 1: element (i, j) at `i·(2c+1)·2 + 2j`
/// (gaps filled with NaN), the worst case for CBLAS.
struct Spread<T> {
    data: Vec<T>,
    r: usize,
    c: usize,
}

impl<T: Scalar> Spread<T> {
    fn new(m: &Mat<T>) -> Self {
        let (r, c) = m.shape();
        let mut data = vec![T::from_f64(f64::NAN); (r * (2 * c + 1) * 2).max(1)];
        for i in 0..r {
            for j in 0..c {
                data[i * (2 * c + 1) * 2 + 2 * j] = m.at(i, j);
            }
        }
        Self { data, r, c }
    }
    fn view(&self) -> MatRef<'_, T> {
        MatRef::from_strided(&self.data, self.r, self.c, (2 * self.c + 1) * 2, 2).unwrap()
    }
    fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut::from_strided(&mut self.data, self.r, self.c, (2 * self.c + 1) * 2, 2).unwrap()
    }
    fn to_mat(&self) -> Mat<T> {
        self.view().to_owned()
    }
}

fn close<T: Scalar>(what: &str, got: MatRef<'_, T>, want: MatRef<'_, T>, tol: f64) {
    let e = rel_diff(got, want);
    assert!(e <= tol, "{what}: {e:e} relative");
}

fn gemm_spread<T: BlasScalar>(tol: f64) {
    let b = OpenBlasBackend::new(1);
    for &(m, l, n) in &[
        (7, 9, 5),
        (1, 9, 5),
        (7, 9, 1),
        (1, 1, 1),
        (13, 1, 8),
        (65, 33, 17),
    ] {
        let a = mat::<T>(m, l, 1);
        let bb = mat::<T>(l, n, 2);
        let c0 = mat::<T>(m, n, 3);
        for (beta, alpha) in [(0.0, 1.0), (0.5, -0.75)] {
            let (beta, alpha) = (T::from_f64(beta), T::from_f64(alpha));
            let mut want = c0.clone();
            Reference.gemm(want.as_mut(), beta, a.as_ref(), bb.as_ref(), alpha);
            // Every operand spread out.
            let (sa, sb) = (Spread::new(&a), Spread::new(&bb));
            let init = if beta == T::ZERO {
                Mat::from_fn(m, n, |_, _| T::from_f64(f64::NAN))
            } else {
                c0.clone()
            };
            let mut sc = Spread::new(&init);
            b.gemm(sc.view_mut(), beta, sa.view(), sb.view(), alpha);
            close(
                &format!("gemm spread {m}x{l}x{n}"),
                sc.to_mat().as_ref(),
                want.as_ref(),
                tol,
            );
            // Only A spread, C row-major; and B transposed storage.
            let mut c = init.clone();
            let bt = Stored::new(bb.as_ref(), Layout::Transposed);
            b.gemm(c.as_mut(), beta, sa.view(), bt.view(), alpha);
            close(
                &format!("gemm spread A {m}x{l}x{n}"),
                c.as_ref(),
                want.as_ref(),
                tol,
            );
        }
    }
    // A broadcast row (row stride 0) times a matrix.
    let row = mat::<T>(1, 6, 4);
    let a = MatRef::from_strided(row.as_slice(), 5, 6, 0, 1).unwrap();
    let bb = mat::<T>(6, 3, 5);
    let mut want = Mat::zeros(5, 3);
    Reference.gemm(want.as_mut(), T::ZERO, a, bb.as_ref(), T::ONE);
    let mut got = Mat::zeros(5, 3);
    b.gemm(got.as_mut(), T::ZERO, a, bb.as_ref(), T::ONE);
    close("gemm broadcast rows", got.as_ref(), want.as_ref(), tol);
    // A broadcast column vector as the right-hand side (gemv with a zero increment).
    let one = mat::<T>(1, 1, 6);
    let x = MatRef::from_strided(one.as_slice(), 6, 1, 0, 0).unwrap();
    let mut want = Mat::zeros(5, 1);
    Reference.gemm(want.as_mut(), T::ZERO, a, x, T::ONE);
    let mut got = Mat::zeros(5, 1);
    b.gemm(got.as_mut(), T::ZERO, a, x, T::ONE);
    close("gemv broadcast vector", got.as_ref(), want.as_ref(), tol);
}

#[test]
fn gemm_on_unreadable_views_f64() {
    gemm_spread::<f64>(1e-12);
}

#[test]
fn gemm_on_unreadable_views_f32() {
    gemm_spread::<f32>(1e-5);
}

fn sweep_spread<T: BlasScalar>(b: &OpenBlasBackend, n: usize, d: usize, k: usize, tol: f64) {
    let x = mat::<T>(n, d, 7);
    let p = mat::<T>(d, k, 8);
    let q = mat::<T>(n, k, 9);
    let r0 = mat::<T>(n, k, 10);
    let eta = T::from_f64(0.3);
    let (sx, sp) = (Spread::new(&x), Spread::new(&p));
    for loss in [Loss::Squared, Loss::Huber { delta: 0.1 }, Loss::LogCosh] {
        for kind in 0..3 {
            let (uw, ug) = match kind {
                0 => (ResidualUpdate::Keep, ResidualUpdate::Keep),
                1 => (
                    ResidualUpdate::FromStep { p: p.as_ref(), eta },
                    ResidualUpdate::FromStep { p: sp.view(), eta },
                ),
                _ => (
                    ResidualUpdate::FromProduct { q: q.as_ref(), eta },
                    ResidualUpdate::FromProduct { q: q.as_ref(), eta },
                ),
            };
            let (mut rw, mut dw, mut gw) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
            let sw = Reference.sweep(x.as_ref(), uw, rw.as_mut(), &loss, dw.as_mut(), gw.as_mut());
            let nan = Mat::from_fn(n, k, |_, _| T::from_f64(f64::NAN));
            let (mut rg, mut dg) = (Spread::new(&r0), Spread::new(&nan));
            let mut gg = Spread::new(&Mat::from_fn(d, k, |_, _| T::from_f64(f64::NAN)));
            let sg = b.sweep(
                sx.view(),
                ug,
                rg.view_mut(),
                &loss,
                dg.view_mut(),
                gg.view_mut(),
            );
            let what = format!("{b:?} n={n} d={d} k={k} {loss} update #{kind}");
            close(&format!("R {what}"), rg.to_mat().as_ref(), rw.as_ref(), tol);
            close(&format!("D {what}"), dg.to_mat().as_ref(), dw.as_ref(), tol);
            close(&format!("G {what}"), gg.to_mat().as_ref(), gw.as_ref(), tol);
            assert!(
                (sg.loss - sw.loss).abs() <= tol * sw.loss.abs(),
                "loss {what}"
            );
            assert!(
                (sg.r_norm2 - sw.r_norm2).abs() <= tol * sw.r_norm2.abs(),
                "‖R‖² {what}"
            );
        }
    }
}

#[test]
fn sweep_on_unreadable_views() {
    for b in [
        OpenBlasBackend::new(1),
        OpenBlasBackend::new(1).with_sweep_block_rows(4),
    ] {
        for &(n, d, k) in &[(0, 5, 2), (1, 5, 1), (9, 5, 1), (17, 31, 3), (9, 0, 2)] {
            sweep_spread::<f64>(&b, n, d, k, 1e-12);
            sweep_spread::<f32>(&b, n, d, k, 1e-5);
        }
    }
}

fn large_sweep<T: BlasScalar>(
    b: &OpenBlasBackend,
    n: usize,
    d: usize,
    k: usize,
    lx: Layout,
    tol: f64,
) {
    let x = Stored::new(mat::<T>(n, d, 1).as_ref(), lx);
    let p = mat::<T>(d, k, 2);
    let r0 = mat::<T>(n, k, 4);
    let eta = T::from_f64(0.3);
    let loss = Loss::Huber { delta: 0.1 };
    let update = ResidualUpdate::FromStep { p: p.as_ref(), eta };
    let (mut rw, mut dw, mut gw) = (r0.clone(), Mat::zeros(n, k), Mat::zeros(d, k));
    let sw = Reference.sweep(
        x.view(),
        update,
        rw.as_mut(),
        &loss,
        dw.as_mut(),
        gw.as_mut(),
    );
    let nan = T::from_f64(f64::NAN);
    let mut rg = Stored::new(r0.as_ref(), Layout::ColMajor);
    let mut dg = Stored::new(Mat::from_fn(n, k, |_, _| nan).as_ref(), Layout::Padded);
    let mut gg = Stored::new(Mat::from_fn(d, k, |_, _| nan).as_ref(), Layout::RowMajor);
    let sg = b.sweep(
        x.view(),
        update,
        rg.view_mut(),
        &loss,
        dg.view_mut(),
        gg.view_mut(),
    );
    let what = format!("{b:?}, n={n} d={d} k={k}, X {lx:?}");
    close(&format!("R {what}"), rg.view(), rw.as_ref(), tol);
    close(&format!("D {what}"), dg.view(), dw.as_ref(), tol);
    close(&format!("G {what}"), gg.view(), gw.as_ref(), tol);
    assert!(
        (sg.loss - sw.loss).abs() <= tol * sw.loss.abs(),
        "loss: {what}"
    );
}

/// Shapes with several default-sized row blocks (16 rows of d = 2100).
#[test]
fn multi_block_sweeps_match_reference() {
    let b = OpenBlasBackend::new(1);
    for (i, &lx) in LAYOUTS.iter().enumerate() {
        large_sweep::<f64>(&b, 97 + i, 2100, 1, lx, 1e-12);
        large_sweep::<f64>(&b, 70, 2100, 3, lx, 1e-12);
        large_sweep::<f32>(&b, 97 + i, 2100, 2, lx, 1e-5);
    }
}

fn precond_spread<T: BlasScalar>(tol: f64) {
    let b = OpenBlasBackend::new(1);
    for &(d, k) in &[(1, 1), (7, 3), (300, 5), (513, 2)] {
        let g = mat::<T>(d, k, 11);
        let w0 = mat::<T>(d, k, 12);
        let p0 = mat::<T>(d, k, 13);
        let phi = mat::<T>(k, k, 14);
        let sg = Spread::new(&g);
        // grad_stats on a spread-out G (the f64 path packs it).
        let (mut gw, mut gg) = (vec![0.0; k * k], vec![0.0; k * k]);
        let nw = Reference.grad_stats(g.as_ref(), Some(&mut gw));
        let ng = b.grad_stats(sg.view(), Some(&mut gg));
        assert!((ng - nw).abs() <= tol * nw, "‖G‖² {d}x{k}");
        let e = gw
            .iter()
            .zip(&gg)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
            / gw.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(e <= tol, "GᵀG {d}x{k}: {e:e}");
        let adam = Precond::Adam { eps: 0.1 };
        for step in [
            Step::Right(phi.as_ref()),
            Step::Scale(T::from_f64(0.7)),
            Step::Separable(&adam),
        ] {
            for eta_prev in [0.0, 0.25] {
                let eta_prev = T::from_f64(eta_prev);
                let (mut ww, mut pw) = (w0.clone(), p0.clone());
                Reference.precond_update(g.as_ref(), step, eta_prev, ww.as_mut(), pw.as_mut());
                let (mut wg, mut pg) = (Spread::new(&w0), Spread::new(&p0));
                b.precond_update(sg.view(), step, eta_prev, wg.view_mut(), pg.view_mut());
                close(
                    &format!("precond W {d}x{k}"),
                    wg.to_mat().as_ref(),
                    ww.as_ref(),
                    tol,
                );
                close(
                    &format!("precond P {d}x{k}"),
                    pg.to_mat().as_ref(),
                    pw.as_ref(),
                    tol,
                );
            }
        }
    }
}

#[test]
fn precond_and_gram_on_unreadable_views_f64() {
    precond_spread::<f64>(1e-12);
}

#[test]
fn precond_and_gram_on_unreadable_views_f32() {
    precond_spread::<f32>(1e-5);
}
