//! The store context (references 000, 001, 002 and 004): terminal sequences, store
//! transactions, refunds and store stock, and the arithmetic that makes them add up to the cent.

pub mod customers;
pub mod events;
pub mod refunds;
pub mod simulator;
pub mod visits;

/// A line's total in cents: `quantity x unit_price x (1 - discount)`, rounded half up.
pub fn line_total_cents(quantity: i32, unit_cents: i64, discount_pct: i64) -> i64 {
    let exact_x100 = i64::from(quantity) * unit_cents * (100 - discount_pct);
    (exact_x100 + 50).div_euclid(100)
}

/// Tax in cents of `subtotal_cents` at `rate_bp` basis points, rounded half up.
pub fn tax_cents(subtotal_cents: i64, rate_bp: i64) -> i64 {
    (subtotal_cents * rate_bp + 5_000).div_euclid(10_000)
}

/// What `units` of a line paid `line_cents` for `quantity` units are worth back, so that
/// refunding every unit returns exactly the line's total and never more.
pub fn refund_cents(line_cents: i64, quantity: i32, units: i32) -> i64 {
    line_cents * i64::from(units) / i64::from(quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_tax_round_half_up_to_the_cent() {
        assert_eq!(line_total_cents(3, 399, 0), 1197);
        // 2 x 2.49 x 0.85 = 4.233 -> 4.23
        assert_eq!(line_total_cents(2, 249, 15), 423);
        // 1 x 0.99 x 0.5 = 0.495 -> 0.50
        assert_eq!(line_total_cents(1, 99, 50), 50);
        // 8.88% of 10.00 = 0.888 -> 0.89
        assert_eq!(tax_cents(1000, 888), 89);
        assert_eq!(tax_cents(0, 2000), 0);
    }

    #[test]
    fn refunding_every_unit_returns_the_line_total_and_parts_never_exceed_it() {
        assert_eq!(refund_cents(1001, 3, 3), 1001);
        let parts = refund_cents(1001, 3, 1) + refund_cents(1001, 3, 2);
        assert!(parts <= 1001);
    }
}
