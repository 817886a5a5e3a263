//! Tests of the chart widget: drawn into a buffer and read back as text.

use super::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::widgets::Block;

fn render(chart: Chart<'_>, w: u16, h: u16) -> Buffer {
    let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
    chart.render(buf.area, &mut buf);
    buf
}

fn lines(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

fn series(points: &[(f64, f64)]) -> Series<'_> {
    Series::line(points, Style::default(), '*')
}

fn marker(x: f64, style: Style) -> Marker {
    Marker {
        x,
        glyph: '▲',
        ascii: '^',
        style,
    }
}

fn is_braille(s: &str) -> bool {
    s.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c))
}

/// The y labels: (row, text) of the text left of the y axis.
fn y_labels(buf: &Buffer, axis: char) -> Vec<(usize, String)> {
    lines(buf)
        .iter()
        .enumerate()
        .filter_map(|(row, line)| {
            let (label, _) = line.split_once(axis)?;
            let label = label.trim();
            (!label.is_empty()).then(|| (row, label.to_string()))
        })
        .collect()
}

#[test]
fn rising_line_is_higher_on_the_right() {
    let pts: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, i as f64 * 0.5)).collect();
    let buf = render(Chart::new(vec![series(&pts)]), 40, 12);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for y in 0..12u16 {
        for x in 0..40u16 {
            if is_braille(buf[(x, y)].symbol()) {
                let half = if x < 20 { &mut left } else { &mut right };
                half.push(f64::from(y));
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(!left.is_empty() && !right.is_empty());
    assert!(mean(&right) < mean(&left), "{:#?}", lines(&buf));
}

#[test]
fn ascii_mode_is_ascii_everywhere() {
    let pts: Vec<(f64, f64)> = (0..200)
        .map(|i| (i as f64 * 10.0, 1.0 / (1.0 + i as f64)))
        .collect();
    let markers = [marker(500.0, Style::default().fg(Color::Red))];
    for log in [false, true] {
        let chart = Chart::new(vec![series(&pts)])
            .mode(Mode::Ascii)
            .log_y(log)
            .markers(&markers)
            .hline(0.5, Style::default())
            .highlight((1990.0, 1.0 / 200.0), Style::default())
            .x_title("stép");
        let buf = render(chart, 50, 14);
        let text = lines(&buf).concat();
        assert!(text.is_ascii(), "{:#?}", lines(&buf));
        assert!(text.contains('*') && text.contains('@') && text.contains('|'));
        assert!(text.contains("st?p"), "{:#?}", lines(&buf));
    }
}

#[test]
fn log_axis_has_decades_in_order() {
    let pts: Vec<(f64, f64)> = (0..=50)
        .map(|i| (i as f64, 10f64.powf(-3.0 + i as f64 / 25.0)))
        .collect();
    let buf = render(Chart::new(vec![series(&pts)]).log_y(true), 40, 14);
    let labels = y_labels(&buf, '┤');
    let row = |l: &str| labels.iter().find(|(_, t)| t == l).map(|(r, _)| *r);
    let (top, mid, bottom) = (row("0.1"), row("0.01"), row("1e-3"));
    assert!(
        top.is_some() && mid.is_some() && bottom.is_some(),
        "{labels:?}"
    );
    assert!(top < mid && mid < bottom, "{labels:?}");
    // Linear would put 1e-2 near the bottom; log puts it halfway.
    let (t, m, b) = (top.unwrap_or(0), mid.unwrap_or(0), bottom.unwrap_or(0));
    assert!((m as i64 - (t + b) as i64 / 2).abs() <= 1, "{labels:?}");
}

#[test]
fn log_axis_within_one_decade_labels_bounds() {
    let pts = [(0.0, 2.0), (1.0, 3.0), (2.0, 2.5)];
    let buf = render(Chart::new(vec![series(&pts)]).log_y(true), 30, 10);
    assert_eq!(y_labels(&buf, '┤').len(), 2, "{:#?}", lines(&buf));
}

#[test]
fn normal_series_gets_several_y_labels_and_x_labels() {
    let pts: Vec<(f64, f64)> = (0..1500)
        .map(|i| (i as f64, 2.0 + (i as f64 / 100.0).sin()))
        .collect();
    let buf = render(Chart::new(vec![series(&pts)]).x_title("step"), 60, 16);
    let labels = y_labels(&buf, '┤');
    assert!(labels.len() >= 3, "{:#?}", lines(&buf));
    assert!(labels.windows(2).all(|w| w[0].1 != w[1].1));
    let bottom = &lines(&buf)[15];
    assert!(
        bottom.contains("step") && bottom.contains("500") && bottom.contains("1k"),
        "{bottom}"
    );
}

#[test]
fn markers_hline_and_highlight_appear() {
    let pts: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, 0.0)).collect();
    let markers = [
        marker(50.0, Style::default()),
        marker(500.0, Style::default()),
    ];
    let chart = Chart::new(vec![series(&pts)])
        .y_bounds([-1.0, 3.0])
        .markers(&markers)
        .hline(2.0, Style::default().fg(Color::Yellow))
        .highlight((100.0, 0.0), Style::default());
    let buf = render(chart, 40, 12);
    let text = lines(&buf);
    // The marker inside the bounds sits on the x axis; the one outside is not drawn.
    assert_eq!(text[10].matches('▲').count(), 1, "{text:#?}");
    let axis = text[10].chars().position(|c| c == '└').unwrap_or(0);
    let marker = text[10].chars().position(|c| c == '▲').unwrap_or(0);
    assert!(marker > axis + 10 && marker < 35, "{text:#?}");
    assert!(text.iter().any(|l| l.contains("─────")), "{text:#?}");
    assert!(text.concat().contains('◆'));
    let hline_cell = text
        .iter()
        .position(|l| l.contains("─────") && !l.contains('└'))
        .map(|y| &buf[(39, y as u16)]);
    assert_eq!(hline_cell.map(|c| c.fg), Some(Color::Yellow));
}

