//! A fresh Postgres database per test on the local server (127.0.0.1:5432, trust auth), dropped
//! afterwards. `RETAILGEN_TEST_PG` overrides the admin connection.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const ADMIN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";

pub struct TestDb {
    pub name: String,
    /// A PG_DSN for retailgen.
    pub dsn: String,
    runtime: tokio::runtime::Runtime,
}

fn admin() -> String {
    std::env::var("RETAILGEN_TEST_PG").unwrap_or_else(|_| ADMIN.to_owned())
}

fn connect(runtime: &tokio::runtime::Runtime, dsn: &str) -> Client {
    let (client, connection) = runtime.block_on(tokio_postgres::connect(dsn, NoTls)).unwrap_or_else(|e| {
        panic!("Postgres is not reachable at {dsn}: {e}. scripts/test.sh starts it; or set RETAILGEN_TEST_PG")
    });
    runtime.spawn(connection);
    client
}

impl TestDb {
    pub fn create() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let name = format!(
            "retailgen_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let admin_client = connect(&runtime, &admin());
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            runtime
                .block_on(admin_client.batch_execute(&sql))
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let dsn = admin().replace("dbname=postgres", &format!("dbname={name}"));
        Self { name, dsn, runtime }
    }

    /// A fresh database owned by a role that is not a superuser (it may not set
    /// `session_replication_role`), with a PG_DSN that connects as that role.
    pub fn owned_by_a_plain_role() -> Self {
        const ROLE: &str = "retailgen_plain";
        let mut db = Self::create();
        let admin_client = connect(&db.runtime, &admin());
        let sql = format!(
            "DO $$ BEGIN CREATE ROLE {ROLE} LOGIN NOSUPERUSER;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             ALTER DATABASE {} OWNER TO {ROLE}",
            db.name
        );
        db.runtime
            .block_on(admin_client.batch_execute(&sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let dsn = db.dsn.replace("user=postgres", &format!("user={ROLE}"));
        assert_ne!(dsn, db.dsn, "the admin DSN names user=postgres");
        db.dsn = dsn;
        db
    }

    /// Runs `sql` in a transaction of its own session, left open until `release` is called
    /// (say, to hold a lock while retailgen runs).
    pub fn hold(&self, sql: &str) -> Held<'_> {
        let client = connect(&self.runtime, &self.dsn);
        self.runtime
            .block_on(client.batch_execute(&format!("BEGIN; {sql}")))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        Held { db: self, client }
    }

    /// Runs `sql` on the admin connection (the `postgres` database): for what must work while
    /// this database refuses connections.
    pub fn admin(&self, sql: &str) {
        let client = connect(&self.runtime, &admin());
        self.runtime
            .block_on(client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Rows of `sql` as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        self.try_query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Rows of `sql` as text, or the database's error.
    pub fn try_query(&self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        let client = connect(&self.runtime, &self.dsn);
        Ok(self
            .runtime
            .block_on(client.simple_query(sql))
            .map_err(|e| e.as_db_error().map_or(e.to_string(), |d| d.to_string()))?
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or("NULL").to_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    pub fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) FROM {table}"))[0][0]
            .parse()
            .unwrap()
    }

    /// Every index and constraint of the schema `public`, one definition per line, sorted.
    pub fn schema(&self) -> Vec<String> {
        self.query(
            "SELECT tablename || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL
             SELECT conrelid::regclass::text || ': ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             ORDER BY 1",
        )
        .into_iter()
        .map(|row| row[0].clone())
        .collect()
    }

    /// Sessions of other clients still connected to this database.
    pub fn other_sessions(&self) -> i64 {
        self.query(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )[0][0]
            .parse()
            .unwrap()
    }

    /// A fingerprint of every row of every reference table.
    pub fn dump(&self) -> Vec<(String, i64, String)> {
        retailgen::adapters::postgres::TABLES
            .iter()
            .map(|t| {
                let row = &self.query(&format!(
                    "SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {t} x"
                ))[0];
                (t.to_string(), row[0].parse().unwrap(), row[1].clone())
            })
            .collect()
    }
}

/// A session with an open transaction.
pub struct Held<'a> {
    db: &'a TestDb,
    client: Client,
}

impl Held<'_> {
    pub fn release(self) {
        self.db
            .runtime
            .block_on(self.client.batch_execute("ROLLBACK"))
            .expect("ROLLBACK");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let client = connect(&self.runtime, &admin());
        let _ = self.runtime.block_on(client.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )));
    }
}
