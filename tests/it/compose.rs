//! The shipped files stay correct without Docker: compose profiles and health-gated dependencies,
//! a multi-stage non-root Dockerfile, and a README that documents every setting.

use serde_yaml::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn profiles(service: &Value) -> Vec<&str> {
    service["profiles"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

/// The Compose Specification's JSON schema, from `shared/schemas` beside the checkout
/// (`COMPOSE_SPEC` overrides the path). Missing: the test fails, it is not skipped.
fn compose_spec() -> serde_json::Value {
    let path = std::env::var("COMPOSE_SPEC").unwrap_or_else(|_| {
        format!(
            "{}/../shared/schemas/compose-spec.json",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the Compose Specification schema at {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn docker_compose_yml_is_valid_against_the_compose_specification_schema() {
    let validator = jsonschema::validator_for(&compose_spec()).expect("a valid JSON schema");
    let compose: serde_json::Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&compose)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "docker-compose.yml: {errors:#?}");
    let mut broken = compose.clone();
    broken["services"]["retailgen"]["restart"] = serde_json::json!(["always"]);
    assert!(
        !validator.is_valid(&broken),
        "the schema rejects a malformed file"
    );
}

#[test]
fn compose_has_a_core_profile_and_a_datagen_profile_waiting_on_healthy_services() {
    let compose: Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let services = &compose["services"];
    for core in ["kafka", "schema-registry", "postgres"] {
        assert_eq!(profiles(&services[core]), ["core"], "{core}");
        assert!(
            services[core]["healthcheck"]["test"].is_sequence(),
            "{core} has a healthcheck"
        );
    }
    let postgres_cmd = format!("{:?}", services["postgres"]["command"]);
    assert!(postgres_cmd.contains("wal_level=logical"), "{postgres_cmd}");
    let gen = &services["retailgen"];
    assert_eq!(profiles(gen), ["datagen"]);
    for dep in ["kafka", "schema-registry", "postgres"] {
        assert_eq!(
            gen["depends_on"][dep]["condition"], "service_healthy",
            "waits on {dep}"
        );
    }
    let known: Vec<&str> = retailgen::config::FIELDS.iter().map(|f| f.env).collect();
    let sim = &services["pos-simulator"];
    assert_eq!(profiles(sim), ["datagen"]);
    assert_eq!(sim["command"][0], "pos-simulator", "its own entry point");
    for service in [gen, sim] {
        // Health comes from the binary itself (the image has no curl), at its METRICS_ADDR.
        assert_eq!(
            service["healthcheck"]["test"],
            serde_yaml::from_str::<Value>(r#"["CMD", "/usr/local/bin/retailgen", "healthcheck"]"#)
                .unwrap()
        );
        let addr = service["environment"]["METRICS_ADDR"].as_str().unwrap();
        assert!(addr.parse::<std::net::SocketAddr>().is_ok(), "{addr}");
        for (name, _) in service["environment"].as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            assert!(
                known.contains(&name) || name == "RUST_LOG",
                "compose passes {name}, which retailgen does not read"
            );
        }
    }
}

#[test]
fn the_dockerfile_is_multi_stage_and_runs_as_a_non_root_user() {
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")) >= 2
    );
    let user = dockerfile
        .lines()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(
        !user.contains("root") && !user.trim_end().ends_with(" 0"),
        "{user}"
    );
    assert!(dockerfile.contains("COPY --from=build"));
    // Everything the build compiles in must be copied into the build stage.
    for dir in ["src", "avro", "config", "migrations", "benches"] {
        assert!(
            dockerfile.contains(&format!("COPY {dir} {dir}")),
            "the Dockerfile copies {dir}/"
        );
    }
}

#[test]
fn the_readme_is_a_front_door_with_the_two_setup_commands_first() {
    let readme = read("README.md");
    assert!(
        readme.lines().count() <= 250,
        "README.md is {} lines",
        readme.lines().count()
    );
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| {
            l.starts_with("cargo ") || l.starts_with("scripts/") || l.starts_with("retailgen ")
        })
        .collect();
    assert_eq!(
        commands[..2],
        ["cargo run --locked -- run --count 100", "scripts/test.sh"],
        "the two set-up commands come first"
    );
    assert!(
        read(".ci/run").contains("scripts/test.sh"),
        ".ci/run calls the README's test command"
    );
    // Every document it links to exists; every setting is in the configuration reference.
    for (at, _) in readme.match_indices("](docs/") {
        let target = &readme[at + 2..];
        let path = &target[..target.find([')', '#']).unwrap()];
        assert!(
            std::path::Path::new(&format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).exists(),
            "README links to {path}"
        );
    }
    let reference = read("docs/configuration.md");
    for f in retailgen::config::FIELDS {
        assert!(reference.contains(&format!("`{}`", f.env)), "{}", f.env);
    }
}

fn known_setting(name: &str) -> bool {
    retailgen::config::FIELDS.iter().any(|f| f.env == name) || name == "RUST_LOG"
}

#[test]
fn the_two_shard_compose_example_is_valid_and_its_shards_split_the_world() {
    let validator = jsonschema::validator_for(&compose_spec()).expect("a valid JSON schema");
    let text = read("deploy/compose/two-shards.yml");
    let example: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&example)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "two-shards.yml: {errors:#?}");
    let shards: Vec<&serde_json::Value> =
        example["services"].as_object().unwrap().values().collect();
    let mut indexes = Vec::new();
    for s in &shards {
        let env = s["environment"].as_object().unwrap();
        for name in env.keys() {
            assert!(
                known_setting(name),
                "the example passes {name}, which retailgen does not read"
            );
        }
        assert_eq!(
            env["SHARD_COUNT"].as_str(),
            Some(shards.len().to_string().as_str())
        );
        indexes.push(
            env["SHARD_INDEX"]
                .as_str()
                .unwrap()
                .parse::<usize>()
                .unwrap(),
        );
        assert_eq!(
            s["healthcheck"]["test"],
            serde_json::json!(["CMD", "/usr/local/bin/retailgen", "healthcheck"])
        );
        for dep in ["kafka", "schema-registry", "postgres"] {
            assert_eq!(s["depends_on"][dep]["condition"], "service_healthy");
        }
    }
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (0..shards.len()).collect::<Vec<_>>(),
        "one service per shard"
    );
    // The services it depends on are the main file's.
    let main: Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    for dep in ["kafka", "schema-registry", "postgres"] {
        assert!(main["services"][dep].is_mapping(), "{dep}");
    }
}