#[test]
fn later_series_draw_over_earlier_and_colour_comes_from_styles() {
    let a = [(0.0, 0.0), (1.0, 1.0)];
    let b = [(0.0, 0.0), (1.0, 1.0)];
    let red = Style::default().fg(Color::Red);
    let chart = Chart::new(vec![series(&a), Series::line(&b, red, '+')]);
    let buf = render(chart.clone().mode(Mode::Ascii), 20, 8);
    assert!(!lines(&buf).concat().contains('*'));
    let buf = render(Chart::new(vec![series(&a)]), 20, 8);
    assert!(
        buf.content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
}

#[test]
fn flat_single_and_empty_series() {
    let flat: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 0.25)).collect();
    let buf = render(Chart::new(vec![series(&flat)]), 30, 10);
    assert!(
        lines(&buf)
            .concat()
            .chars()
            .any(|c| is_braille(&c.to_string()))
    );
    assert!(
        y_labels(&buf, '┤').iter().any(|(_, l)| l == "0.25"),
        "{:#?}",
        lines(&buf)
    );

    let single = [(5.0, 5.0)];
    let buf = render(Chart::new(vec![series(&single)]).mode(Mode::Ascii), 30, 10);
    assert_eq!(
        lines(&buf).concat().matches('*').count(),
        1,
        "{:#?}",
        lines(&buf)
    );

    let nan = [(f64::NAN, 1.0), (1.0, f64::NAN)];
    for chart in [
        Chart::new(vec![]),
        Chart::new(vec![series(&[])]),
        Chart::new(vec![series(&nan)]),
        Chart::new(vec![series(&[(1.0, -1.0)])]).log_y(true),
    ] {
        let buf = render(chart, 21, 5);
        assert_eq!(lines(&buf)[2], "     no data yet     ");
    }
}

