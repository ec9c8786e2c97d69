//! Live figures of a run, shared by the engine, the sinks and the store while it runs, and read
//! by `/metrics`, `/healthz`, the progress line and the run manifest.
//!
//! Writers update plain atomics (one relaxed add per record on the hot path); readers take
//! snapshots whenever they like, so no reader ever slows the generator down.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;

use crate::domain::stream::{Stream, TopicNames};
use crate::domain::totals::BusinessTotals;

/// Upper bounds (seconds) of the canonical store's commit-latency histogram buckets.
pub const COMMIT_LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Offsets one run wrote to a partition, as the delivery reports told them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetRange {
    pub first: i64,
    pub last: i64,
}

/// What the engine knew when it stopped: the business totals of what it published, and the
/// units on hand per location (warehouse or store id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closing {
    pub totals: BusinessTotals,
    pub stock: BTreeMap<String, i64>,
}

/// `verify --follow`'s figures (only its process has them).
#[derive(Debug, Default)]
pub struct VerifyStats {
    pub checked: AtomicU64,
    pub rounds: AtomicU64,
    /// Records on the topics not yet read, as of the last round's start.
    pub lag: AtomicI64,
    /// Violations so far per rule, in the report's order.
    pub violations: Mutex<Vec<(&'static str, u64)>>,
}

impl VerifyStats {
    pub fn violations(&self) -> Vec<(&'static str, u64)> {
        lock(&self.violations).clone()
    }
}

/// The POS simulator's figures (only its process has them).
#[derive(Debug, Default)]
pub struct SimulatorStats {
    pub consumer_lag: AtomicI64,
    pub open_carts: AtomicI64,
    pub late: AtomicU64,
    pub unparseable: AtomicU64,
    pub transactions: AtomicU64,
}

/// A run's live figures. Cheap to share (`Arc`), safe to read at any time.
#[derive(Debug)]
pub struct RunStats {
    topics: TopicNames,
    started: Instant,
    produced: [AtomicU64; Stream::COUNT],
    acknowledged: [AtomicU64; Stream::COUNT],
    failed: [AtomicU64; Stream::COUNT],
    faults: Mutex<BTreeMap<(Stream, String), u64>>,
    /// Records per second the pacing aims at now (f64 bits; 0 = unthrottled).
    target_rate: AtomicU64,
    pending_follow_ups: AtomicU64,
    queue_depth: AtomicU64,
    outbox_backlog: AtomicI64,
    /// The engine's logical time (event-time milliseconds), for the progress of a `--to` run.
    logical_ms: AtomicI64,
    commit_latency: Histogram,
    /// Kept only for the run manifest (a lock per delivery report otherwise spared).
    offsets: Option<Mutex<BTreeMap<(Stream, i32), OffsetRange>>>,
    failure: Mutex<Option<String>>,
    /// Why the canonical store is away now (a lost connection being ridden through), if it is.
    degraded: Mutex<Option<String>>,
    store_outages: AtomicU64,
    closing: Mutex<Option<Closing>>,
    /// The run's number on its target, once numbered (-1 before).
    run_number: AtomicI64,
    pub simulator: SimulatorStats,
    pub verify: VerifyStats,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RunStats {
    /// Figures without offset ranges.
    pub fn new(topics: TopicNames) -> Arc<Self> {
        Self::build(topics, false)
    }

    /// Figures that also keep the offset ranges the delivery reports name (for the manifest).
    pub fn keeping_offsets(topics: TopicNames) -> Arc<Self> {
        Self::build(topics, true)
    }

    fn build(topics: TopicNames, offsets: bool) -> Arc<Self> {
        Arc::new(Self {
            topics,
            started: Instant::now(),
            produced: Default::default(),
            acknowledged: Default::default(),
            failed: Default::default(),
            faults: Mutex::default(),
            target_rate: AtomicU64::new(0f64.to_bits()),
            pending_follow_ups: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            outbox_backlog: AtomicI64::new(0),
            logical_ms: AtomicI64::new(0),
            commit_latency: Histogram::new(COMMIT_LATENCY_BUCKETS),
            offsets: offsets.then(Mutex::default),
            failure: Mutex::default(),
            degraded: Mutex::default(),
            store_outages: AtomicU64::new(0),
            closing: Mutex::default(),
            run_number: AtomicI64::new(-1),
            simulator: SimulatorStats::default(),
            verify: VerifyStats::default(),
        })
    }

    pub fn topics(&self) -> &TopicNames {
        &self.topics
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    // --- written by the engine ---

    pub fn produced(&self, stream: Stream) {
        self.produced[stream.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn fault(&self, stream: Stream, label: String) {
        *lock(&self.faults).entry((stream, label)).or_default() += 1;
    }

    pub fn set_target_rate(&self, per_sec: f64) {
        self.target_rate.store(per_sec.to_bits(), Ordering::Relaxed);
    }

    pub fn set_pending_follow_ups(&self, n: usize) {
        self.pending_follow_ups.store(n as u64, Ordering::Relaxed);
    }

    pub fn set_logical_ms(&self, ms: i64) {
        self.logical_ms.store(ms, Ordering::Relaxed);
    }

    // --- written by the sinks and the store ---

    /// A delivery report: acknowledged at `partition`/`offset`, or failed.
    pub fn delivered(&self, stream: Stream, at: Option<(i32, i64)>) {
        let Some((partition, offset)) = at else {
            self.failed[stream.index()].fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.acknowledged[stream.index()].fetch_add(1, Ordering::Relaxed);
        let Some(offsets) = self.offsets.as_ref().filter(|_| offset >= 0) else {
            return;
        };
        lock(offsets)
            .entry((stream, partition))
            .and_modify(|r| {
                r.first = r.first.min(offset);
                r.last = r.last.max(offset);
            })
            .or_insert(OffsetRange {
                first: offset,
                last: offset,
            });
    }

    /// Records a sink without delivery reports took (stdout, files, null): acknowledged at once.
    pub fn taken(&self, stream: Stream) {
        self.acknowledged[stream.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_queue_depth(&self, n: u64) {
        self.queue_depth.store(n, Ordering::Relaxed);
    }

    pub fn observe_commit(&self, seconds: f64) {
        self.commit_latency.observe(seconds);
    }

    pub fn set_outbox_backlog(&self, rows: i64) {
        self.outbox_backlog.store(rows, Ordering::Relaxed);
    }

    /// The sink or the store failed for good: the run is no longer healthy.
    pub fn fail(&self, why: &str) {
        lock(&self.failure).get_or_insert_with(|| why.to_owned());
    }

    /// The canonical store went away (the run waits and retries): degraded, one outage more.
    pub fn store_away(&self, why: &str) {
        self.store_outages.fetch_add(1, Ordering::Relaxed);
        *lock(&self.degraded) = Some(why.to_owned());
    }

    /// The canonical store is back.
    pub fn store_back(&self) {
        *lock(&self.degraded) = None;
    }

    pub fn numbered(&self, run: u32) {
        self.run_number.store(i64::from(run), Ordering::Relaxed);
    }

    /// The engine stopped (or failed) knowing this.
    pub fn close(&self, closing: Closing) {
        *lock(&self.closing) = Some(closing);
    }

    // --- read by /metrics, /healthz, progress and the manifest ---

    pub fn run_number(&self) -> Option<u32> {
        u32::try_from(self.run_number.load(Ordering::Relaxed)).ok()
    }

    pub fn closing(&self) -> Option<Closing> {
        lock(&self.closing).clone()
    }

    pub fn produced_of(&self, stream: Stream) -> u64 {
        self.produced[stream.index()].load(Ordering::Relaxed)
    }

    pub fn acknowledged_of(&self, stream: Stream) -> u64 {
        self.acknowledged[stream.index()].load(Ordering::Relaxed)
    }

    pub fn failed_of(&self, stream: Stream) -> u64 {
        self.failed[stream.index()].load(Ordering::Relaxed)
    }

    pub fn produced_total(&self) -> u64 {
        Stream::ALL.iter().map(|&s| self.produced_of(s)).sum()
    }

    pub fn faults(&self) -> BTreeMap<(Stream, String), u64> {
        lock(&self.faults).clone()
    }

    pub fn target_rate(&self) -> f64 {
        f64::from_bits(self.target_rate.load(Ordering::Relaxed))
    }

    /// Records per second since the run started.
    pub fn achieved_rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        match secs > 0.0 {
            true => self.produced_total() as f64 / secs,
            false => 0.0,
        }
    }

    pub fn pending_follow_ups(&self) -> u64 {
        self.pending_follow_ups.load(Ordering::Relaxed)
    }

    pub fn queue_depth(&self) -> u64 {
        self.queue_depth.load(Ordering::Relaxed)
    }

    pub fn outbox_backlog(&self) -> i64 {
        self.outbox_backlog.load(Ordering::Relaxed)
    }

    pub fn logical_ms(&self) -> i64 {
        self.logical_ms.load(Ordering::Relaxed)
    }

    pub fn commit_latency(&self) -> &Histogram {
        &self.commit_latency
    }

    /// The offset ranges, if kept (else none).
    pub fn offsets(&self) -> BTreeMap<(Stream, i32), OffsetRange> {
        self.offsets
            .as_ref()
            .map(|o| lock(o).clone())
            .unwrap_or_default()
    }

    /// Why the run is unhealthy: a failure of the sink or the store, or lost deliveries.
    /// Outages of the canonical store ridden through (or being ridden through) so far.
    pub fn store_outages(&self) -> u64 {
        self.store_outages.load(Ordering::Relaxed)
    }

    /// Why the run is degraded now (still running, waiting for something), if it is.
    pub fn degraded(&self) -> Option<String> {
        lock(&self.degraded).clone()
    }

    pub fn unhealthy(&self) -> Option<String> {
        if let Some(why) = lock(&self.failure).clone() {
            return Some(why);
        }
        let lost: u64 = Stream::ALL.iter().map(|&s| self.failed_of(s)).sum();
        (lost > 0).then(|| format!("{lost} records were not delivered"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Arc<RunStats> {
        RunStats::keeping_offsets(TopicNames(std::array::from_fn(|i| format!("t{i}"))))
    }

    #[test]
    fn offset_ranges_span_every_acknowledged_offset_of_a_partition() {
        let s = stats();
        for offset in [7, 3, 9] {
            s.delivered(Stream::Orders, Some((1, offset)));
        }
        s.delivered(Stream::Orders, Some((0, 4)));
        s.delivered(Stream::Orders, None);
        let ranges = s.offsets();
        assert_eq!(
            ranges[&(Stream::Orders, 1)],
            OffsetRange { first: 3, last: 9 }
        );
        assert_eq!(
            ranges[&(Stream::Orders, 0)],
            OffsetRange { first: 4, last: 4 }
        );
        assert_eq!(s.acknowledged_of(Stream::Orders), 4);
        assert_eq!(s.failed_of(Stream::Orders), 1);
        let unkept = RunStats::new(s.topics().clone());
        unkept.delivered(Stream::Orders, Some((1, 3)));
        assert!(unkept.offsets().is_empty());
        assert_eq!(unkept.acknowledged_of(Stream::Orders), 1);
    }

    #[test]
    fn a_run_is_healthy_until_a_delivery_or_the_store_fails() {
        let s = stats();
        s.delivered(Stream::Payments, Some((0, 0)));
        assert_eq!(s.unhealthy(), None);
        s.delivered(Stream::Payments, None);
        assert_eq!(
            s.unhealthy().as_deref(),
            Some("1 records were not delivered")
        );
        let t = stats();
        t.fail("the canonical store failed");
        t.fail("a second reason is not kept");
        assert_eq!(t.unhealthy().as_deref(), Some("the canonical store failed"));
    }
}
