//! Traffic shape: a smooth diurnal multiplier of the base rate, with an optional weekday profile.

use chrono::{DateTime, Datelike, TimeZone, Timelike};
use chrono_tz::Tz;

use super::events::Millis;

/// `min + (max - min) * (1 + cos(2*pi*(hour - peak)/24)) / 2` in local time of `tz`, times an
/// optional per-weekday weight interpolated linearly between the noons of adjacent days, so the
/// multiplier is continuous in time: no hourly or midnight steps.
#[derive(Debug, Clone, PartialEq)]
pub struct DiurnalCurve {
    pub min: f64,
    pub max: f64,
    /// Local hour of the peak, 0 <= peak < 24 (fractions allowed).
    pub peak_hour: f64,
    pub tz: Tz,
    /// Weights Monday..Sunday; `None` = every day alike.
    pub weekdays: Option<[f64; 7]>,
}

impl DiurnalCurve {
    /// A curve that is always 1.
    pub fn flat() -> Self {
        Self {
            min: 1.0,
            max: 1.0,
            peak_hour: 0.0,
            tz: Tz::UTC,
            weekdays: None,
        }
    }

    /// The multiplier at `t` (ms since the epoch).
    pub fn at(&self, t: Millis) -> f64 {
        let Some(local) = self.tz.timestamp_millis_opt(t).single() else {
            return self.max;
        };
        let hour = f64::from(local.num_seconds_from_midnight()) / 3600.0
            + f64::from(local.timestamp_subsec_millis()) / 3_600_000.0;
        let phase = (hour - self.peak_hour) / 24.0 * std::f64::consts::TAU;
        let daily = self.min + (self.max - self.min) * (1.0 + phase.cos()) / 2.0;
        daily * self.weekday_weight(&local, hour)
    }

    /// The largest multiplier the curve can take (for sizing the token bucket).
    pub fn peak(&self) -> f64 {
        let w = self
            .weekdays
            .map_or(1.0, |w| w.iter().copied().fold(f64::MIN, f64::max));
        self.max * w
    }

    /// The smallest multiplier the curve can take.
    pub fn trough(&self) -> f64 {
        let w = self
            .weekdays
            .map_or(1.0, |w| w.iter().copied().fold(f64::MAX, f64::min));
        self.min * w
    }

    fn weekday_weight(&self, local: &DateTime<Tz>, hour: f64) -> f64 {
        let Some(w) = self.weekdays else {
            return 1.0;
        };
        let today = local.weekday().num_days_from_monday() as usize;
        // Before noon blend from yesterday's noon, after noon towards tomorrow's.
        let (from, to, frac) = if hour < 12.0 {
            ((today + 6) % 7, today, (hour + 12.0) / 24.0)
        } else {
            (today, (today + 1) % 7, (hour - 12.0) / 24.0)
        };
        w[from] + (w[to] - w[from]) * frac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Millis = 3_600_000;
    /// 2024-01-01T00:00:00Z, a Monday.
    const MONDAY: Millis = 1_704_067_200_000;

    fn curve() -> DiurnalCurve {
        DiurnalCurve {
            min: 0.4,
            max: 1.4,
            peak_hour: 19.0,
            tz: Tz::UTC,
            weekdays: None,
        }
    }

    #[test]
    fn the_curve_peaks_at_the_peak_hour_and_bottoms_twelve_hours_later() {
        let c = curve();
        assert!((c.at(MONDAY + 19 * HOUR) - 1.4).abs() < 1e-9);
        assert!((c.at(MONDAY + 7 * HOUR) - 0.4).abs() < 1e-9);
    }

    #[test]
    fn the_curve_is_smooth_with_no_hourly_steps() {
        let c = curve();
        let mut prev = c.at(MONDAY);
        for minute in 1..(48 * 60) {
            let now = c.at(MONDAY + minute * 60_000);
            assert!(
                (now - prev).abs() < 0.003,
                "jump at minute {minute}: {prev} -> {now}"
            );
            prev = now;
        }
    }

    #[test]
    fn the_peak_follows_the_timezone() {
        let c = DiurnalCurve {
            tz: "Asia/Tokyo".parse().unwrap(),
            ..curve()
        };
        // 19:00 in Tokyo is 10:00 UTC.
        assert!((c.at(MONDAY + 10 * HOUR) - 1.4).abs() < 1e-9);
    }

    #[test]
    fn a_weekday_profile_scales_days_without_a_step_at_midnight() {
        let c = DiurnalCurve {
            weekdays: Some([1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]),
            ..DiurnalCurve::flat()
        };
        let saturday_noon = MONDAY + 5 * 24 * HOUR + 12 * HOUR;
        assert!((c.at(saturday_noon) - 2.0).abs() < 1e-9);
        assert!((c.at(MONDAY + 12 * HOUR) - 1.0).abs() < 1e-9);
        let friday_midnight = MONDAY + 5 * 24 * HOUR;
        assert!((c.at(friday_midnight - 1) - c.at(friday_midnight)).abs() < 1e-6);
        assert_eq!(c.peak(), 2.0);
    }

    #[test]
    fn min_equal_max_equal_one_turns_the_curve_off() {
        let c = DiurnalCurve::flat();
        assert!((0..48).all(|h| c.at(MONDAY + h * HOUR) == 1.0));
    }
}
