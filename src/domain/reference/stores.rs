//! The store world's reference rows: stores in several time zones with their tax rates and
//! opening hours, their terminals and staff, their stock, and weekly discounts. Every row depends
//! only on the seed, its table and its index, like the rest of the reference data.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use rand::Rng;

use super::{row_rng, StoreLayout};
use crate::domain::events::Millis;
use crate::domain::ids::fnv1a;

/// (city, region, country, IANA zone, tax rate in basis points).
pub const CITIES: [(&str, &str, &str, &str, i64); 10] = [
    ("New York", "North America", "US", "America/New_York", 888),
    ("London", "Europe", "GB", "Europe/London", 2000),
    ("Berlin", "Europe", "DE", "Europe/Berlin", 1900),
    ("Chicago", "North America", "US", "America/Chicago", 1025),
    ("Tokyo", "Asia Pacific", "JP", "Asia/Tokyo", 1000),
    (
        "Los Angeles",
        "North America",
        "US",
        "America/Los_Angeles",
        950,
    ),
    ("Paris", "Europe", "FR", "Europe/Paris", 2000),
    ("Riyadh", "Middle East", "SA", "Asia/Riyadh", 1500),
    ("Sydney", "Asia Pacific", "AU", "Australia/Sydney", 1000),
    ("Madrid", "Europe", "ES", "Europe/Madrid", 2100),
];
pub const ROLES: [(&str, u32); 3] = [("cashier", 70), ("supervisor", 15), ("stock_clerk", 15)];
/// Share of (store, product) pairs a store stocks.
const STOCKED_SHARE: f64 = 0.6;
/// Share of (store, product) pairs discounted in a given week.
const DISCOUNTED_SHARE: f64 = 0.1;
/// Discounts in whole percent.
const DISCOUNTS: [i64; 7] = [5, 10, 15, 20, 25, 30, 50];

#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    /// `STORE-001`...
    pub store_id: String,
    pub name: String,
    pub city: &'static str,
    pub region: &'static str,
    pub country: &'static str,
    pub timezone: Tz,
    /// Sales tax in basis points of the subtotal (888 = 8.88%).
    pub tax_rate_bp: i64,
    /// Local opening and closing time, minutes after midnight (opens < closes).
    pub opens_min: u32,
    pub closes_min: u32,
    pub size_sqft: i32,
}

impl Store {
    /// The local time of `t`.
    pub fn local(&self, t: Millis) -> Option<DateTime<Tz>> {
        self.timezone.timestamp_millis_opt(t).single()
    }

    /// Whether the store trades at `t` (opening time inclusive, closing time exclusive).
    pub fn is_open(&self, t: Millis) -> bool {
        self.local(t).is_some_and(|l| {
            use chrono::Timelike;
            let m = l.hour() * 60 + l.minute();
            m >= self.opens_min && m < self.closes_min
        })
    }

    /// Start and end (ms) of the local trading day that contains `t`, if the store is open then.
    pub fn trading_day(&self, t: Millis) -> Option<(Millis, Millis)> {
        if !self.is_open(t) {
            return None;
        }
        let day = self.local(t)?.date_naive();
        Some((
            self.at(day, self.opens_min)?,
            self.at(day, self.closes_min)?,
        ))
    }

    /// `t` if the store is open then, else its next opening after `t`.
    pub fn next_open(&self, t: Millis) -> Millis {
        if self.is_open(t) {
            return t;
        }
        let Some(local) = self.local(t) else {
            return t;
        };
        let today = local.date_naive();
        (0..3)
            .filter_map(|d| self.at(today + chrono::Days::new(d), self.opens_min))
            .find(|open| *open > t)
            .unwrap_or(t)
    }

