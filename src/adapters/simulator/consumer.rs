//! The POS simulator's Kafka loop: two consumers (one group per input, as in the pos_producer.py POS simulator, both
//! starting from the same position), the carts in between, and a producer whose delivery reports
//! decide what may be committed. An input record's offset is committed only once every
//! transaction built from it is acknowledged (or it turned out to be in none): a crash at any
//! instant loses nothing, and what is read again checks out again under the same id. The two
//! groups' positions form a consistent cut: a session that will be read again has all its
//! shelf events read again too, so a transaction sent again is the same transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::input::{self, Read};
use super::output::TransactionEncoder;
use crate::adapters::crash::{crash_if, crash_point};
use crate::adapters::kafka::replay::{partitions, EndIsExpected};
use crate::adapters::kafka::{client_config, producer_config, send, KafkaError};
use crate::adapters::registry::decoder::WireDecoder;
use crate::config::{KafkaSettings, StartFrom};
use crate::domain::events::Millis;
use crate::domain::ports::{Clock, PriceBook};
use crate::domain::store::simulator::{
    priced_line, Carts, Checkout, Quote, Tag, UNLISTED_PRICE_CENTS,
};
use crate::observe::RunStats;

/// How long both inputs must be at their end, with nothing new, before event time is taken
/// as complete up to the wall clock minus the lateness (the last visits of a quiet evening, or
/// of a finished backfill, check out).
const IDLE_AFTER: Duration = Duration::from_secs(5);
/// Records read from one input before looking at the other.
const BATCH: usize = 512;
/// Unparseable records logged one by one; the rest are counted.
const LOGGED_UNPARSEABLE: u64 = 20;
/// How often the live figures (`METRICS_ADDR`) are brought up to date; lag asks the broker.
const FIGURES_EVERY: Duration = Duration::from_secs(2);

pub struct SimulatorConfig {
    pub foot_topic: String,
    pub shelf_topic: String,
    pub pos_topic: String,
    pub group_foot: String,
    pub group_shelf: String,
    pub start: StartFrom,
    pub commit_interval: Duration,
    pub lateness: Duration,
    pub max_session_age: Duration,
    pub force_if_empty: bool,
}

/// What a run did, for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SimReport {
    pub sessions: u64,
    pub shelf_events: u64,
    pub skipped: u64,
    pub labelled: u64,
    pub unparseable: u64,
    pub transactions: u64,
    pub acknowledged: u64,
    pub unlisted_lines: u64,
    pub late: u64,
    pub orphan: u64,
    pub replayed: u64,
    pub over_putback: u64,
    pub open_at_stop: usize,
}

impl std::fmt::Display for SimReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pos-simulator: read {} sessions and {} shelf events; wrote {} transactions ({} acknowledged); \
             late {}, orphan {}, replayed {}, putbacks beyond the cart {}, unparseable {}, labelled bad/duplicate {}, \
             skipped {}, unlisted lines {}; {} sessions still open (read again on restart)",
            self.sessions,
            self.shelf_events,
            self.transactions,
            self.acknowledged,
            self.late,
            self.orphan,
            self.replayed,
            self.over_putback,
            self.unparseable,
            self.labelled,
            self.skipped,
            self.unlisted_lines,
            self.open_at_stop
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Failed(String),
}

/// The two inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Input {
    Foot = 0,
    Shelf = 1,
}

fn tag(input: Input, partition: i32, offset: i64) -> Tag {
    ((input as u64) << 62)
        | ((partition as u64 & 0x3_ffff) << 44)
        | (offset as u64 & 0xfff_ffff_ffff)
}

fn untag(t: Tag) -> (Input, i32, i64) {
    let input = if t >> 62 == 0 {
        Input::Foot
    } else {
        Input::Shelf
    };
    (
        input,
        ((t >> 44) & 0x3_ffff) as i32,
        (t & 0xfff_ffff_ffff) as i64,
    )
}