#[test]
fn the_kubernetes_indexed_job_runs_one_pod_per_shard_with_known_settings() {
    let job: Value = serde_yaml::from_str(&read("deploy/k8s/job.yaml")).unwrap();
    let config: Value = serde_yaml::from_str(&read("deploy/k8s/configmap.yaml")).unwrap();
    let secret: Value = serde_yaml::from_str(&read("deploy/k8s/secret.yaml")).unwrap();
    let kustomization: Value =
        serde_yaml::from_str(&read("deploy/k8s/kustomization.yaml")).unwrap();
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(
        spec["completionMode"], "Indexed",
        "pods get JOB_COMPLETION_INDEX"
    );
    let shards: u64 = config["data"]["SHARD_COUNT"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(spec["completions"].as_u64(), Some(shards));
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(shards),
        "all shards at once"
    );
    for (name, _) in config["data"]
        .as_mapping()
        .unwrap()
        .iter()
        .chain(secret["stringData"].as_mapping().unwrap())
    {
        let name = name.as_str().unwrap();
        assert!(known_setting(name), "{name} is no retailgen setting");
    }
    assert!(
        config["data"]["SHARD_INDEX"].is_null(),
        "the index comes from the Job"
    );
    let container = &spec["template"]["spec"]["containers"][0];
    let port = config["data"]["METRICS_ADDR"]
        .as_str()
        .unwrap()
        .parse::<std::net::SocketAddr>()
        .unwrap()
        .port();
    assert_eq!(
        container["ports"][0]["containerPort"].as_u64(),
        Some(u64::from(port))
    );
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
    }
    assert!(container["resources"]["requests"]["memory"].is_string());
    let listed: Vec<&str> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(listed, ["configmap.yaml", "secret.yaml", "job.yaml"]);
}