    /// The instant of local `day` at `minute` after midnight (the earlier one across a DST fold).
    fn at(&self, day: NaiveDate, minute: u32) -> Option<Millis> {
        let naive = day.and_hms_opt(minute / 60, minute % 60, 0)?;
        self.timezone
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.timestamp_millis())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Terminal {
    /// `STORE-001-T01`...
    pub terminal_id: String,
    pub store: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Employee {
    /// `STORE-001-E001`...
    pub employee_id: String,
    pub store: usize,
    pub name: String,
    pub role: &'static str,
}

/// A row of `store_inventory`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStockRow {
    pub store_id: String,
    pub product_id: String,
    pub qty: i32,
    pub reserved_qty: i32,
    pub reorder_point: i32,
    pub reorder_qty: i32,
}

pub fn store_id(i: usize) -> String {
    format!("STORE-{:03}", i + 1)
}

/// Store `i` in the built-in cities, with hours that vary per store.
pub fn store(seed: u64, i: usize) -> Store {
    store_in(seed, i, StoreLayout::VARIED)
}

/// Where a store in zone `tz` is: a built-in city of that zone, or one named after the zone
/// (10% sales tax, no country).
fn place(tz: Tz) -> (&'static str, &'static str, &'static str, Tz, i64) {
    if let Some(&(city, region, country, _, tax)) = CITIES.iter().find(|c| c.3 == tz.name()) {
        return (city, region, country, tz, tax);
    }
    let name = tz.name();
    let (region, city) = name.split_once('/').unwrap_or((name, name));
    let city = city.rsplit('/').next().unwrap_or(city);
    let city: &'static str = Box::leak(city.replace('_', " ").into_boxed_str());
    let region: &'static str = Box::leak(region.to_owned().into_boxed_str());
    (city, region, "", tz, 1000)
}

/// Store `i` of a layout: the zones in turn (or the built-in cities), the layout's hours (or
/// hours that vary per store).
pub fn store_in(seed: u64, i: usize, layout: StoreLayout) -> Store {
    let mut r = row_rng(seed, 20, i);
    let (city, region, country, timezone, tax) = match layout.zones {
        [] => {
            let (city, region, country, zone, tax) = CITIES[i % CITIES.len()];
            let tz = zone.parse().expect("the built-in zones exist");
            (city, region, country, tz, tax)
        }
        zones => place(zones[i % zones.len()]),
    };
    let opens = [7, 8, 9, 10][r.random_range(0..4)] * 60;
    let closes = [19, 20, 21, 22][r.random_range(0..4)] * 60;
    let (opens, closes) = layout.hours.unwrap_or((opens, closes));
    let places = match layout.zones.len() {
        0 => CITIES.len(),
        n => n,
    };
    let turn = i / places;
    Store {
        store_id: store_id(i),
        name: format!("{city} #{}", turn + 1),
        city,
        region,
        country,
        timezone,
        tax_rate_bp: tax,
        opens_min: opens,
        closes_min: closes,
        size_sqft: r.random_range(8..=60) * 100,
    }
}

pub fn terminal(store: usize, t: usize) -> Terminal {
    Terminal {
        terminal_id: format!("{}-T{:02}", store_id(store), t + 1),
        store,
    }
}

const FIRST_NAMES: [&str; 8] = [
    "Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana",
];
const LAST_NAMES: [&str; 8] = [
    "Ito", "Jones", "Khan", "Lopez", "Meyer", "Novak", "Okafor", "Price",
];

pub fn employee(seed: u64, store: usize, e: usize) -> Employee {
    let mut r = row_rng(seed, 21 + ((store as u64) << 32), e);
    let mut pick = r.random_range(0..100);
    let role = ROLES
        .iter()
        .find(|(_, w)| {
            let hit = pick < *w;
            pick = pick.saturating_sub(*w);
            hit
        })
        .map_or("cashier", |(name, _)| name);
    Employee {
        employee_id: format!("{}-E{:03}", store_id(store), e + 1),
        store,
        name: format!(
            "{} {}",
            FIRST_NAMES[r.random_range(0..FIRST_NAMES.len())],
            LAST_NAMES[r.random_range(0..LAST_NAMES.len())]
        ),
        // The first employee of a store always works a till.
        role: if e == 0 { "cashier" } else { role },
    }
}

/// Stock of product `p` at store `s`: 60% of pairs, 5-80 units, a reorder point of 5-15 and a
/// reorder quantity of 20-60.
pub fn store_stock(seed: u64, s: usize, p: usize) -> Option<StoreStockRow> {
    let mut r = row_rng(seed, 22 + ((s as u64) << 32), p);
    if !r.random_bool(STOCKED_SHARE) {
        return None;
    }
    let qty = r.random_range(5..=80);
    Some(StoreStockRow {
        store_id: store_id(s),
        product_id: format!("P{:06}", p + 1),
        qty,
        reserved_qty: r.random_range(0..=qty.min(3)),
        reorder_point: r.random_range(5..=15),
        reorder_qty: r.random_range(20..=60),
    })
}

/// The ISO week of `t` in UTC as `YYYY-Www` (pos_producer.py's discount key).
pub fn iso_week(t: Millis) -> String {
    let date = DateTime::from_timestamp_millis(t).unwrap_or_default();
    let w = date.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The UTC span [Monday 00:00, next Monday 00:00) of the ISO week of `t`.
pub fn week_span(t: Millis) -> (Millis, Millis) {
    const DAY: Millis = 86_400_000;
    let day = t.div_euclid(DAY);
    // 1970-01-01 was a Thursday: days since a Monday.
    let start = (day - (day + 3).rem_euclid(7)) * DAY;
    (start, start + 7 * DAY)
}

/// The discount (whole percent) of a product at a store in ISO week `week`, if any: a pure
/// function of the seed, so memory and Postgres agree and a week's rows can be written on demand.
pub fn discount_pct(seed: u64, store_id: &str, product_id: &str, week: &str) -> Option<i64> {
    let hash = fnv1a(
        [store_id, "|", product_id, "|", week]
            .iter()
            .flat_map(|part| part.bytes()),
    );
    let mut r = row_rng(seed, 23, hash as usize);
    r.random_bool(DISCOUNTED_SHARE)
        .then(|| DISCOUNTS[r.random_range(0..DISCOUNTS.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_span_holds_exactly_one_iso_week() {
        for t in [0, 1_719_849_600_000, 1_704_067_199_999, -86_400_001] {
            let (start, end) = week_span(t);
            assert!(start <= t && t < end);
            assert_eq!(iso_week(start), iso_week(t));
            assert_eq!(iso_week(end - 1), iso_week(t));
            assert_ne!(iso_week(start - 1), iso_week(t));
            assert_ne!(iso_week(end), iso_week(t));
        }
    }

    #[test]
    fn a_layout_gives_the_stores_its_zones_in_turn_and_its_hours() {
        static ZONES: [Tz; 2] = [chrono_tz::Europe::Berlin, chrono_tz::America::Sao_Paulo];
        let layout = StoreLayout {
            zones: &ZONES,
            hours: Some((8 * 60, 21 * 60)),
        };
        let stores: Vec<Store> = (0..4).map(|i| store_in(7, i, layout)).collect();
        let zones: Vec<Tz> = stores.iter().map(|s| s.timezone).collect();
        assert_eq!(zones, [ZONES[0], ZONES[1], ZONES[0], ZONES[1]]);
        assert_eq!((stores[0].city, stores[0].tax_rate_bp), ("Berlin", 1900));
        assert_eq!((stores[1].city, stores[1].region), ("Sao Paulo", "America"));
        assert_eq!(stores[3].name, "Sao Paulo #2");
        assert!(stores
            .iter()
            .all(|s| (s.opens_min, s.closes_min) == (480, 1260)));
        // Other columns stay as the seed made them.
        assert_eq!(stores[2].size_sqft, store(7, 2).size_sqft);
    }

    #[test]
    fn stores_span_time_zones_and_open_before_they_close() {
        let stores: Vec<Store> = (0..10).map(|i| store(7, i)).collect();
        let zones: std::collections::BTreeSet<_> =
            stores.iter().map(|s| s.timezone.name()).collect();
        assert_eq!(zones.len(), 10);
        assert!(stores.iter().all(|s| s.opens_min < s.closes_min));
        assert_eq!(stores[0].store_id, "STORE-001");
        assert_eq!(store(7, 3), store(7, 3));
    }

    #[test]
    fn opening_hours_are_local() {
        let mut s = store(1, 0); // New York
        s.opens_min = 9 * 60;
        s.closes_min = 21 * 60;
        // 2024-07-01T12:00:00Z is 08:00 in New York (EDT): closed; 14:00Z is 10:00: open.
        assert!(!s.is_open(1_719_835_200_000));
        assert!(s.is_open(1_719_835_200_000 + 2 * 3_600_000));
        let (open, close) = s.trading_day(1_719_835_200_000 + 2 * 3_600_000).unwrap();
        assert_eq!(open, 1_719_835_200_000 + 3_600_000);
        assert_eq!(close - open, 12 * 3_600_000);
        // After closing, the next opening is the next local morning.
        assert_eq!(s.next_open(close + 1), open + 24 * 3_600_000);
        assert_eq!(s.next_open(open - 5), open);
    }

    #[test]
    fn iso_weeks_and_discounts_are_stable() {
        assert_eq!(iso_week(1_704_067_200_000), "2024-W01");
        assert_eq!(iso_week(1_703_980_800_000), "2023-W52");
        let d: Vec<_> = (0..1000)
            .filter_map(|p| discount_pct(3, "STORE-001", &format!("P{p:06}"), "2024-W10"))
            .collect();
        assert!((50..=150).contains(&d.len()), "{}", d.len());
        assert!(d.iter().all(|p| DISCOUNTS.contains(p)));
        let again = |w| discount_pct(3, "STORE-002", "P000005", w);
        assert_eq!(again("2024-W10"), again("2024-W10"));
    }
}