/// Per input partition: offsets read but not done with, and the offset after the last read.
#[derive(Default)]
struct Progress {
    open: BTreeSet<i64>,
    next: Option<i64>,
}

impl Progress {
    /// Where a restart must begin reading.
    fn committable(&self) -> Option<i64> {
        self.open.first().copied().or(self.next)
    }
}

/// Delivery reports: the tags of each acknowledged transaction, and the first failure.
#[derive(Default)]
struct Deliveries {
    acknowledged: Mutex<Vec<Vec<Tag>>>,
    failed: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Vec<Tag>>;

    fn delivery(&self, result: &DeliveryResult<'_>, tags: Box<Vec<Tag>>) {
        match result {
            Ok(_) => self.acknowledged.lock().expect("delivery lock").push(*tags),
            Err((e, _)) => {
                let mut failed = self.failed.lock().expect("delivery lock");
                failed.get_or_insert_with(|| format!("a transaction was not delivered: {e}"));
            }
        }
    }
}

struct Reader {
    topic: String,
    consumer: BaseConsumer<EndIsExpected>,
    partitions: Vec<i32>,
    at_end: HashMap<i32, bool>,
    group: String,
    start: &'static str,
    /// Per partition, the offset after the last record read (at first the committed offset):
    /// records before it were done with by an earlier run or are in this one's carts already,
    /// and are skipped if a fetch brings them again (from a batch's start, or after the
    /// broker's answer made the client reset to an earlier offset).
    skip_below: HashMap<i32, i64>,
}

/// Probes per partition before reading it from its beginning.
const PROBES: [i64; 6] = [1, 16, 256, 4_096, 65_536, 1_048_576];

/// An offset at or before `committed` that a fetch returns records from, starting at or before
/// `committed`: found by fetching from further and further back (a fetch from inside a batch on
/// tansu 0.6 skips that batch), 0 at worst.
fn batch_start(
    probe: &BaseConsumer<EndIsExpected>,
    topic: &str,
    p: i32,
    committed: i64,
) -> Result<i64, KafkaError> {
    let mut found = 0;
    for back in PROBES {
        let from = (committed - back).max(0);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Offset(from))
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        probe
            .assign(&tpl)
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        let asked = Instant::now();
        let first = loop {
            match probe.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => break Some(m.offset()),
                Some(Err(RdKafkaError::PartitionEOF(_))) => break None,
                _ if asked.elapsed() > Duration::from_secs(3) => break None,
                _ => {}
            }
        };
        if first.is_some_and(|o| o <= committed) || from == 0 {
            found = from;
            break;
        }
    }
    Ok(found)
}

