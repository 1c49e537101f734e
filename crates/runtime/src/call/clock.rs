//! Call time: real time scaled by a speed factor, so a test can run a two-minute
//! simulated call in well under a second while every duration stays truthful in
//! call time.

use std::time::Duration;

use tokio::time::Instant;

/// Converts between call time and wall time. Speed 1 is real time.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    speed: f64,
}

impl CallClock {
    pub fn new(speed: f64) -> Self {
        Self { speed: if speed.is_finite() && speed > 0.0 { speed } else { 1.0 } }
    }

    /// How long to really wait for `call_time` to pass.
    pub fn wall(&self, call_time: Duration) -> Duration {
        call_time.div_f64(self.speed)
    }

    /// How much call time `wall_time` of real time is.
    pub fn call_time(&self, wall_time: Duration) -> Duration {
        wall_time.mul_f64(self.speed)
    }

    /// How much call time has passed since `since`.
    pub fn elapsed(&self, since: Instant) -> Duration {
        since.elapsed().mul_f64(self.speed)
    }

    /// Sleeps for `call_time` of call time.
    pub async fn sleep(&self, call_time: Duration) {
        tokio::time::sleep(self.wall(call_time)).await;
    }

    /// The wall-clock instant `call_time` from now.
    pub fn deadline(&self, call_time: Duration) -> Instant {
        Instant::now() + self.wall(call_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_both_ways() {
        let fast = CallClock::new(100.0);
        assert_eq!(fast.wall(Duration::from_secs(120)), Duration::from_millis(1200));
        assert_eq!(CallClock::new(0.0).wall(Duration::from_secs(1)), Duration::from_secs(1));
        assert_eq!(CallClock::new(f64::NAN).wall(Duration::from_secs(1)), Duration::from_secs(1));
    }
}
