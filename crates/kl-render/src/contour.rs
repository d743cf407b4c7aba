//! Contour geometry: marching squares over a grid of values, no pixels.
//!
//! The conventions follow contourpy (what matplotlib's `contour` uses):
//!
//! - a grid point is *above* a level when `z > level`; a value equal to the level is below;
//! - a cell whose four corners are not all finite (NaN or ±∞) produces no line;
//! - a saddle cell (two opposite corners above, two below) is resolved by the mean of its four
//!   corners: if the centre is above, the two above corners are joined through the cell;
//! - segments are joined into polylines; a line that reaches the frame of the grid (or a
//!   non-finite cell) stays open there, and no line is ever drawn along the frame;
//! - every polyline is oriented with the region above the level on its left (in data
//!   coordinates, x right and y up), so closed lines around a maximum run counter-clockwise.

use crate::Error;

/// A rectangular grid of values, row-major, checked once by [`Grid::new`].
///
/// Row `i` holds the values at `y_i = linspace(ymin, ymax, ny)[i]`, column `j` the values at
/// `x_j = linspace(xmin, xmax, nx)[j]`: `values[i * nx + j] = z(x_j, y_i)`. This is the layout
/// of the notebook's `prob_map` (NumPy `meshgrid` with `indexing="xy"`).
///
/// The fields are private: a `Grid` always has `nx, ny >= 2`, `nx * ny` values and a finite
/// increasing extent, so contouring it cannot fail. The values themselves may be anything
/// (non-finite cells give no line).
///
/// ```
/// use kl_render::{Error, Grid};
///
/// let v = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
/// let grid = Grid::new(&v, 3, 2, [0.0, 1.0, 0.0, 1.0])?;
/// assert_eq!((grid.nx(), grid.ny()), (3, 2));
/// assert!(matches!(
///     Grid::new(&v, 4, 2, [0.0, 1.0, 0.0, 1.0]),
///     Err(Error::GridShape { len: 6, nx: 4, ny: 2 })
/// ));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid<'a> {
    values: &'a [f64],
    nx: usize,
    ny: usize,
    extent: [f64; 4],
}

impl<'a> Grid<'a> {
    /// A checked grid: `values.len() == nx * ny`, `nx, ny >= 2`, and a finite extent with
    /// `xmin < xmax` and `ymin < ymax`. A grid with more than `u32::MAX` cell edges is a
    /// [`Error::GridShape`] too (marching squares indexes edges by `u32`).
    ///
    /// # Errors
    /// [`Error::GridShape`] for a value count other than `nx * ny`, fewer than 2 rows or columns
    /// or too many edges; [`Error::Extent`] for an extent that is not finite and increasing.
    pub fn new(values: &'a [f64], nx: usize, ny: usize, extent: [f64; 4]) -> Result<Self, Error> {
        let shape_err = Error::GridShape {
            len: values.len(),
            nx,
            ny,
        };
        let shape_ok = nx >= 2 && ny >= 2 && nx.checked_mul(ny) == Some(values.len());
        if !shape_ok {
            return Err(shape_err);
        }
        // Edge ids are stored as u32: n_edges = ny (nx - 1) + (ny - 1) nx must fit.
        let n_edges = (ny * (nx - 1)).checked_add((ny - 1) * nx);
        if n_edges.is_none_or(|n| u32::try_from(n).is_err()) {
            return Err(shape_err);
        }
        let [x0, x1, y0, y1] = extent;
        if !(extent.iter().all(|v| v.is_finite()) && x0 < x1 && y0 < y1) {
            return Err(Error::Extent { extent });
        }
        Ok(Grid {
            values,
            nx,
            ny,
            extent,
        })
    }

