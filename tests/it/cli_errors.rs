//! Bad input exits with code 2 and a message naming the setting and what is valid.

use crate::support::cmd::run;

#[test]
fn a_non_numeric_target_eps_exits_2_naming_the_variable() {
    let out = run(&["run", "--count", "1"], &[("TARGET_EPS", "lots")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("TARGET_EPS") && out.stderr.contains("a number >= 0"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "nothing is produced: {}", out.stdout);
}

#[test]
fn an_unknown_sink_flag_exits_2_listing_the_sinks() {
    let out = run(&["run", "--sink", "s3", "--count", "1"], &[]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("--sink") && out.stderr.contains("stdout, kafka, file or null"),
        "{}",
        out.stderr
    );
}

#[test]
fn all_weights_zero_exits_2() {
    let out = run(
        &["run", "--count", "1"],
        &[
            ("WEIGHT_ORDERS", "0"),
            ("WEIGHT_INTERACTIONS", "0"),
            ("WEIGHT_INVENTORY_CHG", "0"),
            ("WEIGHT_STORE", "0"),
        ],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("WEIGHT_ORDERS"), "{}", out.stderr);
}

#[test]
fn store_world_nonsense_exits_2_naming_the_setting() {
    for (env, name) in [
        (("SEED_STORES", "-3"), "SEED_STORES"),
        (("REFUND_PROBABILITY", "1.2"), "REFUND_PROBABILITY"),
        (("EMPLOYEES_PER_STORE", "0"), "EMPLOYEES_PER_STORE"),
        (("STORE_TIMEZONES", "Europe/Atlantis"), "STORE_TIMEZONES"),
        (("STORE_HOURS", "22:00-06:00"), "STORE_HOURS"),
    ] {
        let out = run(&["run", "--count", "1"], &[env]);
        assert_eq!(out.code, Some(2), "{out:?}");
        assert!(out.stderr.contains(name), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "nothing written");
    }
}

#[test]
fn a_probability_outside_0_to_1_exits_2() {
    let out = run(&["run", "--count", "1"], &[("P_ORDER_HAS_SHIPMENT", "2")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("P_ORDER_HAS_SHIPMENT") && out.stderr.contains("0 to 1"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_config_file_exits_2_naming_it() {
    let out = run(
        &[
            "run",
            "--config",
            "/nonexistent/retailgen.toml",
            "--count",
            "1",
        ],
        &[],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("/nonexistent/retailgen.toml"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_time_zone_or_an_inverted_span_exits_2() {
    let out = run(&["run", "--count", "1"], &[("DIURNAL_TZ", "Mars/Olympus")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("DIURNAL_TZ") && out.stderr.contains("IANA"),
        "{}",
        out.stderr
    );
    let out = run(&["run", "--from", "2024-01-02", "--to", "2024-01-01"], &[]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("--from") && out.stderr.contains("--to"),
        "{}",
        out.stderr
    );
    let out = run(
        &["run", "--count", "1"],
        &[("DIURNAL_MIN", "2"), ("DIURNAL_MAX", "1")],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("DIURNAL_MIN"), "{}", out.stderr);
}
