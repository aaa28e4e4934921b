//! PNG plots drawn by the runner itself (plotters, bitmap backend): per scenario and
//! mode, requests/s and p99 latency against connections; and the scaling run.

use std::path::Path;

use plotters::prelude::*;

use super::args::Options;
use super::mode::Mode;
use super::scenarios::{Peer, Scenario, SCENARIOS};
use super::stats;
use super::Outcome;

/// Fonts plotters' ab_glyph text renderer can use, in order of preference
/// (Debian: fonts-dejavu-core; bench/run installs it).
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
];

fn register_font() -> Result<(), String> {
    for path in FONTS {
        if let Ok(bytes) = std::fs::read(path) {
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(());
            }
        }
    }
    Err(format!(
        "no TrueType font found (looked for {}); install fonts-dejavu-core",
        FONTS.join(", ")
    ))
}

fn color(p: Peer) -> RGBColor {
    match p {
        Peer::Uring => RGBColor(214, 39, 40),
        Peer::Uring82 => RGBColor(140, 86, 75),
        Peer::UringEpoll => RGBColor(255, 127, 14),
        Peer::Hyper => RGBColor(31, 119, 180),
        Peer::NginxFpm => RGBColor(44, 160, 44),
        Peer::PhpServer => RGBColor(127, 127, 127),
        Peer::UringStub => RGBColor(148, 103, 189),
        Peer::UringCache => RGBColor(140, 86, 75),
        Peer::NginxCache => RGBColor(23, 190, 207),
    }
}

/// A plot written: its file name (relative to the plots dir) and what it shows.
pub struct PlotFile {
    pub mode: Mode,
    pub scenario: &'static str,
    pub file: String,
}

/// Draws every plot; returns the files written.
pub fn write_all(dir: &Path, out: &Outcome, opts: &Options) -> Result<Vec<PlotFile>, String> {
    if out.samples.is_empty() && out.scaling.is_empty() {
        return Ok(Vec::new());
    }
    register_font()?;
    let mut files = Vec::new();
    for (mode, _) in &out.placements {
        for s in SCENARIOS
            .iter()
            .filter(|s| opts.scenarios.iter().any(|o| o.key == s.key))
        {
            let file = format!("{}-{}.png", s.key, mode.key());
            if scenario_plot(&dir.join(&file), *mode, s, out, opts)? {
                files.push(PlotFile {
                    mode: *mode,
                    scenario: s.key,
                    file,
                });
            }
        }
    }
    if !out.scaling.is_empty() {
        let file = "scaling.png".to_string();
        scaling_plot(&dir.join(&file), out).map_err(|e| format!("scaling plot: {e}"))?;
        files.push(PlotFile {
            mode: Mode::Scaling,
            scenario: "hello",
            file,
        });
    }
    Ok(files)
}

type Series = (Peer, Vec<(f64, f64)>);

