//! The file sink: one Avro Object Container File per topic, never overwriting earlier output.

use apache_avro::Reader;

use crate::support::cmd::run;

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
    for topic in [
        "orders.v1",
        "payments.v1",
        "shipments.v1",
        "customer-interactions.v1",
    ] {
        let file = std::fs::File::open(out_dir.join(format!("{topic}.avro"))).unwrap();
        let reader = Reader::new(file).unwrap();
        let n = reader
            .inspect(|v| assert!(v.is_ok(), "every record decodes: {v:?}"))
            .count();
        assert!(n > 0 || topic == "shipments.v1", "{topic} has records");
        total += n;
    }
    assert_eq!(total, 1000);
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
    assert!(out.stderr.contains("5000 records"), "{}", out.stderr);
}