    /// The `nx * ny` values, row-major (rows are y, columns are x).
    pub fn values(&self) -> &'a [f64] {
        self.values
    }

    /// Number of columns (x samples), at least 2.
    pub fn nx(&self) -> usize {
        self.nx
    }

    /// Number of rows (y samples), at least 2.
    pub fn ny(&self) -> usize {
        self.ny
    }

    /// `[xmin, xmax, ymin, ymax]` of the first and last samples.
    pub fn extent(&self) -> [f64; 4] {
        self.extent
    }

    /// The largest finite value, or `None` if there is none.
    pub fn max_value(&self) -> Option<f64> {
        self.values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
    }

    fn x(&self, j: f64) -> f64 {
        let [x0, x1, _, _] = self.extent;
        x0 + (x1 - x0) * j / (self.nx - 1) as f64
    }

    fn y(&self, i: f64) -> f64 {
        let [_, _, y0, y1] = self.extent;
        y0 + (y1 - y0) * i / (self.ny - 1) as f64
    }

    fn z(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.nx + j]
    }
}

/// A contour line in data coordinates.
///
/// A closed polyline does not repeat its first point at the end: the segment from the last
/// point back to the first is implied.
#[derive(Debug, Clone, PartialEq)]
pub struct Polyline {
    /// Vertices `[x, y]` in data coordinates.
    pub points: Vec<[f64; 2]>,
    /// Whether the line closes on itself.
    pub closed: bool,
}

/// The notebook's contour levels, `linspace(0, 1.1 * max, 10)`.
pub fn notebook_levels(max: f64) -> Vec<f64> {
    linspace(0.0, 1.1 * max, 10)
}

/// `n` evenly spaced values from `start` to `end` inclusive (NumPy's `linspace`).
pub fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (end - start) / (n - 1) as f64;
            (0..n)
                .map(|k| {
                    if k == n - 1 {
                        end
                    } else {
                        start + step * k as f64
                    }
                })
                .collect()
        }
    }
}

const NONE: u32 = u32::MAX;