fn scenario_plot(
    path: &Path,
    mode: Mode,
    sc: &Scenario,
    out: &Outcome,
    opts: &Options,
) -> Result<bool, String> {
    let (key, title) = (sc.key, sc.title);
    let conns = super::conns_of(sc, opts);
    let mut rps: Vec<Series> = Vec::new();
    let mut p99: Vec<Series> = Vec::new();
    for peer in Peer::ALL {
        let pts: Vec<(usize, stats::Point)> = conns
            .iter()
            .filter_map(|&c| stats::find(&out.samples, mode, key, peer, c).map(|p| (c, p)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        rps.push((peer, pts.iter().map(|(c, p)| (*c as f64, p.rps)).collect()));
        p99.push((
            peer,
            pts.iter()
                .map(|(c, p)| (*c as f64, p.p99_us / 1000.0))
                .collect(),
        ));
    }
    if rps.is_empty() {
        return Ok(false);
    }
    draw(path, mode, title, &rps, &p99, &conns).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}

fn draw(
    path: &Path,
    mode: Mode,
    title: &str,
    rps: &[Series],
    p99: &[Series],
    conns: &[usize],
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let root = root
        .titled(&format!("{title} — {mode} mode"), ("sans-serif", 24))
        .map_err(|x| e(&x))?;
    let (left, right) = root.split_horizontally(700);

    let (lo, hi) = conns.iter().fold((f64::MAX, 0f64), |(l, h), &c| {
        (l.min(c as f64), h.max(c as f64))
    });
    let (lo, hi) = (lo / 1.4, hi * 1.4);
    let keys: Vec<f64> = conns.iter().map(|&c| c as f64).collect();

    let ymax = rps
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(0f64, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&left)
        .caption("requests per second", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(
            (lo..hi).log_scale().with_key_points(keys.clone()),
            0f64..ymax.max(1.0),
        )
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc("req/s")
        .max_light_lines(1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y >= 1000.0 {
                format!("{:.0}k", y / 1000.0)
            } else {
                format!("{y:.0}")
            }
        })
        .draw()
        .map_err(|x| e(&x))?;
    for (peer, pts) in rps {
        series(&mut chart, *peer, pts).map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|x| e(&x))?;

    let (pmin, pmax) = p99
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, 0f64), |(l, h), v| (l.min(v), h.max(v)));
    let (pmin, pmax) = if pmax > 0.0 {
        (pmin / 1.5, pmax * 1.5)
    } else {
        (0.01, 1.0)
    };
    let mut chart = ChartBuilder::on(&right)
        .caption("p99 latency (ms, log scale)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(
            (lo..hi).log_scale().with_key_points(keys),
            (pmin..pmax).log_scale(),
        )
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc("ms")
        .y_labels(8)
        .max_light_lines(1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y < 1.0 {
                format!("{y:.2}")
            } else {
                format!("{y:.0}")
            }
        })
        .draw()
        .map_err(|x| e(&x))?;
    for (peer, pts) in p99 {
        series(&mut chart, *peer, pts).map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

fn series<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    peer: Peer,
    pts: &[(f64, f64)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let c = color(peer);
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
        .label(peer.label())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(2)));
    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    Ok(())
}

fn scaling_plot(path: &Path, out: &Outcome) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let pts: Vec<(f64, f64, f64)> = out
        .scaling
        .iter()
        .filter_map(|r| {
            let refs: Vec<&stats::Sample> = r.samples.iter().collect();
            stats::point(&refs).map(|p| (r.cores as f64, p.rps, p.rps / r.cores as f64))
        })
        .collect();
    let root = BitMapBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let max_cores = pts.iter().map(|p| p.0).fold(1.0, f64::max);
    let ymax = pts.iter().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let keys: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "uring_php hello.php vs CPU_AFFINITY size",
            ("sans-serif", 22),
        )
        .margin(14)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0.7f64..max_cores * 1.4).log_scale().with_key_points(keys),
            0f64..ymax.max(1.0),
        )
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("cores (CPU_AFFINITY)")
        .y_desc("req/s")
        .max_light_lines(1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if *y >= 1000.0 {
                format!("{:.0}k", y / 1000.0)
            } else {
                format!("{y:.0}")
            }
        })
        .draw()
        .map_err(|x| e(&x))?;
    let total = RGBColor(214, 39, 40);
    let per_core = RGBColor(31, 119, 180);
    chart
        .draw_series(LineSeries::new(
            pts.iter().map(|p| (p.0, p.1)),
            total.stroke_width(2),
        ))
        .map_err(|x| e(&x))?
        .label("requests/s")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], total.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            pts.iter().map(|p| (p.0, p.2)),
            per_core.stroke_width(2),
        ))
        .map_err(|x| e(&x))?
        .label("requests/s per core")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 22, y)], per_core.stroke_width(2))
        });
    chart
        .draw_series(pts.iter().flat_map(|p| {
            [
                Circle::new((p.0, p.1), 4, total.filled()),
                Circle::new((p.0, p.2), 4, per_core.filled()),
            ]
        }))
        .map_err(|x| e(&x))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