/// A `depends_on` entry: the service it names and whether it is required (the long syntax's
/// `required`, true by default; the short syntax is always required).
fn dependencies(service: &serde_json::Value) -> Vec<(String, bool)> {
    match &service["depends_on"] {
        serde_json::Value::Array(names) => names
            .iter()
            .map(|n| (n.as_str().unwrap().to_owned(), true))
            .collect(),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(name, dep)| (name.clone(), dep["required"].as_bool().unwrap_or(true)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The Compose Specification's profile rule for one set of active profiles: the services it
/// enables (no `profiles`, or one of them active), and the broken dependencies (an enabled
/// service requiring one that is disabled or absent).
fn profile_rule(compose: &serde_json::Value, active: &[&str]) -> (Vec<String>, Vec<String>) {
    let services = compose["services"].as_object().unwrap();
    let enabled = |name: &str| {
        services
            .get(name)
            .is_some_and(|s| match s["profiles"].as_array() {
                None => true,
                Some(p) => p.iter().any(|p| active.contains(&p.as_str().unwrap())),
            })
    };
    let on: Vec<String> = services.keys().filter(|n| enabled(n)).cloned().collect();
    let mut broken = Vec::new();
    for name in &on {
        for (dep, required) in dependencies(&services[name]) {
            if required && !enabled(&dep) {
                broken.push(format!("{name} requires {dep}, which {active:?} disables"));
            }
        }
    }
    (on, broken)
}

#[test]
fn every_profile_set_a_user_runs_is_a_valid_model() {
    let compose: serde_json::Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let sets: [(&[&str], &[&str]); 5] = [
        (&["core"], &["kafka", "schema-registry", "postgres"]),
        (&["datagen"], &["retailgen", "pos-simulator"]),
        (
            &["core", "datagen"],
            &["kafka", "retailgen", "pos-simulator"],
        ),
        (&["cdc"], &["connect", "connect-register"]),
        (
            &["core", "datagen", "cdc"],
            &["postgres", "retailgen", "connect"],
        ),
    ];
    for (active, expected) in sets {
        let (on, broken) = profile_rule(&compose, active);
        assert!(broken.is_empty(), "{active:?}: {broken:#?}");
        for service in expected {
            assert!(
                on.iter().any(|s| s == service),
                "{active:?} enables {service}"
            );
        }
    }
    // The rule can fail: a required dependency on core breaks `datagen` alone.
    let mut strict = compose.clone();
    strict["services"]["retailgen"]["depends_on"]["kafka"]["required"] = serde_json::json!(true);
    let (_, broken) = profile_rule(&strict, &["datagen"]);
    assert_eq!(
        broken,
        ["retailgen requires kafka, which [\"datagen\"] disables"]
    );
    // Every dependency still waits for health, and only where the service has a healthcheck.
    for (name, service) in compose["services"].as_object().unwrap() {
        for (dep, _) in dependencies(service) {
            let condition = &service["depends_on"][&dep]["condition"];
            if condition == "service_healthy" {
                assert!(
                    compose["services"][&dep]["healthcheck"].is_object(),
                    "{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
                );
            }
        }
    }
}

#[test]
fn the_two_shard_example_joins_a_running_core() {
    let example: serde_json::Value =
        serde_yaml::from_str(&read("deploy/compose/two-shards.yml")).unwrap();
    let main: serde_json::Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let mut merged = main.clone();
    for (name, service) in example["services"].as_object().unwrap() {
        merged["services"][name] = service.clone();
    }
    for active in [&["shards"][..], &["core", "shards"]] {
        let (on, broken) = profile_rule(&merged, active);
        assert!(broken.is_empty(), "{active:?}: {broken:#?}");
        assert!(on.iter().any(|s| s == "retailgen-shard-1"));
    }
}

/// Tables created by the migrations.
fn migrated_tables() -> Vec<String> {
    let dir = format!("{}/migrations", env!("CARGO_MANIFEST_DIR"));
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in sql.lines() {
            if let Some(rest) = line.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
                tables.push(rest.split([' ', '(']).next().unwrap().to_owned());
            }
        }
    }
    tables
}

/// Tables a run writes to after seeding (its `INSERT INTO` and `UPDATE` statements; SQL words
/// are upper case, table names lower), without retailgen's own bookkeeping (`retailgen_*`).
fn tables_changed_by_a_run() -> Vec<String> {
    let sources: Vec<String> = files_under("src/adapters/postgres", &["rs"])
        .into_iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    let mut tables = Vec::new();
    for source in &sources {
        for verb in ["INSERT INTO ", "UPDATE "] {
            for (at, _) in source.match_indices(verb) {
                let name: String = source[at + verb.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !name.is_empty() && !name.starts_with("retailgen_") && !tables.contains(&name) {
                    tables.push(name);
                }
            }
        }
    }
    tables.sort();
    tables
}

/// Keys of Debezium's Postgres connector (and the Kafka Connect framework's) that the shipped
/// configuration may use.
const DEBEZIUM_POSTGRES_KEYS: &[&str] = &[
    "connector.class",
    "tasks.max",
    "plugin.name",
    "database.hostname",
    "database.port",
    "database.user",
    "database.password",
    "database.dbname",
    "database.sslmode",
    "topic.prefix",
    "slot.name",
    "slot.drop.on.stop",
    "publication.name",
    "publication.autocreate.mode",
    "schema.include.list",
    "table.include.list",
    "column.exclude.list",
    "snapshot.mode",
    "decimal.handling.mode",
    "time.precision.mode",
    "heartbeat.interval.ms",
    "tombstones.on.delete",
    "topic.creation.default.replication.factor",
    "topic.creation.default.partitions",
    "key.converter",
    "value.converter",
];

#[test]
fn the_debezium_connector_captures_every_table_a_run_changes() {
    let config: serde_json::Value =
        serde_json::from_str(&read("deploy/debezium/retailgen-postgres.json")).unwrap();
    let config = config.as_object().expect("a flat connector configuration");
    for key in config.keys() {
        assert!(
            DEBEZIUM_POSTGRES_KEYS.contains(&key.as_str()),
            "{key} is no setting of Debezium's Postgres connector"
        );
    }
    assert_eq!(
        config["connector.class"],
        "io.debezium.connector.postgresql.PostgresConnector"
    );
    assert_eq!(config["plugin.name"], "pgoutput", "built into Postgres 10+");
    assert!(
        config["database.password"]
            .as_str()
            .unwrap()
            .starts_with("${env:"),
        "the password comes from Connect's environment, not the file"
    );
    let listed: Vec<String> = config["table.include.list"]
        .as_str()
        .unwrap()
        .split(',')
        .map(|t| t.strip_prefix("public.").expect("schema public").to_owned())
        .collect();
    let migrated = migrated_tables();
    for table in &listed {
        assert!(migrated.contains(table), "{table} is not migrated");
    }
    let changed = tables_changed_by_a_run();
    assert!(changed.len() >= 8, "{changed:?}");
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted, changed,
        "the connector captures the tables a run writes"
    );
    // The compose file mounts this file and registers it with Connect.
    let compose: Value = serde_yaml::from_str(&read("docker-compose.yml")).unwrap();
    let register = &compose["services"]["connect-register"];
    let command = format!("{:?}", register["command"]);
    assert!(
        command.contains("/debezium/retailgen-postgres.json"),
        "{command}"
    );
    assert_eq!(register["volumes"][0], "./deploy/debezium:/debezium:ro");
    let connect = &compose["services"]["connect"];
    assert_eq!(
        connect["environment"]["CONNECT_CONFIG_PROVIDERS_ENV_CLASS"],
        "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
    );
}

/// A linter the test script installs (scripts/ensure-services.sh) into its virtualenv; missing,
/// the test fails naming it.
fn linter(name: &str) -> std::path::PathBuf {
    let home = std::env::var("HOME").expect("HOME");
    let path = std::path::PathBuf::from(format!("{home}/.cache/retailgen/lint-venv/bin/{name}"));
    assert!(
        path.exists(),
        "{} is missing: scripts/test.sh installs it (scripts/ensure-services.sh)",
        path.display()
    );
    path
}

#[test]
fn hadolint_finds_no_problem_in_the_dockerfile() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(linter("hadolint"))
        .args(["--no-color", "--config", ".hadolint.yaml", "Dockerfile"])
        .current_dir(root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "hadolint: {text}");
    // It can fail: without the ignore list it reports the unpinned apt packages.
    let strict = std::process::Command::new(linter("hadolint"))
        .arg("--no-color")
        .arg(format!("{root}/Dockerfile"))
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&strict.stdout).contains("DL3008"),
        "hadolint checks the file"
    );
}