impl Reader {
    fn open(
        k: &KafkaSettings,
        topic: &str,
        group: &str,
        start: StartFrom,
    ) -> Result<Self, KafkaError> {
        let consumer: BaseConsumer<EndIsExpected> = client_config(k)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", start.as_str())
            .set("fetch.wait.max.ms", "50")
            // librdkafka prefetches up to 64 MB per consumer by default; 16 MB keeps both
            // inputs flowing at full speed (benches/simulator.rs).
            .set("queued.max.messages.kbytes", "16384")
            .create_with_context(EndIsExpected)
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        let count = partitions(k, &consumer, topic)?.ok_or_else(|| {
            KafkaError::Client(format!("topic {topic} has no partitions (does it exist?)"))
        })?;
        let partitions: Vec<i32> = (0..count).collect();
        // Assigned, not subscribed: no group membership to rebalance (a crashed member would
        // linger in it), the group only keeps the committed offsets. A committed offset is
        // fetched from a record batch's start at or before it, and what comes before it is
        // skipped: tansu 0.6 answers a fetch from inside a batch with the batches after it (a
        // restart would miss the rest of the batch it stopped in; Kafka returns the batch).
        let mut tpl = TopicPartitionList::new();
        let client = |e: rdkafka::error::KafkaError| KafkaError::Client(e.to_string());
        for p in &partitions {
            tpl.add_partition(topic, *p);
        }
        let committed = consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .map_err(|e| KafkaError::Client(format!("reading committed offsets: {e}")))?;
        let mut assigned = TopicPartitionList::new();
        let mut skip_below = HashMap::new();
        let mut probe = None;
        for e in committed.elements() {
            let p = e.partition();
            let from = match e.offset() {
                Offset::Offset(o) if o > 0 => {
                    skip_below.insert(p, o);
                    let probe = match &mut probe {
                        Some(probe) => probe,
                        None => probe.insert(
                            crate::adapters::kafka::reader_config(k)
                                .create_with_context::<_, BaseConsumer<EndIsExpected>>(
                                    EndIsExpected,
                                )
                                .map_err(|e| KafkaError::Client(e.to_string()))?,
                        ),
                    };
                    Offset::Offset(batch_start(probe, topic, p, o)?)
                }
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Stored,
            };
            assigned
                .add_partition_offset(topic, p, from)
                .map_err(client)?;
        }
        consumer.assign(&assigned).map_err(client)?;
        if let Some(probe) = probe {
            crate::adapters::kafka::dispose(probe);
        }
        Ok(Self {
            topic: topic.to_owned(),
            consumer,
            at_end: partitions.iter().map(|p| (*p, false)).collect(),
            group: group.to_owned(),
            start: start.as_str(),
            partitions,
            skip_below,
        })
    }

    /// Logs where the group's committed offsets start this run.
    fn log_start(&self) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for p in &self.partitions {
            tpl.add_partition(&self.topic, *p);
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .map_err(|e| KafkaError::Client(format!("reading committed offsets: {e}")))?;
        let at: Vec<String> = committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => format!("{}@{o}", e.partition()),
                _ => format!("{}@{}", e.partition(), self.start),
            })
            .collect();
        tracing::info!(
            "reading {} ({}) from {}",
            self.topic,
            self.group,
            at.join(", ")
        );
        Ok(())
    }

    /// Records on the broker not yet read, over the partitions whose position is known.
    fn lag(&self) -> i64 {
        let Ok(positions) = self.consumer.position() else {
            return 0;
        };
        positions
            .elements()
            .iter()
            .filter_map(|e| {
                let Offset::Offset(at) = e.offset() else {
                    return None;
                };
                let (_, high) = self
                    .consumer
                    .fetch_watermarks(&self.topic, e.partition(), Duration::from_secs(1))
                    .ok()?;
                Some((high - at).max(0))
            })
            .sum()
    }

    fn all_at_end(&self) -> bool {
        self.at_end.values().all(|e| *e)
    }

    /// Commits where a restart must begin, per partition.
    fn commit(&self, positions: &HashMap<i32, i64>) -> Result<(), String> {
        let mut tpl = TopicPartitionList::new();
        for (p, offset) in positions {
            tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*offset))
                .map_err(|e| e.to_string())?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| format!("committing the offsets of {}: {e}", self.topic))
    }
}

/// The simulator: reads until `stop`, then flushes and commits.
pub struct Simulator {
    cfg: SimulatorConfig,
    foot: Reader,
    shelf: Reader,
    producer: BaseProducer<Deliveries>,
    prices: Box<dyn PriceBook>,
    encoder: TransactionEncoder,
    core: Core,
    flush_timeout: Duration,
    buf: Vec<u8>,
    last_read: Instant,
    crash: Option<(String, u64)>,
    commits: u64,
    clock: Box<dyn Clock>,
    stats: Option<Arc<RunStats>>,
}

/// What records are read into: the carts, and what is not done with yet.
struct Core {
    decoder: WireDecoder,
    carts: Carts,
    progress: HashMap<(Input, i32), Progress>,
    /// Sessions done with (acknowledged, or closed empty) that a restart would read again:
    /// by (foot partition, offset), the first offset of their shelf events per shelf partition.
    done: BTreeMap<(i32, i64), Vec<(i32, i64)>>,
    report: SimReport,
}

