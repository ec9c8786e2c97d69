-- Every price change with the moment it took effect (event time) and the price it replaced, written
-- in the same commit as the change to products: the price in effect at any moment is the new_price
-- of the latest change at or before it, else the old_price of the first change after it, else the
-- product's price. The POS simulator prices its transactions from it.
CREATE TABLE IF NOT EXISTS price_history (
  change_id    BIGSERIAL PRIMARY KEY,
  product_id   TEXT NOT NULL REFERENCES products(product_id),
  effective_at TIMESTAMPTZ NOT NULL,
  old_price    NUMERIC(10,2) NOT NULL CHECK (old_price > 0),
  new_price    NUMERIC(10,2) NOT NULL CHECK (new_price > 0)
);

CREATE INDEX IF NOT EXISTS ix_price_history_product_at ON price_history(product_id, effective_at);
