//! `density_grid`: row i is y_i, column j is x_j, both evenly spaced and including the ends.

use kl_dist::{Mixture, Mvn, density_grid, linspace};

#[test]
fn grid_layout_is_rows_of_y_and_columns_of_x() {
    let a = Mvn::new(&[0.5, -0.7], &[1.0, 1.0, 1.0, 2.0]).expect("valid");
    let b = Mvn::new(&[-2.5, 2.5], &[0.5, 0.1, 0.1, 0.5]).expect("valid");
    let p = Mixture::new(&[0.8, 0.2], vec![a, b]).expect("valid");
    let (nx, ny) = (7, 4);
    let extent = [-3.0, 3.0, -2.0, 4.0];
    let mut out = vec![f64::NAN; nx * ny];
    density_grid(&p, extent, nx, ny, &mut out).expect("valid grid");
    for i in 0..ny {
        // Written here, not taken from `linspace`: y_i = ymin + i (ymax − ymin)/(ny − 1).
        let y = -2.0 + i as f64 * 6.0 / 3.0;
        for j in 0..nx {
            let x = -3.0 + j as f64 * 6.0 / 6.0;
            let want = p.prob(&[x, y]);
            let got = out[i * nx + j];
            assert!(
                (got - want).abs() <= 1e-14 * want.max(1e-300),
                "cell ({i}, {j}) = {got}, p({x}, {y}) = {want}"
            );
        }
    }
    // The grid is not symmetric in x and y, so a transposed layout could not pass: check it is not.
    assert!((out[nx] - p.prob(&[-3.0 + 6.0 / 6.0, -2.0])).abs() > 1e-6);
}

#[test]
fn linspace_includes_both_ends() {
    let v: Vec<f64> = linspace(-1.0, 2.0, 4).collect();
    assert_eq!(v, vec![-1.0, 0.0, 1.0, 2.0]);
    let v: Vec<f64> = linspace(0.0, 0.3, 4).collect();
    assert_eq!(v.len(), 4);
    assert_eq!(v[3], 0.3, "the last point is exactly b");
    assert!((v[1] - 0.1).abs() < 1e-16 && (v[2] - 0.2).abs() < 1e-16);
    assert_eq!(linspace(5.0, 9.0, 1).collect::<Vec<_>>(), vec![5.0]);
    assert_eq!(linspace(5.0, 9.0, 0).count(), 0);
}

#[test]
fn a_one_by_one_grid_is_the_lower_left_corner() {
    let p = Mvn::new(&[0.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).expect("valid");
    let mut out = [0.0];
    density_grid(&p, [1.0, 2.0, -1.0, 3.0], 1, 1, &mut out).expect("valid grid");
    let want = (-(1.0f64 + 1.0) / 2.0).exp() / (2.0 * std::f64::consts::PI);
    assert!((out[0] - want).abs() <= 1e-15, "{} vs {want}", out[0]);
}
