//! Store sales as rows (Postgres-canonical mode): transactions, their lines and refunds are
//! staged with the stock they move and committed in the same transaction; the database caps
//! each line's refunds (migration V4). At start-up the refundable transactions are read back.

use tokio_postgres::{Client, Transaction};

use super::staging::Stage;
use crate::adapters::postgres::{query_error, PgError};
use crate::domain::events::{Millis, PosTransaction, Refund};
use crate::domain::ports::{RepositoryError, SalesJournal};
use crate::domain::store::refunds::PastLine;

/// Stages each transaction and refund for the group commit.
pub struct StagedJournal {
    stage: Stage,
}

impl StagedJournal {
    pub fn new(stage: Stage) -> Self {
        Self { stage }
    }
}

impl SalesJournal for StagedJournal {
    fn transaction(&mut self, transaction: &PosTransaction) -> Result<(), RepositoryError> {
        let row = transaction.clone();
        self.stage.effects(|e| e.transactions.push(row));
        Ok(())
    }

    fn refund(&mut self, refund: &Refund) -> Result<(), RepositoryError> {
        let row = refund.clone();
        self.stage.effects(|e| e.refunds.push(row));
        Ok(())
    }
}

const TRANSACTIONS: &str = "INSERT INTO transactions (transaction_id, store_id, terminal_id, employee_id, basket_id, \
    customer_id, subtotal, tax, amount, payment_method, ts) \
    SELECT t, s, te, e, b, c, round(st::numeric, 2), round(tx::numeric, 2), round(a::numeric, 2), m, to_timestamp(ts / 1000.0) \
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], \
    $9::float8[], $10::text[], $11::bigint[]) AS v(t, s, te, e, b, c, st, tx, a, m, ts)";
const LINES: &str = "INSERT INTO transaction_lines (transaction_id, product_id, quantity, unit_price, discount, total_price) \
    SELECT t, p, q, round(u::numeric, 2), round(d::numeric, 2), round(tp::numeric, 2) \
    FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[], $5::float8[], $6::float8[]) AS v(t, p, q, u, d, tp)";
const REFUNDS: &str = "INSERT INTO refunds (refund_id, original_transaction_id, product_id, store_id, customer_id, \
    refund_amount, quantity, reason, ts) \
    SELECT r, o, p, s, c, round(a::numeric, 2), q, re, to_timestamp(ts / 1000.0) \
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::int[], $8::text[], \
    $9::bigint[]) AS v(r, o, p, s, c, a, q, re, ts)";

/// Writes a batch's transactions (with their lines), then its refunds.
pub async fn write(
    tx: &Transaction<'_>,
    transactions: &[PosTransaction],
    refunds: &[Refund],
) -> Result<(), PgError> {
    if !transactions.is_empty() {
        write_transactions(tx, transactions).await?;
    }
    if !refunds.is_empty() {
        write_refunds(tx, refunds).await?;
    }
    Ok(())
}

async fn write_transactions(tx: &Transaction<'_>, rows: &[PosTransaction]) -> Result<(), PgError> {
    let text = |f: fn(&PosTransaction) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let money = |f: fn(&PosTransaction) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let customers: Vec<Option<&str>> = rows.iter().map(|t| t.customer_id.as_deref()).collect();
    let ts: Vec<Millis> = rows.iter().map(|t| t.timestamp).collect();
    tx.execute(
        TRANSACTIONS,
        &[
            &text(|t| &t.transaction_id),
            &text(|t| &t.store_id),
            &text(|t| &t.terminal_id),
            &text(|t| &t.employee_id),
            &text(|t| &t.basket_id),
            &customers,
            &money(|t| t.subtotal),
            &money(|t| t.tax),
            &money(|t| t.amount),
            &text(|t| t.payment_method.as_str()),
            &ts,
        ],
    )
    .await
    .map_err(query_error("writing store transactions"))?;
    let lines: Vec<_> = rows
        .iter()
        .flat_map(|t| t.items.iter().map(move |i| (t.transaction_id.as_str(), i)))
        .collect();
    let ids: Vec<&str> = lines.iter().map(|l| l.0).collect();
    let products: Vec<&str> = lines.iter().map(|l| l.1.item_id.as_str()).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.1.quantity).collect();
    let prices: Vec<f64> = lines.iter().map(|l| l.1.unit_price).collect();
    let discounts: Vec<f64> = lines.iter().map(|l| l.1.discount).collect();
    let totals: Vec<f64> = lines.iter().map(|l| l.1.total_price).collect();
    tx.execute(
        LINES,
        &[&ids, &products, &quantities, &prices, &discounts, &totals],
    )
    .await
    .map_err(query_error("writing store transaction lines"))?;
    Ok(())
}

async fn write_refunds(tx: &Transaction<'_>, rows: &[Refund]) -> Result<(), PgError> {
    let text = |f: fn(&Refund) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let customers: Vec<Option<&str>> = rows.iter().map(|r| r.customer_id.as_deref()).collect();
    let amounts: Vec<f64> = rows.iter().map(|r| r.refund_amount).collect();
    let quantities: Vec<i32> = rows.iter().map(|r| r.quantity).collect();
    let ts: Vec<Millis> = rows.iter().map(|r| r.timestamp).collect();
    tx.execute(
        REFUNDS,
        &[
            &text(|r| &r.refund_id),
            &text(|r| &r.original_transaction_id),
            &text(|r| &r.product_id),
            &text(|r| &r.store_id),
            &customers,
            &amounts,
            &quantities,
            &text(|r| r.reason.as_str()),
            &ts,
        ],
    )
    .await
    .map_err(query_error(
        "writing refunds (each is checked against what is left of its line)",
    ))?;
    Ok(())
}

/// Lines of transactions paid at or after `since`, net of their refunds, in time order.
pub async fn open_lines(client: &Client, since: Millis) -> Result<Vec<PastLine>, PgError> {
    let rows = client
        .query(
            "SELECT t.store_id, t.transaction_id, t.customer_id, (extract(epoch FROM t.ts) * 1000)::bigint, \
             l.product_id, l.quantity - l.refunded_qty, ((l.total_price - l.refunded_amount) * 100)::bigint \
             FROM transactions t JOIN transaction_lines l USING (transaction_id) \
             WHERE t.ts >= to_timestamp($1::bigint / 1000.0) ORDER BY t.ts, t.transaction_id, l.product_id",
            &[&since],
        )
        .await
        .map_err(query_error("reading the refundable store transactions"))?;
    Ok(rows
        .iter()
        .map(|r| PastLine {
            store_id: r.get(0),
            transaction_id: r.get(1),
            customer_id: r.get(2),
            at: r.get(3),
            product_id: r.get(4),
            units: r.get(5),
            cents: r.get(6),
        })
        .collect())
}
