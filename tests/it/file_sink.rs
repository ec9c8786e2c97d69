//! The file sink: one Avro Object Container File per topic, never overwriting earlier output.

use apache_avro::Reader;

use crate::support::cmd::{assert_count, run};
use crate::support::TOPICS;

#[test]
fn the_file_sink_writes_one_readable_container_file_per_topic() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = run(
        &[
            "run",
            "--sink",
            "file",
            "--out",
            out_dir.to_str().unwrap(),
            "--count",
            "1000",
            "--eps",
            "0",
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut total = 0;
    for topic in TOPICS {
        let file = std::fs::File::open(out_dir.join(format!("{topic}.avro"))).unwrap();
        let reader = Reader::new(file).unwrap();
        let n = reader
            .inspect(|v| assert!(v.is_ok(), "every record decodes: {v:?}"))
            .count();
        // Rare streams, and the store world (stores may all be closed at this wall-clock time).
        let may_be_empty = TOPICS[5..].contains(&topic) || topic == "shipments.v1";
        assert!(n > 0 || may_be_empty, "{topic} has records");
        total += n;
    }
    assert_eq!(total, assert_count(&out.stderr, 1000));
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "partial")
        .collect();
    assert!(leftovers.is_empty());

    let again = run(
        &[
            "run",
            "--sink",
            "file",
            "--out",
            out_dir.to_str().unwrap(),
            "--count",
            "10",
        ],
        &[],
    );
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let file = std::fs::File::open(out_dir.join("orders.v1.avro")).unwrap();
    assert!(
        Reader::new(file).unwrap().count() > 0,
        "earlier output is untouched"
    );
}

#[test]
fn the_null_sink_counts_what_it_encodes() {
    let out = run(
        &["run", "--sink", "null", "--count", "5000", "--eps", "0"],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert_count(&out.stderr, 5000);
}

#[test]
fn simulated_runs_write_byte_identical_container_files() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &str| {
        vec![
            "run",
            "--sink",
            "file",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-01T01:00:00Z",
            "--eps",
            "2",
            "--seed",
            "8",
            "--out",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([out.to_owned()])
        .collect::<Vec<_>>()
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a, &b] {
        let argv = args(d.to_str().unwrap());
        let out = run(&argv.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    for topic in TOPICS {
        let name = format!("{topic}.avro");
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
            "{name}"
        );
    }
}