impl Simulator {
    pub fn new(
        k: &KafkaSettings,
        cfg: SimulatorConfig,
        decoder: WireDecoder,
        prices: Box<dyn PriceBook>,
        encoder: TransactionEncoder,
        clock: Box<dyn Clock>,
    ) -> Result<Self, SimError> {
        let foot = Reader::open(k, &cfg.foot_topic, &cfg.group_foot, cfg.start)?;
        let shelf = Reader::open(k, &cfg.shelf_topic, &cfg.group_shelf, cfg.start)?;
        let producer: BaseProducer<Deliveries> = producer_config(k)
            .set("queue.buffering.max.messages", "100000")
            .create_with_context(Deliveries::default())
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        let mut carts = Carts::new(
            cfg.lateness.as_millis() as Millis,
            cfg.max_session_age.as_millis() as Millis,
            cfg.force_if_empty,
        );
        let sources = |r: &Reader| r.partitions.iter().map(|p| *p as u32).collect::<Vec<_>>();
        carts.expect_sources(&sources(&foot), &sources(&shelf));
        foot.log_start()?;
        shelf.log_start()?;
        Ok(Self {
            cfg,
            foot,
            shelf,
            producer,
            prices,
            encoder,
            core: Core {
                decoder,
                carts,
                progress: HashMap::new(),
                done: BTreeMap::new(),
                report: SimReport::default(),
            },
            flush_timeout: k.flush_timeout,
            buf: Vec::with_capacity(512),
            last_read: Instant::now(),
            crash: crash_point(),
            commits: 0,
            clock,
            stats: None,
        })
    }