/// The isolines of `grid` at `level`, as polylines in data coordinates.
///
/// Open polylines come first (in the row-major order of their first segment), then closed
/// ones. A NaN level gives no line. Cannot fail: a [`Grid`] is valid by construction.
pub fn contour_lines(grid: &Grid, level: f64) -> Vec<Polyline> {
    if level.is_nan() {
        return Vec::new();
    }
    let (nx, ny) = (grid.nx, grid.ny);
    // Edge ids: horizontal edge (i, j)-(i, j+1) is i*(nx-1)+j; vertical edge (i, j)-(i+1, j)
    // is n_h + i*nx + j.
    let n_h = ny * (nx - 1);
    let n_edges = n_h + (ny - 1) * nx;
    let h_edge = |i: usize, j: usize| i * (nx - 1) + j;
    let v_edge = |i: usize, j: usize| n_h + i * nx + j;
    // The edge ids are stored as u32 to halve the memory traffic; `Grid::new` checked that
    // they fit.

    let mut next = vec![NONE; n_edges];
    let mut has_in = vec![false; n_edges];
    let mut starts: Vec<u32> = Vec::new();

    for i in 0..ny - 1 {
        for j in 0..nx - 1 {
            // Corners counter-clockwise: bl, br, tr, tl.
            let z = [
                grid.z(i, j),
                grid.z(i, j + 1),
                grid.z(i + 1, j + 1),
                grid.z(i + 1, j),
            ];
            if !z.iter().all(|v| v.is_finite()) {
                continue;
            }
            let above = z.map(|v| v > level);
            if above.iter().all(|&a| a) || above.iter().all(|&a| !a) {
                continue;
            }
            // Edges counter-clockwise: bottom (bl→br), right (br→tr), top (tr→tl), left (tl→bl).
            let edges = [
                h_edge(i, j),
                v_edge(i, j + 1),
                h_edge(i + 1, j),
                v_edge(i, j),
            ];
            // Crossings in counter-clockwise order, each marked exit (above → below) or entry.
            let mut cross = [(0usize, false); 4];
            let mut n = 0;
            for k in 0..4 {
                let (a, b) = (above[k], above[(k + 1) % 4]);
                if a != b {
                    cross[n] = (edges[k], a);
                    n += 1;
                }
            }
            let mut link = |from: usize, to: usize| {
                // Ids fit in u32 (checked above).
                next[from] = to as u32;
                has_in[to] = true;
                starts.push(from as u32);
            };
            if n == 2 {
                let (exit, entry) = if cross[0].1 {
                    (cross[0].0, cross[1].0)
                } else {
                    (cross[1].0, cross[0].0)
                };
                link(exit, entry);
            } else {
                // Saddle: four crossings alternating exit/entry.
                let centre_above = (z[0] + z[1] + z[2] + z[3]) / 4.0 > level;
                for k in 0..4 {
                    if cross[k].1 {
                        let other = if centre_above {
                            (k + 1) % 4
                        } else {
                            (k + 3) % 4
                        };
                        link(cross[k].0, cross[other].0);
                    }
                }
            }
        }
    }

    let point = |e: usize| -> [f64; 2] {
        let (i0, j0, i1, j1) = if e < n_h {
            let (i, j) = (e / (nx - 1), e % (nx - 1));
            (i, j, i, j + 1)
        } else {
            let e = e - n_h;
            let (i, j) = (e / nx, e % nx);
            (i, j, i + 1, j)
        };
        let (z0, z1) = (grid.z(i0, j0), grid.z(i1, j1));
        let t = ((level - z0) / (z1 - z0)).clamp(0.0, 1.0);
        let fi = i0 as f64 + t * (i1 as f64 - i0 as f64);
        let fj = j0 as f64 + t * (j1 as f64 - j0 as f64);
        [grid.x(fj), grid.y(fi)]
    };

    let mut visited = vec![false; n_edges];
    let mut lines = Vec::new();
    let mut trace = |start: usize, closed: bool, visited: &mut [bool]| {
        let mut points: Vec<[f64; 2]> = Vec::new();
        let mut e = start;
        loop {
            visited[e] = true;
            let p = point(e);
            if points.last() != Some(&p) {
                points.push(p);
            }
            let n = next[e];
            if n == NONE {
                break;
            }
            e = n as usize;
            if visited[e] {
                break;
            }
        }
        if closed && points.len() > 1 && points.first() == points.last() {
            points.pop();
        }
        if points.len() >= 2 {
            lines.push(Polyline { points, closed });
        }
    };
    // Open lines start where nothing comes in.
    for &s in &starts {
        let s = s as usize;
        if !has_in[s] && !visited[s] {
            trace(s, false, &mut visited);
        }
    }
    // Everything left is on a loop.
    for &s in &starts {
        let s = s as usize;
        if !visited[s] {
            trace(s, true, &mut visited);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn radial(n: usize, half: f64) -> (Vec<f64>, [f64; 4]) {
        let xs = linspace(-half, half, n);
        let mut v = Vec::with_capacity(n * n);
        for y in &xs {
            for x in &xs {
                v.push((x * x + y * y).sqrt());
            }
        }
        (v, [-half, half, -half, half])
    }

    fn signed_area(p: &[[f64; 2]]) -> f64 {
        let mut a = 0.0;
        for k in 0..p.len() {
            let (q, r) = (p[k], p[(k + 1) % p.len()]);
            a += q[0] * r[1] - r[0] * q[1];
        }
        a / 2.0
    }

    #[test]
    fn radial_isolines_lie_on_the_circle() -> Result<(), Error> {
        let n = 41;
        let (v, ext) = radial(n, 2.0);
        let grid = Grid::new(&v, n, n, ext)?;
        let cell = 4.0 / (n - 1) as f64;
        for r in [0.33, 0.7, 1.0, 1.55] {
            let lines = contour_lines(&grid, r);
            assert_eq!(lines.len(), 1, "r = {r}");
            let line = &lines[0];
            assert!(line.closed);
            for p in &line.points {
                let d = (p[0].hypot(p[1]) - r).abs();
                // Linear interpolation along an edge errs by about cell² / (8 r): within 5 %
                // of a cell for these radii.
                assert!(d < 0.05 * cell, "r = {r}: off by {d}");
            }
            // Above (outside) on the left: the loop runs clockwise.
            assert!(signed_area(&line.points) < 0.0);
            let area = signed_area(&line.points).abs();
            let exact = std::f64::consts::PI * r * r;
            assert!(
                (area - exact).abs() / exact < 0.03,
                "r = {r}: area {area} vs {exact}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_peak_gives_one_counter_clockwise_loop() -> Result<(), Error> {
        let n = 30;
        let (mut v, ext) = radial(n, 1.0);
        for z in &mut v {
            *z = (-*z * *z).exp();
        }
        let grid = Grid::new(&v, n, n, ext)?;
        let lines = contour_lines(&grid, 0.5);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].closed);
        assert!(signed_area(&lines[0].points) > 0.0);
        // No repeated points, none duplicated at the end.
        let p = &lines[0].points;
        assert_ne!(p.first(), p.last());
        Ok(())
    }

    #[test]
    fn a_circle_cut_by_the_frame_is_open_at_both_ends() -> Result<(), Error> {
        // Centre at the left edge: the circle of radius 1 leaves the frame at (-1, ±1).
        let n = 25;
        let xs = linspace(0.0, 2.0, n);
        let ys = linspace(-2.0, 2.0, n);
        let mut v = Vec::new();
        for y in &ys {
            for x in &xs {
                v.push(x.hypot(*y));
            }
        }
        let grid = Grid::new(&v, n, n, [0.0, 2.0, -2.0, 2.0])?;
        let lines = contour_lines(&grid, 1.0);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert!(!l.closed);
        let (a, b) = (l.points[0], l.points[l.points.len() - 1]);
        for p in [a, b] {
            assert!(p[0].abs() < 1e-12, "end {p:?} not on the frame x = 0");
            assert!((p[1].abs() - 1.0).abs() < 1e-9);
        }
        // No point runs along the frame: only the two ends have x = 0.
        let on_frame = l.points.iter().filter(|p| p[0].abs() < 1e-12).count();
        assert_eq!(on_frame, 2);
        Ok(())
    }

    #[test]
    fn saddles_follow_the_centre_value() -> Result<(), Error> {
        // One cell, corners bl, br, tr, tl = 1, 0, 1, 0: a saddle.
        let ext = [0.0, 1.0, 0.0, 1.0];
        // Row 0 is (bl, br) = (1, 0), row 1 is (tl, tr) = (0, 1).
        let vals = [1.0, 0.0, 0.0, 1.0];
        let grid = Grid::new(&vals, 2, 2, ext)?;
        // Level 0.4: centre 0.5 above → the above corners (bl, tr) are joined; the segments cut
        // off the below corners br and tl.
        let lines = contour_lines(&grid, 0.4);
        assert_eq!(lines.len(), 2);
        for l in &lines {
            let mid = [
                (l.points[0][0] + l.points[1][0]) / 2.0,
                (l.points[0][1] + l.points[1][1]) / 2.0,
            ];
            let near_br = mid[0] > 0.5 && mid[1] < 0.5;
            let near_tl = mid[0] < 0.5 && mid[1] > 0.5;
            assert!(near_br || near_tl, "{l:?}");
        }
        // Level 0.6: centre below → the below corners are joined; segments cut off bl and tr.
        let lines = contour_lines(&grid, 0.6);
        assert_eq!(lines.len(), 2);
        for l in &lines {
            let mid = [
                (l.points[0][0] + l.points[1][0]) / 2.0,
                (l.points[0][1] + l.points[1][1]) / 2.0,
            ];
            let near_bl = mid[0] < 0.5 && mid[1] < 0.5;
            let near_tr = mid[0] > 0.5 && mid[1] > 0.5;
            assert!(near_bl || near_tr, "{l:?}");
        }
        Ok(())
    }

    #[test]
    fn saddle_lines_agree_between_neighbouring_cells() -> Result<(), Error> {
        // A checkerboard has saddles everywhere; every segment must chain up, so each
        // polyline end lies on the frame and no crossing is used twice.
        let n = 7;
        let mut v = Vec::new();
        for i in 0..n {
            for j in 0..n {
                v.push(if (i + j) % 2 == 0 { 1.0 } else { 0.0 });
            }
        }
        let grid = Grid::new(&v, n, n, [0.0, 6.0, 0.0, 6.0])?;
        for level in [0.3, 0.5, 0.7] {
            let lines = contour_lines(&grid, level);
            let mut total = 0;
            for l in &lines {
                total += if l.closed {
                    l.points.len()
                } else {
                    l.points.len() - 1
                };
                if !l.closed {
                    for p in [l.points[0], l.points[l.points.len() - 1]] {
                        let on = p[0] == 0.0 || p[0] == 6.0 || p[1] == 0.0 || p[1] == 6.0;
                        assert!(on, "open end {p:?} inside at level {level}");
                    }
                }
            }
            // 36 saddle cells, two segments each.
            assert_eq!(total, 72, "level {level}");
        }
        Ok(())
    }

    #[test]
    fn equal_to_level_counts_as_below() -> Result<(), Error> {
        // Corners exactly at the level are below: a plateau at the level yields nothing.
        let v = [1.0; 9];
        let grid = Grid::new(&v, 3, 3, [0.0, 1.0, 0.0, 1.0])?;
        assert!(contour_lines(&grid, 1.0).is_empty());
        // A single point above the level at the centre: a closed diamond through the edge
        // midpoints... with the other corners equal to the level, the crossings sit on them.
        let v = [1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0];
        let grid = Grid::new(&v, 3, 3, [0.0, 2.0, 0.0, 2.0])?;
        let lines = contour_lines(&grid, 1.0);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].closed);
        assert_eq!(lines[0].points.len(), 4);
        Ok(())
    }

    #[test]
    fn nan_cells_give_no_line_and_open_the_contour() -> Result<(), Error> {
        let n = 21;
        let (mut v, ext) = radial(n, 2.0);
        // Knock out one point on the circle r = 1 (x = 1, y = 0 is grid point (10, 15)).
        v[10 * n + 15] = f64::NAN;
        let grid = Grid::new(&v, n, n, ext)?;
        let lines = contour_lines(&grid, 1.0);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].closed);
        for p in &lines[0].points {
            assert!(p[0].is_finite() && p[1].is_finite());
            // Nothing inside the four cells around the NaN point.
            assert!(!((p[0] - 1.0).abs() < 0.19 && p[1].abs() < 0.19), "{p:?}");
        }
        assert!(contour_lines(&grid, f64::NAN).is_empty());
        let all_nan = vec![f64::NAN; 16];
        let grid = Grid::new(&all_nan, 4, 4, ext)?;
        assert!(contour_lines(&grid, 0.5).is_empty());
        Ok(())
    }

    #[test]
    fn malformed_grids_are_errors() {
        let v = [0.0; 6];
        assert!(matches!(
            Grid::new(&v, 4, 2, [0.0, 1.0, 0.0, 1.0]),
            Err(Error::GridShape {
                len: 6,
                nx: 4,
                ny: 2
            })
        ));
        assert!(matches!(
            Grid::new(&v, 6, 1, [0.0, 1.0, 0.0, 1.0]),
            Err(Error::GridShape { .. })
        ));
        assert!(matches!(
            Grid::new(&v, 3, 2, [1.0, 0.0, 0.0, 1.0]),
            Err(Error::Extent { .. })
        ));
        assert!(matches!(
            Grid::new(&v, 3, 2, [0.0, f64::NAN, 0.0, 1.0]),
            Err(Error::Extent { .. })
        ));
    }

    #[test]
    fn notebook_levels_match_linspace() {
        let l = notebook_levels(2.0);
        assert_eq!(l.len(), 10);
        assert_eq!(l[0], 0.0);
        assert_eq!(l[9], 2.2);
        assert!((l[3] - 3.0 * 2.2 / 9.0).abs() < 1e-15);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn lines_are_finite_and_inside_the_extent(
                vals in proptest::collection::vec(prop_oneof![
                    8 => -1.0f64..1.0,
                    1 => Just(0.0),
                    1 => Just(f64::NAN),
                ], 36),
                level in -1.0f64..1.0,
            ) {
                let grid = Grid::new(&vals, 6, 6, [-1.0, 2.0, 0.0, 5.0])?;
                let lines = contour_lines(&grid, level);
                for l in &lines {
                    prop_assert!(l.points.len() >= 2);
                    for p in &l.points {
                        prop_assert!(p[0] >= -1.0 && p[0] <= 2.0 && p[1] >= 0.0 && p[1] <= 5.0);
                    }
                    if l.closed {
                        prop_assert!(l.points.len() >= 3);
                    }
                }
            }
        }
    }
}
