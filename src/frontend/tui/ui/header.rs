//! The header: name, stack, status; progress, speed, time and live hyperparameters.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::fmt::clock;
use crate::fmt::{compact, thousands};
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
    let model = if theme.ascii {
        model.replace('→', "->")
    } else {
        model.to_string()
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                " rnnlab",
                theme
                    .fg(ratatui::style::Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(sep),
            Span::styled(name.to_string(), Modifier::BOLD),
            Span::raw(sep),
            Span::raw(model),
        ])),
        title_area,
    );
    f.render_widget(Paragraph::new(Line::from(status)), status_area);

    let mut progress: Vec<String> = Vec::new();
    if let (Some(info), Some(s)) = (&v.info, &v.last) {
        let pct = 100.0 * s.step as f64 / info.total_steps.max(1) as f64;
        progress.push(format!(
            "step {}/{} ({pct:.0}%)",
            thousands(s.step),
            thousands(info.total_steps)
        ));
        progress.push(format!("epoch {}/{}", s.epoch, info.epochs));
        progress.push(format!(
            "{} samples/s",
            thousands(s.samples_per_s.round() as u64)
        ));
        let eta = if s.step > 0 && !v.state.is_over() {
            let left = info.total_steps.saturating_sub(s.step) as f64;
            format!(" < {}", clock(s.wall_s / s.step as f64 * left))
        } else {
            String::new()
        };
        progress.push(format!("{}{eta}", clock(s.wall_s)));
    } else if let Some(info) = &v.info {
        progress.push(format!("0/{} steps", thousands(info.total_steps)));
    }
    let mut hyper: Vec<String> = Vec::new();
    if let Some(info) = &v.info {
        hyper.push(format!("lr {}", compact(v.learning_rate)));
        hyper.push(if v.clip > 0.0 {
            format!("clip {}", compact(v.clip))
        } else {
            "clip off".into()
        });
        hyper.push(if v.eval_every > 0 {
            format!("eval every {} steps", v.eval_every)
        } else {
            "eval every epoch".into()
        });
        hyper.push(format!("{} parameters", thousands(info.parameters as u64)));
    }
    for (row, parts) in [(1, progress), (2, hyper)] {
        f.render_widget(
            Paragraph::new(format!(" {}", parts.join(sep))),
            Rect {
                y: area.y + row,
                height: 1,
                ..area
            },
        );
    }
}
