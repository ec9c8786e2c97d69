//! The end-of-run summary: records per topic, delivered and failed, and why the run stopped.

use std::fmt::Write;

use crate::engine::RunReport;

pub fn render(report: &RunReport) -> String {
    let secs = report.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        report.records as f64 / secs
    } else {
        0.0
    };
    let mut out = format!(
        "retailgen: {} records in {secs:.2} s ({rate:.0} records/s); stopped: {}\n",
        report.records, report.stop
    );
    let _ = writeln!(
        out,
        "  {:<32} {:>12} {:>12} {:>8}",
        "topic", "produced", "acknowledged", "failed"
    );
    for t in &report.topics {
        let _ = writeln!(
            out,
            "  {:<32} {:>12} {:>12} {:>8}",
            t.topic, t.produced, t.acknowledged, t.failed
        );
    }
    if !report.faults.is_empty() {
        let _ = writeln!(
            out,
            "  {:<32} {:<28} {:>8}",
            "labelled faults (dq header)", "kind", "records"
        );
        for ((stream, label), n) in &report.faults {
            let topic = report
                .topics
                .get(stream.index())
                .map_or("?", |t| t.topic.as_str());
            let _ = writeln!(out, "  {topic:<32} {label:<28} {n:>8}");
        }
    }
    if report.unsent_follow_ups > 0 {
        let _ = writeln!(
            out,
            "  {} follow-up records (payments, shipments) were due after the stop and were not generated",
            report.unsent_follow_ups
        );
    }
    out
}

/// Records that were handed to the sink but not acknowledged: failures or a flush that gave up.
pub fn undelivered(report: &RunReport) -> u64 {
    report
        .topics
        .iter()
        .map(|t| t.produced.saturating_sub(t.acknowledged))
        .sum()
}
