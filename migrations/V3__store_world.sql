-- The store world: stores (in their own time zones), terminals, staff, store stock and weekly
-- discounts; the POS record (transactions, their lines, refunds) written in the same
-- transaction as the stock it moves; views in reference 004's names so its SQL runs unchanged.
CREATE TABLE IF NOT EXISTS stores (
  store_id   TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  city       TEXT,
  region     TEXT,
  country    TEXT,
  timezone   TEXT NOT NULL,
  tax_rate   NUMERIC(5,4) NOT NULL CHECK (tax_rate >= 0 AND tax_rate < 1),
  opens_at   TIME NOT NULL,
  closes_at  TIME NOT NULL CHECK (opens_at < closes_at),
  size_sqft  INT,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS terminals (
  terminal_id TEXT PRIMARY KEY,
  store_id    TEXT NOT NULL REFERENCES stores(store_id),
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS employees (
  employee_id TEXT PRIMARY KEY,
  store_id    TEXT NOT NULL REFERENCES stores(store_id),
  name        TEXT NOT NULL,
  role        TEXT NOT NULL,
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS store_inventory (
  store_id      TEXT REFERENCES stores(store_id),
  product_id    TEXT REFERENCES products(product_id),
  qty           INT NOT NULL CHECK (qty >= 0),
  reserved_qty  INT NOT NULL DEFAULT 0 CHECK (reserved_qty >= 0),
  reorder_point INT NOT NULL CHECK (reorder_point >= 0),
  reorder_qty   INT NOT NULL CHECK (reorder_qty > 0),
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, product_id)
);

-- Discounts of a week are written (deterministically from the seed) when a run first enters it.
CREATE TABLE IF NOT EXISTS discounts (
  store_id   TEXT REFERENCES stores(store_id),
  product_id TEXT REFERENCES products(product_id),
  week       TEXT NOT NULL CHECK (week ~ '^[0-9]{4}-W[0-9]{2}$'),
  discount   NUMERIC(4,2) NOT NULL CHECK (discount >= 0 AND discount <= 0.95),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, product_id, week)
);

CREATE INDEX IF NOT EXISTS ix_terminals_store ON terminals(store_id);
CREATE INDEX IF NOT EXISTS ix_employees_store ON employees(store_id);
CREATE INDEX IF NOT EXISTS ix_store_inventory_product ON store_inventory(product_id);
CREATE INDEX IF NOT EXISTS ix_discounts_week ON discounts(week);

-- What each stock row (warehouse or store) last reported.
ALTER TABLE retailgen_stock_reported RENAME COLUMN warehouse_id TO location_id;

-- Every stock row, warehouses and stores alike, by location id.
CREATE OR REPLACE VIEW retailgen_stock_locations AS
  SELECT warehouse_id AS location_id, product_id, qty FROM warehouse_inventory
  UNION ALL
  SELECT store_id, product_id, qty FROM store_inventory;

-- Reference 004's dimension tables.
CREATE OR REPLACE VIEW dim_products AS
  SELECT product_id, title AS product_name, category, price_usd AS base_price FROM products;
CREATE OR REPLACE VIEW dim_stores AS
  SELECT store_id, name AS store_name, city, region, size_sqft FROM stores;