#[test]
fn no_panic_for_odd_inputs_and_sizes() {
    let rising: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, i as f64)).collect();
    let datasets: Vec<Vec<(f64, f64)>> = vec![
        vec![],
        vec![(0.0, 0.0)],
        vec![(3.0, -2.0)],
        vec![
            (f64::NAN, f64::NAN),
            (f64::INFINITY, 1.0),
            (1.0, f64::NEG_INFINITY),
        ],
        vec![(0.0, 1.0), (0.0, 1.0), (0.0, 1.0)],
        vec![
            (0.0, -5.0),
            (1.0, 0.0),
            (2.0, 5.0),
            (3.0, f64::NAN),
            (4.0, 1e-9),
        ],
        vec![(-f64::MAX, -f64::MAX), (f64::MAX, f64::MAX), (0.0, 0.0)],
        vec![(0.0, 5e-324), (1.0, 1e-320), (2.0, f64::MIN_POSITIVE)],
        vec![(1e15, 1.0), (1e15 + 1.0, 1.0 + 1e-15)],
        vec![(5.0, 1.0), (1.0, 3.0), (3.0, -1.0)],
        rising.clone(),
    ];
    let bounds: [Option<[f64; 2]>; 5] = [
        None,
        Some([10.0, -10.0]),
        Some([2.0, 2.0]),
        Some([f64::NAN, 1.0]),
        Some([-1e300, 1e300]),
    ];
    let areas = [
        (0, 0),
        (1, 1),
        (2, 2),
        (5, 3),
        (11, 3),
        (12, 4),
        (13, 40),
        (80, 24),
    ];
    let markers = [
        marker(0.0, Style::default()),
        marker(f64::NAN, Style::default()),
        marker(1e300, Style::default()),
    ];
    for data in &datasets {
        for mode in [Mode::Braille, Mode::Ascii, Mode::Glyph] {
            for log in [false, true] {
                for b in bounds {
                    for (w, h) in areas {
                        let mut chart = Chart::new(vec![
                            series(data).kind(Kind::Band),
                            series(&rising).kind(Kind::Points),
                        ])
                        .mode(mode)
                        .log_y(log)
                        .log_x(log)
                        .x_labels(if log { XLabels::Clock } else { XLabels::Number })
                        .markers(&markers)
                        .hline(f64::NAN, Style::default())
                        .highlight((f64::INFINITY, 0.0), Style::default())
                        .x_title("a very long x axis title indeed");
                        if let Some(b) = b {
                            chart = chart.x_bounds(b).y_bounds(b);
                        }
                        render(chart.clone(), w, h);
                        // An area partly outside the buffer.
                        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 10));
                        chart.render(Rect::new(5, 5, w, h), &mut buf);
                    }
                }
            }
        }
    }
}

#[test]
fn tiny_areas_draw_only_the_plot() {
    let pts: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, i as f64)).collect();
    let buf = render(Chart::new(vec![series(&pts)]), 11, 3);
    let text = lines(&buf).concat();
    assert!(!text.contains('│') && !text.contains('─'), "{text}");
    assert!(is_braille(&text));
    let buf = render(Chart::new(vec![series(&pts)]).mode(Mode::Ascii), 1, 1);
    assert_eq!(lines(&buf), vec!["*"]);
}