#[test]
fn the_kubernetes_manifests_pass_kubernetes_validate_strict() {
    let kustomization: Value =
        serde_yaml::from_str(&read("deploy/k8s/kustomization.yaml")).unwrap();
    let files: Vec<String> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| format!("deploy/k8s/{}", r.as_str().unwrap()))
        .collect();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(linter("kubernetes-validate"))
        .arg("--strict")
        .args(&files)
        .current_dir(root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate: {text}");
    assert_eq!(text.matches(" passed ").count(), files.len(), "{text}");
    // It can fail: an unknown field is refused under --strict.
    let dir = std::env::temp_dir().join(format!("retailgen-k8s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("job.yaml");
    std::fs::write(
        &broken,
        read("deploy/k8s/job.yaml").replace("completionMode:", "completionModes:"),
    )
    .unwrap();
    let refused = std::process::Command::new(linter("kubernetes-validate"))
        .arg("--strict")
        .arg(&broken)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!refused.status.success(), "an unknown field is refused");
}

/// Every file under `dir` (recursively) with one of `extensions`.
fn files_under(dir: &str, extensions: &[&str]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(format!(
        "{}/{dir}",
        env!("CARGO_MANIFEST_DIR")
    ))];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
    out
}

/// Names of internal documents a user cannot know ("reference 001", "the reference generator").
fn names_an_internal_document(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    for (at, _) in lower.match_indices("reference ") {
        let rest = &lower[at + "reference ".len()..];
        if rest.starts_with("00") || rest.starts_with("generator") {
            return Some(text[at..(at + 24).min(text.len())].to_owned());
        }
    }
    // "001's" alone names one too.
    for number in ["000's", "001's", "002's", "003's", "004's"] {
        if let Some(at) = text.find(number) {
            return Some(text[at..(at + 24).min(text.len())].to_owned());
        }
    }
    None
}