    /// Keeps `stats` up to date while running: lag, open carts, late and unparseable input.
    pub fn observed_by(mut self, stats: Arc<RunStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    fn report_figures(&self) {
        let Some(stats) = &self.stats else {
            return;
        };
        let s = &stats.simulator;
        let now = self.snapshot();
        s.consumer_lag
            .store(self.foot.lag() + self.shelf.lag(), Ordering::Relaxed);
        s.open_carts
            .store(now.open_at_stop as i64, Ordering::Relaxed);
        s.late.store(now.late, Ordering::Relaxed);
        s.unparseable.store(now.unparseable, Ordering::Relaxed);
        s.transactions.store(now.transactions, Ordering::Relaxed);
    }

    pub fn run(mut self, stop: &CancellationToken) -> Result<SimReport, SimError> {
        let mut committed = Instant::now();
        let mut forced = Instant::now();
        let mut logged = Instant::now();
        let mut observed = Instant::now();
        self.report_figures();
        while !stop.is_cancelled() {
            let read = self.read_some()?;
            if !read {
                self.when_idle();
            }
            if forced.elapsed() >= Duration::from_secs(1) {
                self.core.carts.force(self.clock.now_ms());
                forced = Instant::now();
            }
            self.checkout()?;
            self.producer.poll(Duration::ZERO);
            if committed.elapsed() >= self.cfg.commit_interval {
                self.commit()?;
                committed = Instant::now();
            }
            if self.stats.is_some() && observed.elapsed() >= FIGURES_EVERY {
                self.report_figures();
                observed = Instant::now();
            }
            if logged.elapsed() >= Duration::from_secs(10) {
                tracing::info!("{}", self.snapshot());
                logged = Instant::now();
            }
        }
        self.commit()?;
        Ok(self.snapshot())
    }

    fn snapshot(&self) -> SimReport {
        let r = self.core.carts.rejected;
        SimReport {
            late: r.late,
            orphan: r.orphan,
            replayed: r.replayed,
            over_putback: r.over_putback,
            open_at_stop: self.core.carts.open(),
            ..self.core.report.clone()
        }
    }

    /// Reads a batch from the input that is behind in event time (so neither runs far ahead
    /// of the other and carts wait as little as possible). Returns whether anything came.
    fn read_some(&mut self) -> Result<bool, SimError> {
        let (sessions, shelf) = self.core.carts.latest();
        let first = if sessions.unwrap_or(Millis::MIN) <= shelf.unwrap_or(Millis::MIN) {
            Input::Foot
        } else {
            Input::Shelf
        };
        let second = if first == Input::Foot {
            Input::Shelf
        } else {
            Input::Foot
        };
        for (input, timeout) in [
            (first, Duration::ZERO),
            (second, Duration::ZERO),
            (first, Duration::from_millis(20)),
        ] {
            if self.read_batch(input, timeout)? > 0 {
                self.last_read = Instant::now();
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn read_batch(&mut self, input: Input, timeout: Duration) -> Result<usize, SimError> {
        let now = self.clock.now_ms();
        let Self {
            foot, shelf, core, ..
        } = self;
        let reader = match input {
            Input::Foot => foot,
            Input::Shelf => shelf,
        };
        let mut n = 0;
        while n < BATCH {
            let polled = reader
                .consumer
                .poll(if n == 0 { timeout } else { Duration::ZERO });
            let msg = match polled {
                None => break,
                Some(Err(RdKafkaError::PartitionEOF(p))) => {
                    reader.at_end.insert(p, true);
                    continue;
                }
                Some(Err(e)) => {
                    tracing::warn!("reading {}: {e}", reader.topic);
                    break;
                }
                Some(Ok(m)) => m,
            };
            reader.at_end.insert(msg.partition(), false);
            let (partition, offset) = (msg.partition(), msg.offset());
            // Read before (an earlier run's, or this one's again after the broker's answer made
            // the client reset to an earlier offset): done with, or already in a cart.
            if reader
                .skip_below
                .get(&partition)
                .is_some_and(|o| offset < *o)
            {
                continue;
            }
            reader.skip_below.insert(partition, offset + 1);
            let entry = core.progress.entry((input, partition)).or_default();
            entry.open.insert(offset);
            entry.next = Some(offset + 1);
            core.take(
                input,
                &msg,
                tag(input, partition, offset),
                &reader.topic,
                now,
            );
            n += 1;
        }
        Ok(n)
    }

    /// Both inputs at their end and quiet: event time is complete up to the wall clock minus
    /// the lateness.
    fn when_idle(&mut self) {
        if self.last_read.elapsed() >= IDLE_AFTER
            && self.foot.all_at_end()
            && self.shelf.all_at_end()
        {
            self.core
                .carts
                .advance(self.clock.now_ms() - self.cfg.lateness.as_millis() as Millis);
        }
    }

    /// Sends what the carts finished; inputs in no transaction are done with at once.
    fn checkout(&mut self) -> Result<(), SimError> {
        let finished = self.core.carts.take();
        for t in finished.released {
            self.core.release(t);
        }
        for tags in finished.empty {
            self.core.session_done(tags);
        }
        for (c, tags) in finished.checkouts {
            self.send(&c, tags)?;
        }
        Ok(())
    }

    fn send(&mut self, c: &Checkout, tags: Vec<Tag>) -> Result<(), SimError> {
        let mut lines = Vec::with_capacity(c.items.len());
        let mut unlisted = 0;
        for (item, quantity) in &c.items {
            let quote = self
                .prices
                .quote(item, c.store_id.as_deref(), c.at)
                .map_err(|e| SimError::Failed(e.to_string()))?
                .unwrap_or_else(|| {
                    unlisted += 1;
                    Quote {
                        unit_cents: UNLISTED_PRICE_CENTS,
                        discount_bp: 0,
                    }
                });
            lines.push(priced_line(item.clone(), *quantity, quote));
        }
        self.core.report.unlisted_lines += unlisted as u64;
        self.buf.clear();
        self.encoder
            .encode(c, &lines, unlisted, &mut self.buf)
            .map_err(SimError::Failed)?;
        let record = BaseRecord::with_opaque_to(&self.cfg.pos_topic, Box::new(tags))
            .key(c.customer_id.as_str())
            .payload(self.buf.as_slice())
            .timestamp(c.at);
        send(&self.producer, record, &self.cfg.pos_topic)
            .map_err(|e| SimError::Failed(e.to_string()))?;
        self.core.report.transactions += 1;
        crash_if(&self.crash, "sim_sent", self.core.report.transactions);
        Ok(())
    }

    /// Waits for every transaction sent so far, then commits, per input, the first offset not
    /// yet done with: the foot group first, carrying the event time up to which every session
    /// checked out, then the shelf group.
    fn commit(&mut self) -> Result<(), SimError> {
        self.producer.flush(self.flush_timeout).map_err(|e| {
            SimError::Failed(format!(
                "{} transactions still unacknowledged after KAFKA_FLUSH_TIMEOUT={:?}: {e}; nothing committed for them",
                self.producer.in_flight_count(),
                self.flush_timeout
            ))
        })?;
        let ctx = self.producer.context();
        if let Some(why) = ctx.failed.lock().expect("delivery lock").take() {
            return Err(SimError::Failed(format!("{why}; nothing committed for it")));
        }
        let acknowledged = std::mem::take(&mut *ctx.acknowledged.lock().expect("delivery lock"));
        for tags in acknowledged {
            self.core.session_done(tags);
        }
        self.core.report.acknowledged = self.core.report.transactions;
        let (foot, shelf) = self.core.cut();
        self.foot.commit(&foot).map_err(SimError::Failed)?;
        self.shelf.commit(&shelf).map_err(SimError::Failed)?;
        if self.core.report.transactions > 0 {
            self.commits += 1;
            crash_if(&self.crash, "sim_committed", self.commits);
        }
        Ok(())
    }
}

impl Core {
    /// One record into the carts, or counted and done with.
    /// `now`: processing time, when the record was read.
    fn take(&mut self, input: Input, msg: &BorrowedMessage<'_>, t: Tag, topic: &str, now: Millis) {
        if labelled_unusable(msg) {
            self.report.labelled += 1;
            self.release(t);
            return;
        }
        let value = msg.payload().unwrap_or_default();
        let source = msg.partition() as u32;
        let parsed = match input {
            Input::Foot => input::session(value, &mut self.decoder).map(|r| match r {
                Read::Use(s) => {
                    self.report.sessions += 1;
                    self.carts.session(s, source, t, now);
                    None
                }
                Read::Skip(why) => Some(why),
            }),
            Input::Shelf => input::shelf(value, &mut self.decoder).map(|r| match r {
                Read::Use(e) => {
                    self.report.shelf_events += 1;
                    self.carts.shelf(e, source, t);
                    None
                }
                Read::Skip(why) => Some(why),
            }),
        };
        match parsed {
            Ok(None) => {}
            Ok(Some(_)) => {
                self.report.skipped += 1;
                self.release(t);
            }
            Err(why) => {
                self.report.unparseable += 1;
                if self.report.unparseable <= LOGGED_UNPARSEABLE {
                    tracing::warn!(
                        "skipping an unparseable record at {topic}/{}/{}: {why}",
                        msg.partition(),
                        msg.offset()
                    );
                }
                self.release(t);
            }
        }
    }

    /// A session is done with: its inputs are released, and if a restart would read the
    /// session again, its shelf events must be read again with it.
    fn session_done(&mut self, tags: Vec<Tag>) {
        let mut session = None;
        let mut shelf: Vec<(i32, i64)> = Vec::new();
        for t in tags {
            self.release(t);
            match untag(t) {
                (Input::Foot, p, o) => session = Some((p, o)),
                (Input::Shelf, p, o) => match shelf.iter_mut().find(|(q, _)| *q == p) {
                    Some(first) => first.1 = first.1.min(o),
                    None => shelf.push((p, o)),
                },
            }
        }
        if let (Some(at), false) = (session, shelf.is_empty()) {
            self.done.insert(at, shelf);
        }
    }

    /// Where a restart must begin: per foot partition the first session not done with; per
    /// shelf partition the first shelf event not done with, or of a session read again.
    fn cut(&mut self) -> (HashMap<i32, i64>, HashMap<i32, i64>) {
        let mut foot = HashMap::new();
        let mut shelf = HashMap::new();
        for ((input, p), progress) in &self.progress {
            if let Some(at) = progress.committable() {
                match input {
                    Input::Foot => foot.insert(*p, at),
                    Input::Shelf => shelf.insert(*p, at),
                };
            }
        }
        self.done
            .retain(|(p, o), _| foot.get(p).is_none_or(|from| o >= from));
        for firsts in self.done.values() {
            for (q, o) in firsts {
                let at = shelf.entry(*q).or_insert(*o);
                *at = (*at).min(*o);
            }
        }
        (foot, shelf)
    }

    fn release(&mut self, t: Tag) {
        let (input, partition, offset) = untag(t);
        if let Some(p) = self.progress.get_mut(&(input, partition)) {
            p.open.remove(&offset);
        }
    }
}

/// Records retailgen labelled as bad or as duplicates are not visits' events.
fn labelled_unusable(msg: &BorrowedMessage<'_>) -> bool {
    msg.headers().is_some_and(|h| {
        h.iter().any(|header| {
            header.key == "dq"
                && header
                    .value
                    .is_some_and(|v| v.starts_with(b"bad") || v == b"duplicate")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_keep_input_partition_and_offset() {
        for (i, p, o) in [
            (Input::Foot, 0, 0),
            (Input::Shelf, 255, 1 << 40),
            (Input::Foot, 7, 123_456_789),
        ] {
            assert_eq!(untag(tag(i, p, o)), (i, p, o));
        }
    }

    #[test]
    fn a_session_read_again_after_a_restart_is_read_with_all_its_shelf_events() {
        let mut progress = HashMap::new();
        let open = |offsets: &[i64], next| Progress {
            open: offsets.iter().copied().collect(),
            next: Some(next),
        };
        // Foot partition 0: offset 5 is an open session; offset 7 checked out, acknowledged,
        // with shelf events at 0/40 and 1/12; offset 3 checked out long ago (shelf 0/2).
        progress.insert((Input::Foot, 0), open(&[5], 9));
        progress.insert((Input::Shelf, 0), open(&[44], 50));
        progress.insert((Input::Shelf, 1), open(&[], 20));
        let mut done = BTreeMap::new();
        done.insert((0, 3), vec![(0, 2)]);
        done.insert((0, 7), vec![(0, 40), (1, 12)]);
        let mut core = Core {
            decoder: test_decoder(),
            carts: Carts::new(0, 1, false),
            progress,
            done,
            report: SimReport::default(),
        };
        let (foot, shelf) = core.cut();
        assert_eq!(foot, HashMap::from([(0, 5)]));
        assert_eq!(
            shelf,
            HashMap::from([(0, 40), (1, 12)]),
            "session 7's shelf events come again"
        );
        assert_eq!(core.done.len(), 1, "session 3 will not be read again");
    }

    fn test_decoder() -> WireDecoder {
        let settings = crate::config::RegistrySettings {
            url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_secs(1),
            ..Default::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let client = crate::adapters::registry::RegistryClient::new(&settings).unwrap();
        let handle = runtime.handle().clone();
        std::mem::forget(runtime);
        WireDecoder::new(client, handle, settings.url)
    }

    #[test]
    fn a_restart_begins_at_the_first_offset_not_done_with() {
        let mut p = Progress::default();
        assert_eq!(p.committable(), None);
        for o in 10..20 {
            p.open.insert(o);
        }
        p.next = Some(20);
        p.open.remove(&10);
        p.open.remove(&12);
        assert_eq!(p.committable(), Some(11));
        p.open.clear();
        assert_eq!(p.committable(), Some(20));
    }
}
