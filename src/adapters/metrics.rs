//! `/metrics` (Prometheus/OpenMetrics text, by the `prometheus-client` crate) and `/healthz`
//! over HTTP at `METRICS_ADDR`, read from the run's live figures; and the client side of
//! `/healthz` for `retailgen healthcheck` (the image has no curl).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::domain::stream::Stream;
use crate::observe::RunStats;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which process is being observed: the generator, the POS simulator or `verify --follow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Generator,
    Simulator,
    Verifier,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics at METRICS_ADDR={addr}: {cause}; valid: a free port on an address of this machine, such as 0.0.0.0:9400, or off")]
pub struct BindError {
    pub addr: SocketAddr,
    pub cause: std::io::Error,
}

/// Reads the figures at each scrape.
#[derive(Debug)]
struct Figures {
    stats: Arc<RunStats>,
    role: Role,
}

type Fmt = Result<(), std::fmt::Error>;

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Fmt {
    let metric = ConstCounter::new(value);
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge<N>(e: &mut DescriptorEncoder, name: &str, help: &str, value: N) -> Fmt
where
    ConstGauge<N>: EncodeMetric,
{
    let metric = ConstGauge::new(value);
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A counter per topic.
fn per_topic(
    e: &mut DescriptorEncoder,
    stats: &RunStats,
    name: &str,
    help: &str,
    value: fn(&RunStats, Stream) -> u64,
) -> Fmt {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (stream, topic) in stats.topics().iter() {
        let labels = [("topic", topic)];
        ConstCounter::new(value(stats, stream)).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Figures {
    fn generator(&self, e: &mut DescriptorEncoder) -> Fmt {
        let s = &*self.stats;
        per_topic(
            e,
            s,
            "retailgen_records_produced",
            "Records handed to the sink",
            RunStats::produced_of,
        )?;
        per_topic(
            e,
            s,
            "retailgen_records_acknowledged",
            "Records the sink confirmed (Kafka: delivery reports without error)",
            RunStats::acknowledged_of,
        )?;
        per_topic(
            e,
            s,
            "retailgen_records_failed",
            "Records the sink confirmed lost",
            RunStats::failed_of,
        )?;
        let mut faults = e.encode_descriptor(
            "retailgen_faults",
            "Labelled faults (dq header) per topic and kind",
            None,
            MetricType::Counter,
        )?;
        for ((stream, kind), n) in s.faults() {
            let labels = [("topic", s.topics().of(stream)), ("kind", kind.as_str())];
            ConstCounter::new(n).encode(faults.encode_family(&labels)?)?;
        }
        gauge(
            e,
            "retailgen_target_rate",
            "Records per second the pacing aims at now, diurnal curve included (0: unthrottled)",
            s.target_rate(),
        )?;
        gauge(
            e,
            "retailgen_achieved_rate",
            "Records per second produced since the run started",
            s.achieved_rate(),
        )?;
        gauge(
            e,
            "retailgen_pending_follow_ups",
            "Scheduled records (payments, shipments, replenishments) not yet due",
            s.pending_follow_ups() as i64,
        )?;
        gauge(
            e,
            "retailgen_producer_queue_depth",
            "Messages in the Kafka producer's queue, not yet acknowledged",
            s.queue_depth() as i64,
        )?;
        gauge(
            e,
            "retailgen_outbox_backlog",
            "Outbox rows committed in Postgres and not yet acknowledged by Kafka",
            s.outbox_backlog(),
        )?;
        counter(
            e,
            "retailgen_store_outages",
            "Lost connections to the canonical store ridden through since the run started",
            s.store_outages(),
        )?;
        gauge(
            e,
            "retailgen_store_degraded",
            "1 while the canonical store is away and the run waits for it (PG_RECONNECT_TIMEOUT)",
            i64::from(s.degraded().is_some()),
        )?;
        let latency = s.commit_latency();
        latency.encode(e.encode_descriptor(
            "retailgen_commit_latency_seconds",
            "Time of one canonical-store group commit",
            None,
            latency.metric_type(),
        )?)
    }

    fn simulator(&self, e: &mut DescriptorEncoder) -> Fmt {
        let sim = &self.stats.simulator;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let load_i =
            |a: &std::sync::atomic::AtomicI64| a.load(std::sync::atomic::Ordering::Relaxed);
        gauge(
            e,
            "retailgen_simulator_consumer_lag",
            "Input records (foot traffic and shelf events) on the broker not yet read",
            load_i(&sim.consumer_lag),
        )?;
        gauge(
            e,
            "retailgen_simulator_open_carts",
            "Visits whose cart is open (not yet checked out)",
            load_i(&sim.open_carts),
        )?;
        counter(
            e,
            "retailgen_simulator_late_input",
            "Shelf events that came after their visit checked out",
            load(&sim.late),
        )?;
        counter(
            e,
            "retailgen_simulator_unparseable_input",
            "Input records that could not be decoded",
            load(&sim.unparseable),
        )?;
        counter(
            e,
            "retailgen_simulator_transactions",
            "Transactions written",
            load(&sim.transactions),
        )
    }
}

impl Figures {
    fn verifier(&self, e: &mut DescriptorEncoder) -> Fmt {
        let v = &self.stats.verify;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        counter(
            e,
            "retailgen_verify_records_checked",
            "Records read and checked since verify started",
            load(&v.checked),
        )?;
        counter(
            e,
            "retailgen_verify_rounds",
            "Rounds of reading the topics' new records",
            load(&v.rounds),
        )?;
        gauge(
            e,
            "retailgen_verify_lag",
            "Records on the topics not yet read, as of the last round's start",
            v.lag.load(std::sync::atomic::Ordering::Relaxed),
        )?;
        let mut family = e.encode_descriptor(
            "retailgen_verify_violations",
            "Violations found so far, per rule",
            None,
            MetricType::Counter,
        )?;
        for (rule, n) in v.violations() {
            ConstCounter::new(n).encode(family.encode_family(&[("rule", rule)])?)?;
        }
        Ok(())
    }
}

impl Collector for Figures {
    fn encode(&self, mut e: DescriptorEncoder) -> Fmt {
        gauge(
            &mut e,
            "retailgen_healthy",
            "1 while the run is healthy, 0 once its sink or store failed",
            i64::from(self.stats.unhealthy().is_none()),
        )?;
        match self.role {
            Role::Generator => self.generator(&mut e),
            Role::Simulator => self.simulator(&mut e),
            Role::Verifier => self.verifier(&mut e),
        }
    }
}

/// The figures in OpenMetrics text format.
pub fn render(stats: &Arc<RunStats>, role: Role) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Figures {
        stats: stats.clone(),
        role,
    }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String does not fail");
    out
}

/// Binds `addr` at once, so a bad address or a port in use is reported before anything runs.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, BindError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|cause| BindError { addr, cause })?;
    listener
        .set_nonblocking(true)
        .map_err(|cause| BindError { addr, cause })?;
    Ok(listener)
}

/// Serves `/metrics` and `/healthz` on `listener` until the process ends.
pub fn serve(
    listener: std::net::TcpListener,
    stats: Arc<RunStats>,
    role: Role,
) -> Result<(), BindError> {
    let addr = listener.local_addr().map_err(|cause| BindError {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        cause,
    })?;
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|cause| BindError { addr, cause })?;
    let metrics = {
        let stats = stats.clone();
        move || async move { ([(header::CONTENT_TYPE, OPENMETRICS)], render(&stats, role)) }
    };
    let healthz = move || async move { health(&stats) };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("the metrics server at {addr} stopped: {e}");
        }
    });
    tracing::info!("serving /metrics and /healthz at http://{addr}");
    Ok(())
}

fn health(stats: &RunStats) -> impl IntoResponse {
    match stats.unhealthy() {
        // Still running: waiting for what it rides through.
        None => match stats.degraded() {
            None => (StatusCode::OK, "ok\n".to_owned()),
            Some(why) => (StatusCode::OK, format!("degraded: {why}\n")),
        },
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {why}\n"),
        ),
    }
}

/// Asks `/healthz` at `addr` (an unspecified address such as 0.0.0.0 means this machine).
/// `Ok` on 200; the reason otherwise.
pub fn check_health(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(match addr {
            SocketAddr::V4(_) => [127, 0, 0, 1].into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let failed = |e: std::io::Error| format!("cannot ask http://{target}/healthz: {e}");
    let mut stream = TcpStream::connect_timeout(&target, timeout).map_err(failed)?;
    stream.set_read_timeout(Some(timeout)).map_err(failed)?;
    stream.set_write_timeout(Some(timeout)).map_err(failed)?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )
    .map_err(failed)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(failed)?;
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").trim();
    match status {
        "200" => Ok(()),
        "" => Err(format!("http://{target}/healthz gave no HTTP answer")),
        code => Err(format!("http://{target}/healthz answered {code}: {body}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stream::TopicNames;

    fn stats() -> Arc<RunStats> {
        RunStats::new(TopicNames(std::array::from_fn(|i| format!("topic-{i}"))))
    }

    #[test]
    fn a_store_away_is_degraded_not_unhealthy_and_counted() {
        let s = stats();
        s.store_away("the canonical store is away");
        let (status, body) = {
            let r = health(&s).into_response();
            (r.status(), s.degraded())
        };
        assert_eq!(status, StatusCode::OK, "still running");
        assert_eq!(body.as_deref(), Some("the canonical store is away"));
        let text = render(&s, Role::Generator);
        for line in [
            "retailgen_store_outages_total 1",
            "retailgen_store_degraded 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in\n{text}"
            );
        }
        s.store_back();
        let text = render(&s, Role::Generator);
        assert!(
            text.lines().any(|l| l == "retailgen_store_degraded 0"),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l == "retailgen_store_outages_total 1"),
            "{text}"
        );
    }

    #[test]
    fn the_figures_are_rendered_per_topic_and_fault_kind() {
        let s = stats();
        s.produced(Stream::Orders);
        s.produced(Stream::Orders);
        s.delivered(Stream::Orders, Some((0, 41)));
        s.fault(Stream::Payments, "bad:truncated_body".into());
        s.observe_commit(0.003);
        let text = render(&s, Role::Generator);
        for line in [
            "retailgen_records_produced_total{topic=\"topic-0\"} 2",
            "retailgen_records_acknowledged_total{topic=\"topic-0\"} 1",
            "retailgen_records_failed_total{topic=\"topic-0\"} 0",
            "retailgen_faults_total{topic=\"topic-1\",kind=\"bad:truncated_body\"} 1",
            "retailgen_commit_latency_seconds_count 1",
            "retailgen_commit_latency_seconds_bucket{le=\"0.005\"} 1",
            "retailgen_commit_latency_seconds_bucket{le=\"0.0025\"} 0",
            "retailgen_healthy 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[tokio::test]
    async fn healthz_answers_200_while_healthy_and_503_once_the_run_failed() {
        let s = stats();
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        serve(listener, s.clone(), Role::Generator).unwrap();
        let ask = move || check_health(addr, Duration::from_secs(5));
        assert_eq!(tokio::task::spawn_blocking(ask).await.unwrap(), Ok(()));
        s.fail("the sink failed");
        let answer = tokio::task::spawn_blocking(ask).await.unwrap();
        assert_eq!(
            answer,
            Err(format!(
                "http://{addr}/healthz answered 503: unhealthy: the sink failed"
            ))
        );
    }

    #[test]
    fn a_port_in_use_is_named_with_the_setting() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = bind(addr).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot serve metrics at METRICS_ADDR={addr}")),
            "{e}"
        );
    }
}