#[test]
fn no_user_facing_text_names_internal_documents() {
    assert!(names_an_internal_document("as Reference 001's simulator").is_some());
    assert!(names_an_internal_document("the reference generator's tables").is_some());
    assert!(names_an_internal_document("the reference data").is_none());
    let mut files = vec![
        std::path::PathBuf::from(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))),
        std::path::PathBuf::from(format!("{}/docker-compose.yml", env!("CARGO_MANIFEST_DIR"))),
        std::path::PathBuf::from(format!("{}/Dockerfile", env!("CARGO_MANIFEST_DIR"))),
    ];
    files.extend(files_under("docs", &["md"]));
    files.extend(files_under("config", &["toml"]));
    files.extend(files_under("deploy", &["yml", "yaml", "json"]));
    // Help, log and error texts live in the sources.
    files.extend(files_under("src", &["rs"]));
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if let Some(found) = names_an_internal_document(&text) {
            panic!("{} names an internal document: {found:?}", file.display());
        }
    }
    let mut helps = vec![vec!["--help"]];
    for command in [
        "run",
        "migrate",
        "seed",
        "pos-simulator",
        "healthcheck",
        "verify",
    ] {
        helps.push(vec![command, "--help"]);
    }
    for args in helps {
        let out = crate::support::cmd::run(&args, &[]);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        assert!(out.stdout.len() > 100, "{args:?} prints help");
        if let Some(found) = names_an_internal_document(&out.stdout) {
            panic!("retailgen {args:?} names an internal document: {found:?}");
        }
    }
}

#[test]
fn the_configuration_reference_is_generated_from_the_settings_table() {
    let expected = retailgen::config::reference::markdown();
    let path = format!("{}/docs/configuration.md", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("RETAILGEN_WRITE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "docs/configuration.md differs from src/config/fields.rs: regenerate it with \
         RETAILGEN_WRITE_DOCS=1 cargo test --test it configuration_reference"
    );
    for f in retailgen::config::FIELDS {
        assert!(found.contains(&format!("| `{}` |", f.env)), "{}", f.env);
        assert!(!f.doc.is_empty(), "{} has no description", f.env);
    }
}
