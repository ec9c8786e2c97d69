//! Progress on stderr, never on stdout (it may carry records): a live status line on a terminal
//! (records, rate, and for bounded runs a bar and an ETA, by `indicatif`), else one log line
//! every `PROGRESS_INTERVAL`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::observe::RunStats;

/// How often the terminal line is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// The bar being drawn, so log lines can be written around it instead of through it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Writes `text` to stderr without tearing the live status line, if one is drawn.
pub fn write_stderr(text: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let bar = BAR.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let write = || std::io::stderr().lock().write_all(text);
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// Where a bounded run ends, so its progress has a fraction and an ETA.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Unbounded,
    /// `--count`: records.
    Count(u64),
    /// `--from .. --to`: logical time in event-time milliseconds.
    Span {
        from_ms: i64,
        to_ms: i64,
    },
    /// `--duration`.
    Duration(Duration),
}

impl Bound {
    /// How far along the run is, from 0 to 1; `None` when unbounded.
    fn fraction(&self, stats: &RunStats, elapsed: Duration) -> Option<f64> {
        let f = match *self {
            Bound::Unbounded => return None,
            Bound::Count(n) => stats.produced_total() as f64 / n as f64,
            Bound::Span { from_ms, to_ms } => {
                (stats.logical_ms() - from_ms) as f64 / (to_ms - from_ms).max(1) as f64
            }
            Bound::Duration(d) => elapsed.as_secs_f64() / d.as_secs_f64(),
        };
        Some(f.clamp(0.0, 1.0))
    }
}

/// One progress line: records, the rate over the last interval and overall, and for bounded
/// runs how far along and the ETA.
pub fn line(stats: &RunStats, bound: Bound, recent_rate: f64, elapsed: Duration) -> String {
    let records = stats.produced_total();
    let mut out = format!(
        "progress: {records} records in {:.0} s, {recent_rate:.0} records/s now, {:.0} on average",
        elapsed.as_secs_f64(),
        stats.achieved_rate()
    );
    if let Some(f) = bound.fraction(stats, elapsed) {
        out += &format!(", {:.1} % done", f * 100.0);
        if f > 0.0 && f < 1.0 {
            let eta = elapsed.as_secs_f64() * (1.0 - f) / f;
            out += &format!(
                ", ETA {}",
                humantime::format_duration(Duration::from_secs(eta as u64))
            );
        }
    }
    out
}

/// The progress reporter's thread; `stop` ends it (and clears the live line).
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts reporting on a thread of its own: a live line if stderr is a terminal, else a log
    /// line every `interval`.
    pub fn start(stats: Arc<RunStats>, bound: Bound, interval: Duration) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let terminal = std::io::stderr().is_terminal();
        let thread = std::thread::Builder::new()
            .name("retailgen-progress".into())
            .spawn(move || match terminal {
                true => live(&stats, bound, &stop),
                false => logged(&stats, bound, interval, &stop),
            })
            .ok();
        Self { done, thread }
    }

    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Sleeps up to `d`, waking early when told to stop; false once stopped.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
    false
}

fn logged(stats: &RunStats, bound: Bound, interval: Duration, stop: &AtomicBool) {
    let mut last = (Instant::now(), stats.produced_total());
    while nap(interval, stop) {
        let now = (Instant::now(), stats.produced_total());
        let rate = (now.1 - last.1) as f64 / (now.0 - last.0).as_secs_f64();
        last = now;
        tracing::info!("{}", line(stats, bound, rate, stats.started().elapsed()));
    }
}

fn live(stats: &RunStats, bound: Bound, stop: &AtomicBool) {
    // Nothing is drawn before the first record: start-up messages come first.
    while stats.produced_total() == 0 {
        if !nap(REDRAW, stop) {
            return;
        }
    }
    const SCALE: u64 = 10_000;
    let (bar, template) = match bound {
        Bound::Unbounded => (ProgressBar::new_spinner(), "{spinner} {msg} ({elapsed})"),
        _ => (
            ProgressBar::new(SCALE),
            "{spinner} {msg} [{wide_bar}] {percent}% ETA {eta}",
        ),
    };
    let style = ProgressStyle::with_template(template)
        .expect("a valid progress template")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(5));
    *BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
    let mut last = (Instant::now(), stats.produced_total());
    let mut rate = 0.0;
    while nap(REDRAW, stop) {
        let now = (Instant::now(), stats.produced_total());
        let secs = (now.0 - last.0).as_secs_f64();
        if secs >= 1.0 {
            rate = (now.1 - last.1) as f64 / secs;
            last = now;
        }
        bar.set_message(format!("{} records, {rate:.0}/s", now.1));
        if let Some(f) = bound.fraction(stats, stats.started().elapsed()) {
            bar.set_position((f * SCALE as f64) as u64);
        }
        bar.tick();
    }
    *BAR.lock().unwrap_or_else(|p| p.into_inner()) = None;
    bar.finish_and_clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stream::{Stream, TopicNames};

    fn stats_with(records: u64) -> Arc<RunStats> {
        let s = RunStats::new(TopicNames(std::array::from_fn(|i| format!("t{i}"))));
        for _ in 0..records {
            s.produced(Stream::Orders);
        }
        s
    }

    #[test]
    fn a_count_bound_run_says_how_far_along_it_is_and_when_it_ends() {
        let s = stats_with(250);
        let text = line(&s, Bound::Count(1000), 25.0, Duration::from_secs(10));
        assert!(
            text.starts_with("progress: 250 records in 10 s, 25 records/s now"),
            "{text}"
        );
        assert!(text.ends_with(", 25.0 % done, ETA 30s"), "{text}");
    }

    #[test]
    fn a_span_is_measured_in_logical_time_and_an_unbounded_run_has_no_eta() {
        let s = stats_with(10);
        s.set_logical_ms(1_500);
        let span = Bound::Span {
            from_ms: 1_000,
            to_ms: 3_000,
        };
        let text = line(&s, span, 1.0, Duration::from_secs(4));
        assert!(text.ends_with(", 25.0 % done, ETA 12s"), "{text}");
        let text = line(&s, Bound::Unbounded, 1.0, Duration::from_secs(4));
        assert!(!text.contains("ETA") && !text.contains("done"), "{text}");
    }
}
