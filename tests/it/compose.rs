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
fn the_readme_documents_every_setting_and_the_two_setup_commands() {
    let readme = read("README.md");
    for f in retailgen::config::FIELDS {
        assert!(
            readme.contains(&format!("`{}`", f.env)),
            "README lacks {}",
            f.env
        );
    }
    assert!(readme.contains("scripts/test.sh"));
    assert!(
        read(".ci/run").contains("scripts/test.sh"),
        ".ci/run calls the README's test command"
    );
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
