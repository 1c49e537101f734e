//! Money: EUR held as integer micro-euros, shown as JSON numbers.

/// An amount of EUR in millionths of a euro; exact arithmetic, no float drift.
pub type Micros = i64;

pub const MICROS_PER_EUR: i64 = 1_000_000;

/// EUR as a JSON number, rounded to the micro-euro we store.
pub fn to_eur(micros: Micros) -> f64 {
    micros as f64 / MICROS_PER_EUR as f64
}

/// Parses a EUR amount into micro-euros; `None` for NaN, infinities or amounts that
/// do not fit.
pub fn from_eur(eur: f64) -> Option<Micros> {
    let micros = (eur * MICROS_PER_EUR as f64).round();
    (micros.is_finite() && micros.abs() < 9.0e15).then_some(micros as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_cents_exactly() {
        assert_eq!(from_eur(0.15), Some(150_000));
        assert_eq!(from_eur(-12.5), Some(-12_500_000));
        assert_eq!(to_eur(150_000), 0.15);
        assert_eq!(from_eur(f64::NAN), None);
        assert_eq!(from_eur(f64::INFINITY), None);
    }
}
