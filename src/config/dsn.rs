//! Postgres connection strings: the password inside one, and a description that can be shown.

use super::secret::Secret;

/// The password inside a Postgres DSN, if any.
pub fn dsn_password(dsn: &Secret) -> Option<Secret> {
    let config: tokio_postgres::Config = dsn.expose().parse().ok()?;
    let pw = config.get_password()?;
    Some(Secret::new(String::from_utf8_lossy(pw)))
}

/// A DSN that can be shown: host, port, database and user, never the password.
pub fn describe_dsn(dsn: &Secret) -> String {
    match dsn.expose().parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let hosts: Vec<String> = c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .collect();
            format!(
                "postgres at {}:{} database {} user {}",
                hosts.join(","),
                c.get_ports().first().copied().unwrap_or(5432),
                c.get_dbname().unwrap_or("(default)"),
                c.get_user().unwrap_or("(default)")
            )
        }
        Err(_) => "postgres (unparsable PG_DSN)".into(),
    }
}