#[test]
fn ascii_chart_in_a_block() {
    let loss: Vec<(f64, f64)> = (0..=2000)
        .map(|i| (i as f64, 2.0 * (-(i as f64) / 500.0).exp() + 0.1))
        .collect();
    let markers = [marker(1000.0, Style::default())];
    let chart = Chart::new(vec![Series::line(&loss, Style::default(), '*')])
        .mode(Mode::Ascii)
        .markers(&markers)
        .hline(1.0, Style::default())
        .highlight((2000.0, loss[2000].1), Style::default())
        .x_title("step");
    let mut terminal = Terminal::new(TestBackend::new(44, 14)).expect("test backend");
    let drawn = terminal.draw(|f| {
        let block = Block::bordered().title("loss");
        let inner = block.inner(f.area());
        f.render_widget(block, f.area());
        f.render_widget(chart, inner);
    });
    assert!(drawn.is_ok());
    insta::assert_snapshot!(lines(terminal.backend().buffer()).join("\n"), @r"
    ┌loss──────────────────────────────────────┐
    │   |*                                     │
    │  2+**                                    │
    │   | ***                                  │
    │1.5+   **                                 │
    │   |    ***                               │
    │  1+------****----------------------------│
    │   |         ****                         │
    │0.5+            *******                   │
    │   |                  ****************    │
    │   |                                 ****@│
    │   ++--------+---------^--------+---------│
    │    0       500       1k      1.5k    step│
    └──────────────────────────────────────────┘
    ");
}

#[test]
fn markers_have_their_own_glyphs_and_x_labels_keep_off_the_edge() {
    let pts: Vec<(f64, f64)> = (0..=300).map(|i| (i as f64, 1.0)).collect();
    let markers = [
        Marker {
            x: 100.0,
            glyph: '‖',
            ascii: 'P',
            style: Style::default(),
        },
        marker(200.0, Style::default()),
    ];
    for (mode, glyphs) in [(Mode::Braille, ['‖', '▲']), (Mode::Ascii, ['P', '^'])] {
        let buf = render(
            Chart::new(vec![series(&pts)]).mode(mode).markers(&markers),
            40,
            10,
        );
        let text = lines(&buf);
        for g in glyphs {
            assert_eq!(text[8].matches(g).count(), 1, "{text:#?}");
        }
        // The last label ("300") ends a column before the right edge.
        assert!(text[9].ends_with("300 "), "{text:#?}");
    }
}

#[test]
fn a_band_fills_between_the_extremes_of_each_column() {
    // Two values per x, far apart: a line zig-zags, a band fills the gap.
    let pts: Vec<(f64, f64)> = (0..400)
        .map(|i| (f64::from(i / 2), if i % 2 == 0 { 0.0 } else { 10.0 }))
        .collect();
    let filled = |kind| {
        let buf = render(
            Chart::new(vec![series(&pts).kind(kind)])
                .mode(Mode::Ascii)
                .y_bounds([0.0, 10.0]),
            30,
            12,
        );
        lines(&buf).concat().matches('*').count()
    };
    assert!(filled(Kind::Band) >= filled(Kind::Line));
    assert!(filled(Kind::Band) > 150, "{}", filled(Kind::Band));
    // Points alone are not joined.
    let two = [(0.0, 0.0), (10.0, 10.0)];
    let buf = render(
        Chart::new(vec![series(&two).kind(Kind::Points)]).mode(Mode::Ascii),
        30,
        12,
    );
    assert_eq!(lines(&buf).concat().matches('*').count(), 2);
}

#[test]
fn log_and_clock_x_axes() {
    let pts: Vec<(f64, f64)> = (1..=10_000).map(|i| (i as f64, 1.0)).collect();
    let buf = render(Chart::new(vec![series(&pts)]).log_x(true), 40, 8);
    let labels = &lines(&buf)[7];
    assert!(
        labels.contains("10") && labels.contains("100") && labels.contains("1k"),
        "{labels}"
    );
    let pts: Vec<(f64, f64)> = (0..=300).map(|i| (f64::from(i), 1.0)).collect();
    let buf = render(
        Chart::new(vec![series(&pts)]).x_labels(XLabels::Clock),
        40,
        8,
    );
    let labels = &lines(&buf)[7];
    assert!(
        labels.contains("2:00") && labels.contains("4:00"),
        "{labels}"
    );
}

#[test]
fn glyph_mode_draws_each_series_with_its_glyph() {
    let a: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, i as f64)).collect();
    let b: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, 50.0 - i as f64)).collect();
    let buf = render(
        Chart::new(vec![series(&a).glyph('•'), series(&b).glyph('×')]).mode(Mode::Glyph),
        30,
        12,
    );
    let text = lines(&buf).concat();
    assert!(text.contains('•') && text.contains('×') && !is_braille(&text));
    assert!(text.contains('│'));
}
