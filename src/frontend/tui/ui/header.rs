//! The header: name, stack, status; progress, speed, time and live hyperparameters.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Part, Theme, fit_line};
use crate::fmt::clock;
use crate::fmt::{compact, thousands, words};
use crate::frontend::tui::app::App;

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let name = v.info.as_ref().map_or("…", |i| i.name.as_str());
    let model = v.info.as_ref().map_or("", |i| i.model.as_str());
    let sep = theme.glyph(" · ", " | ");
    let mut status = vec![Span::styled(
        format!(" {} ", v.state.label()),
        theme.state(v.state),
    )];
    if app.is_frozen() {
        status.push(Span::raw(" "));
        status.push(Span::styled(
            " FROZEN ",
            theme.state(crate::frontend::tui::app::RunState::Paused),
        ));
    }
    let status_width: usize = status.iter().map(|s| s.width()).sum();
    let [title_area, status_area] =
        Layout::horizontal([Constraint::Min(1), Constraint::Length(status_width as u16)])
            .areas(Rect { height: 1, ..area });
    let model = theme.clean(model);
    let name = &theme.clean(name);
    // The title's forms: the name always whole; the stack cut between layers.
    let room = usize::from(title_area.width.saturating_sub(1));
    let ellipsis = theme.glyph("…", "...");
    let name_w = crate::fmt::width(name);
    let title: Vec<Span> = {
        let brand = Span::styled(
            " rnnlab",
            theme
                .fg(ratatui::style::Color::Cyan)
                .add_modifier(Modifier::BOLD),
        );
        let bold_name = Span::styled(name.to_string(), Modifier::BOLD);
        let full = 7 + 2 * sep.chars().count() + name_w + crate::fmt::width(&model);
        if full <= room {
            vec![
                brand,
                Span::raw(sep),
                bold_name,
                Span::raw(sep),
                Span::raw(model),
            ]
        } else {
            let left = room.saturating_sub(1 + name_w + sep.chars().count());
            let stack = words(&model, left, ellipsis);
            let mut spans = vec![Span::raw(" "), bold_name];
            if !stack.is_empty() && stack != ellipsis {
                spans.push(Span::raw(sep));
                spans.push(Span::raw(stack));
            }
            spans
        }
    };
    f.render_widget(Paragraph::new(Line::from(title)), title_area);
    f.render_widget(Paragraph::new(Line::from(status)), status_area);

    let plain = |text: String| vec![Span::raw(text)];
    let mut progress: Vec<Part> = Vec::new();
    if let (Some(info), Some(s)) = (&v.info, &v.last) {
        let pct = 100.0 * s.step as f64 / info.total_steps.max(1) as f64;
        let (step, total) = (thousands(s.step), thousands(info.total_steps));
        progress.push(Part::new(
            0,
            vec![
                plain(format!("step {step}/{total} ({pct:.0}%)")),
                plain(format!("step {step}/{total}")),
                plain(format!("{step}/{total}")),
            ],
        ));
        progress.push(Part::one(
            1,
            plain(format!("epoch {}/{}", s.epoch, info.epochs)),
        ));
        progress.push(Part::one(
            3,
            plain(format!(
                "{} samples/s",
                thousands(s.samples_per_s.round() as u64)
            )),
        ));
        let elapsed = clock(s.wall_s);
        let mut times = Vec::new();
        if s.step > 0 && !v.state.is_over() {
            let left = info.total_steps.saturating_sub(s.step) as f64;
            let eta = clock(s.wall_s / s.step as f64 * left);
            times.push(plain(format!("{elapsed} < {eta}")));
        }
        times.push(plain(elapsed));
        progress.push(Part::lossy(2, times, 1));
    } else if let Some(info) = &v.info {
        progress.push(Part::one(
            0,
            plain(format!("0/{} steps", thousands(info.total_steps))),
        ));
    }
    let mut hyper: Vec<Part> = Vec::new();
    if let Some(info) = &v.info {
        hyper.push(Part::one(
            0,
            plain(format!("lr {}", compact(v.learning_rate))),
        ));
        if let Some(t) = v.temperature {
            hyper.push(Part::new(
                0,
                vec![
                    plain(format!("temperature {}", compact(t))),
                    plain(format!("temp {}", compact(t))),
                ],
            ));
        }
        hyper.push(Part::one(
            1,
            plain(if v.clip > 0.0 {
                format!("clip {}", compact(v.clip))
            } else {
                "clip off".into()
            }),
        ));
        hyper.push(Part::new(
            2,
            if v.eval_every > 0 {
                vec![
                    plain(format!("eval every {} steps", thousands(v.eval_every))),
                    plain(format!("eval every {}", thousands(v.eval_every))),
                ]
            } else {
                vec![
                    plain("eval every epoch".into()),
                    plain("eval each epoch".into()),
                ]
            },
        ));
        hyper.push(Part::new(
            3,
            vec![
                plain(format!("{} parameters", thousands(info.parameters as u64))),
                plain(format!("{} params", thousands(info.parameters as u64))),
            ],
        ));
    }
    let room = usize::from(area.width.saturating_sub(2));
    for (row, parts) in [(1, progress), (2, hyper)] {
        let mut line = fit_line(parts, sep, room);
        line.spans.insert(0, Span::raw(" "));
        f.render_widget(
            Paragraph::new(line),
            Rect {
                y: area.y + row,
                height: 1,
                ..area
            },
        );
    }
}
