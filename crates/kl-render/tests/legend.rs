//! Where the legend goes: the pixels it changes sit in the corner the axes ask for.

use kl_render::{Axes, Figure, FigureSpec, LineStyle, Rgba, render};

fn draw(axes: Axes) -> kl_render::Canvas {
    let mut fig = Figure::new(FigureSpec {
        rows: 1,
        cols: 1,
        width_in: 6.0,
        height_in: 4.0,
        dpi: 72.0,
        scale: 1.0,
    })
    .expect("a valid spec");
    fig.panel_mut(0, 0)
        .series(
            &[[1.0, 1.0], [10.0, 100.0]],
            LineStyle::solid(Rgba::tab10(0), 1.5),
            "a curve",
        )
        .axes(axes);
    render(&fig)
}

/// The mean position of the pixels the legend changes, as fractions of the canvas.
fn legend_centre(axes: Axes) -> (f64, f64) {
    let with = draw(axes.clone());
    let without = draw(Axes {
        legend: false,
        ..axes
    });
    let (w, h) = (with.width(), with.height());
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in 0..h {
        for x in 0..w {
            if with.pixel(x, y) != without.pixel(x, y) {
                sx += f64::from(x);
                sy += f64::from(y);
                n += 1.0;
            }
        }
    }
    assert!(n > 20.0, "a legend is drawn ({n} pixels)");
    (sx / n / f64::from(w), sy / n / f64::from(h))
}

#[test]
fn the_legend_goes_to_the_corner_asked_for() {
    let base = Axes {
        legend: true,
        log_x: true,
        log_y: true,
        ..Axes::default()
    };
    let upper_right = legend_centre(base.clone());
    let lower_right = legend_centre(Axes {
        legend_lower_right: true,
        ..base.clone()
    });
    let upper_left = legend_centre(Axes {
        legend_left: true,
        ..base.clone()
    });
    let lower_left = legend_centre(Axes {
        legend_left: true,
        legend_lower_right: true,
        ..base
    });
    for (name, (x, y), (right, lower)) in [
        ("upper right", upper_right, (true, false)),
        ("lower right", lower_right, (true, true)),
        ("upper left", upper_left, (false, false)),
        ("lower left", lower_left, (false, true)),
    ] {
        assert_eq!(x > 0.5, right, "{name}: x at {x:.2} of the width");
        assert_eq!(y > 0.5, lower, "{name}: y at {y:.2} of the height");
    }
}
