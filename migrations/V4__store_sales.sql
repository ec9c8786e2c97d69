-- The POS record in Postgres-canonical mode (reference 004's `transactions` and `refunds`, with
-- a basket's lines beside them): committed in the same transaction as the stock they move. The
-- database itself keeps every line's refunds within what was paid for it, across runs.
CREATE TABLE IF NOT EXISTS transactions (
  transaction_id TEXT PRIMARY KEY,
  store_id       TEXT NOT NULL REFERENCES stores(store_id),
  terminal_id    TEXT NOT NULL REFERENCES terminals(terminal_id),
  employee_id    TEXT NOT NULL REFERENCES employees(employee_id),
  basket_id      TEXT NOT NULL UNIQUE,
  customer_id    TEXT REFERENCES users(user_id),
  subtotal       NUMERIC(12,2) NOT NULL CHECK (subtotal >= 0),
  tax            NUMERIC(12,2) NOT NULL CHECK (tax >= 0),
  amount         NUMERIC(12,2) NOT NULL,
  payment_method TEXT NOT NULL,
  ts             TIMESTAMPTZ NOT NULL,
  CONSTRAINT amount_is_subtotal_plus_tax CHECK (amount = subtotal + tax)
);

CREATE TABLE IF NOT EXISTS transaction_lines (
  transaction_id  TEXT NOT NULL REFERENCES transactions(transaction_id),
  product_id      TEXT NOT NULL REFERENCES products(product_id),
  quantity        INT NOT NULL CHECK (quantity > 0),
  unit_price      NUMERIC(12,2) NOT NULL CHECK (unit_price >= 0),
  discount        NUMERIC(4,2) NOT NULL CHECK (discount >= 0 AND discount <= 0.95),
  total_price     NUMERIC(12,2) NOT NULL CHECK (total_price >= 0),
  -- What the refunds of this line took so far (kept by the trigger on `refunds`).
  refunded_qty    INT NOT NULL DEFAULT 0,
  refunded_amount NUMERIC(12,2) NOT NULL DEFAULT 0,
  PRIMARY KEY (transaction_id, product_id),
  CONSTRAINT refunds_within_line CHECK (
    refunded_qty BETWEEN 0 AND quantity AND refunded_amount BETWEEN 0 AND total_price)
);

CREATE TABLE IF NOT EXISTS refunds (
  refund_id               TEXT PRIMARY KEY,
  original_transaction_id TEXT NOT NULL,
  product_id              TEXT NOT NULL,
  store_id                TEXT NOT NULL REFERENCES stores(store_id),
  customer_id             TEXT,
  refund_amount           NUMERIC(12,2) NOT NULL CHECK (refund_amount > 0),
  quantity                INT NOT NULL CHECK (quantity > 0),
  reason                  VARCHAR(50) NOT NULL CHECK (reason IN
    ('defective', 'wrong_item', 'not_as_described', 'changed_mind', 'damaged_shipping')),
  ts                      TIMESTAMPTZ NOT NULL,
  FOREIGN KEY (original_transaction_id, product_id)
    REFERENCES transaction_lines(transaction_id, product_id)
);

-- Every refund is taken off its line; the line's CHECK rejects one that exceeds what was paid.
CREATE OR REPLACE FUNCTION retailgen_refund_line() RETURNS trigger AS $$
BEGIN
  UPDATE transaction_lines
     SET refunded_qty = refunded_qty + NEW.quantity,
         refunded_amount = refunded_amount + NEW.refund_amount
   WHERE transaction_id = NEW.original_transaction_id AND product_id = NEW.product_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'refund % names no line: transaction % has no product %',
      NEW.refund_id, NEW.original_transaction_id, NEW.product_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS refunds_take_their_line ON refunds;
CREATE TRIGGER refunds_take_their_line BEFORE INSERT ON refunds
  FOR EACH ROW EXECUTE FUNCTION retailgen_refund_line();

CREATE INDEX IF NOT EXISTS ix_transactions_store_ts ON transactions(store_id, ts);
CREATE INDEX IF NOT EXISTS ix_refunds_transaction ON refunds(original_transaction_id);
