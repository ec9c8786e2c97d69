-- The eight reference tables of the Data Forge generator (reference 003), with primary keys
-- everywhere (Debezium needs them) and updated_at columns for CDC consumers.
CREATE TABLE IF NOT EXISTS users (
  user_id    TEXT PRIMARY KEY,
  email      TEXT UNIQUE NOT NULL,
  country    TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS products (
  product_id TEXT PRIMARY KEY,
  title      TEXT NOT NULL,
  category   TEXT,
  price_usd  NUMERIC(10,2) CHECK (price_usd > 0),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Global stock per product: always the sum of warehouse_inventory over warehouses.
CREATE TABLE IF NOT EXISTS inventory (
  product_id TEXT PRIMARY KEY REFERENCES products(product_id),
  qty        INT NOT NULL CHECK (qty >= 0),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS warehouses (
  warehouse_id TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  country      TEXT,
  region       TEXT,
  updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS suppliers (
  supplier_id TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  country     TEXT,
  rating      NUMERIC(3,2),
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS customer_segments (
  user_id        TEXT PRIMARY KEY REFERENCES users(user_id),
  segment        TEXT,
  lifetime_value NUMERIC(12,2),
  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Authoritative stock by location.
CREATE TABLE IF NOT EXISTS warehouse_inventory (
  warehouse_id TEXT REFERENCES warehouses(warehouse_id),
  product_id   TEXT REFERENCES products(product_id),
  qty          INT NOT NULL CHECK (qty >= 0),
  reserved_qty INT NOT NULL DEFAULT 0 CHECK (reserved_qty >= 0),
  updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (warehouse_id, product_id)
);

CREATE TABLE IF NOT EXISTS product_suppliers (
  product_id     TEXT REFERENCES products(product_id),
  supplier_id    TEXT REFERENCES suppliers(supplier_id),
  cost_usd       NUMERIC(10,2),
  lead_time_days INT,
  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (product_id, supplier_id)
);

CREATE INDEX IF NOT EXISTS idx_users_country ON users(country);
CREATE INDEX IF NOT EXISTS idx_users_created ON users(created_at);
CREATE INDEX IF NOT EXISTS ix_products_category ON products(category);
CREATE INDEX IF NOT EXISTS idx_products_updated ON products(updated_at);
CREATE INDEX IF NOT EXISTS idx_inventory_qty ON inventory(qty);
CREATE INDEX IF NOT EXISTS idx_inventory_updated ON inventory(updated_at);
CREATE INDEX IF NOT EXISTS idx_warehouses_country ON warehouses(country);
CREATE INDEX IF NOT EXISTS idx_suppliers_country ON suppliers(country);
CREATE INDEX IF NOT EXISTS idx_suppliers_rating ON suppliers(rating);
CREATE INDEX IF NOT EXISTS idx_product_suppliers_cost ON product_suppliers(cost_usd);
CREATE INDEX IF NOT EXISTS ix_whinv_product ON warehouse_inventory(product_id);
CREATE INDEX IF NOT EXISTS idx_warehouse_inventory_qty ON warehouse_inventory(qty);
CREATE INDEX IF NOT EXISTS idx_customer_segments_segment ON customer_segments(segment);
CREATE INDEX IF NOT EXISTS idx_customer_segments_ltv ON customer_segments(lifetime_value);
