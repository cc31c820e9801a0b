//! `copiloot analyze --live`: replays one conversation through a live session as if it were happening
//! now — waiting between turns by their timestamps (scaled by `--speed`) and printing each update the
//! moment it is computed, so a demo or an integration sees what an agent would see during the call.

use super::{copilot, AnalyzeArgs, Format, Record};
use crate::text::{alert_line, knowledge_line};
use anyhow::Context;
use copiloot::{Analysis, Conversation, Error, LiveSession, LiveStart, LiveUpdate, Location, NewTurn};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

/// One output line of the JSON format: the tag tells a reader which shape follows.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event<'a> {
    Update(&'a LiveUpdate),
    Closed { analysis: &'a Analysis },
}

pub fn run(args: &AnalyzeArgs, name: &str, records: Vec<Record>) -> anyhow::Result<ExitCode> {
    let speed = args.speed.unwrap_or(1.0);
    if !speed.is_finite() || speed < 0.0 {
        return Err(
            Error::invalid(Location::field("speed"), "--speed must be a number ≥ 0 (1 = real time)").into()
        );
    }
    let conversation = single(name, records)?;
    let text = args.format == Some(Format::Text);
    let copilot = copilot(args)?;

    let start = LiveStart {
        id: conversation.id.clone(),
        channel: conversation.channel,
        language: conversation.language.clone(),
        customer: conversation.customer.clone(),
        parties: conversation.parties.clone(),
    };
    let mut session = LiveSession::new(&copilot, start)?;
    let colour = text && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::stdout().lock();
    let mut clock = Clock { speed, previous: None };
    for turn in conversation.turns {
        clock.wait_for(turn.timestamp);
        let index = turn.index;
        let update = session
            .push(NewTurn { speaker: turn.speaker, text: turn.text, timestamp: turn.timestamp })
            .with_context(|| format!("{name}: the live replay stopped at turn {index}"))?;
        let line = if text {
            update_text(&update, colour)
        } else {
            serde_json::to_string(&Event::Update(&update))? + "\n"
        };
        // Flushed per turn: whoever reads the pipe sees each update when it happens.
        out.write_all(line.as_bytes())?;
        out.flush()?;
    }
    let turns = session.len();
    let analysis = session.close(&mut |_| true)?;
    let line = if text {
        closed_text(&analysis, turns)
    } else {
        serde_json::to_string(&Event::Closed { analysis: &analysis })? + "\n"
    };
    out.write_all(line.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The one conversation of the input. Several are refused rather than replayed one after the other:
/// a live replay stands for one call, and their timestamps would restart at every conversation.
fn single(name: &str, records: Vec<Record>) -> anyhow::Result<Conversation> {
    if records.len() > 1 {
        let ids: Vec<String> =
            records.iter().take(3).filter_map(|r| r.as_ref().ok()).map(|c| c.id.clone()).collect();
        return Err(Error::invalid(
            Location::default().with_source(name),
            format!(
                "--live replays one conversation, and this input holds {} (ids {}{}); put the one to replay \
                 in its own file",
                records.len(),
                ids.join(", "),
                if records.len() > 3 { ", …" } else { "" }
            ),
        )
        .into());
    }
    Ok(records.into_iter().next().context("no conversation in the input")??)
}

/// The waits between turns: before a timestamped turn, the time since the previous timestamped turn ×
/// `speed`, counted from when the previous update was printed. Analysing comes on top of the wait, so the
/// replay runs a little slower than the timestamps (tens of milliseconds a turn), and every gap an
/// observer sees is at least the scaled one.
struct Clock {
    speed: f64,
    previous: Option<f64>,
}

impl Clock {
    fn wait_for(&mut self, timestamp: Option<f64>) {
        let Some(t) = timestamp else { return };
        let Some(previous) = self.previous.replace(t) else { return };
        if self.speed > 0.0 {
            // A timestamp before the previous one (refused by the session right after) waits nothing; an
            // offset too large for a Duration (an absurd --speed) waits "forever", as asked.
            let wait = ((t - previous) * self.speed).max(0.0);
            std::thread::sleep(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX));
        }
    }
}

/// `--format text`: the turn on one line, then one highlighted line per alert it fired.
fn update_text(u: &LiveUpdate, colour: bool) -> String {
    let mut line =
        format!("{:>3} {} {:<8} {}", u.turn, clock_time(u.timestamp), speaker(u), shorten(&u.text, 60));
    if let Some(i) = &u.intent {
        line += &format!("  | intent {} {:.0}%", i.intent, 100.0 * i.score);
    }
    if let Some(s) = &u.sentiment {
        line += &format!("  | {} {:+.2}", s.label.as_str(), s.score);
    }
    if let Some(c) = &u.churn {
        line += &format!("  | churn {:.0}%", 100.0 * c.score);
        if let Some(change) = u.churn_change {
            line += &format!(" ({:+.0})", 100.0 * change);
        }
    }
    line.push('\n');
    for alert in &u.alerts {
        let alert = format!("    !! {}", alert_line(alert));
        // Bold red on a terminal; plain in a pipe or with NO_COLOR, where the `!!` marks the line.
        line += &if colour { format!("\x1b[1;31m{alert}\x1b[0m\n") } else { alert + "\n" };
    }
    for k in &u.knowledge {
        line += &format!("    ?? {}\n", knowledge_line(k));
    }
    line
}

/// `--format text`'s last lines: how the conversation ended and the CRM note.
fn closed_text(a: &Analysis, turns: usize) -> String {
    let churn = a
        .churn
        .as_ref()
        .map(|c| format!(", churn risk {:.0}% ({})", 100.0 * c.score, c.band.as_str()))
        .unwrap_or_default();
    let alerts = a.alerts.as_ref().map_or(0, Vec::len);
    let note = a.summary.as_ref().map_or("(no summary: the customer did not speak)", |s| s.text.as_str());
    format!("closed {} after {turns} turns{churn}, {alerts} alerts\nnote: {note}\n", a.conversation_id)
}

fn speaker(u: &LiveUpdate) -> String {
    serde_json::to_value(u.speaker).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// `[mm:ss]` (or `[h:mm:ss]`), blank for a turn without a timestamp so the columns stay aligned.
fn clock_time(timestamp: Option<f64>) -> String {
    let Some(t) = timestamp else { return " ".repeat(7) };
    let s = t.round() as u64;
    match s / 3600 {
        0 => format!("[{:02}:{:02}]", s / 60, s % 60),
        h => format!("[{h}:{:02}:{:02}]", s / 60 % 60, s % 60),
    }
}

/// At most `max` characters, cut at a word where there is one, `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn shorten_cuts_at_a_word_and_marks_the_cut() {
        assert_eq!(shorten("kort", 10), "kort");
        let long = "Mijn internet valt al drie weken elke avond uit en dit is echt belachelijk";
        let short = shorten(long, 30);
        assert!(short.chars().count() <= 30, "{short}");
        assert_eq!(short, "Mijn internet valt al drie…");
    }

    #[test]
    fn clock_time_is_minutes_and_seconds() {
        assert_eq!(clock_time(Some(125.0)), "[02:05]");
        assert_eq!(clock_time(Some(3725.0)), "[1:02:05]");
        assert_eq!(clock_time(None), "       ");
    }

    #[test]
    fn the_clock_waits_in_proportion_to_the_timestamps_and_not_at_speed_zero() {
        let mut clock = Clock { speed: 0.01, previous: None };
        let started = Instant::now();
        for t in [Some(10.0), None, Some(20.0), Some(30.0), None] {
            clock.wait_for(t);
        }
        assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
        let mut clock = Clock { speed: 0.0, previous: None };
        let started = Instant::now();
        clock.wait_for(Some(0.0));
        clock.wait_for(Some(1e6));
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
