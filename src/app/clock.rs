//! The product's clock: the one place that reads the wall clock.
//!
//! Time is an input everywhere: the engine takes `now` as an argument, and
//! the application takes its [`Clock`] from its [`Config`](super::Config).
//! A deployment runs on [`Clock::system`] (China's local time); `serve
//! --now` starts the clock at a chosen moment and lets it run on from there,
//! so the product can be tried on 31 December in July; tests use
//! [`Clock::fixed`] and move it with [`Clock::set`], so a test says the day it
//! means and never passes or fails by the day it happens to run.
//!
//! Invariant: nothing else in `src/` reads the wall clock
//! (`tests/architecture.rs`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::civil::{Date, DateTime};

/// Where the product's time comes from. Clones share one clock: a test that
/// moves it moves it for the app, its web pages and its worker alike.
#[derive(Debug, Clone)]
pub struct Clock {
    mode: Arc<Mutex<Mode>>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// The wall clock in China.
    System,
    /// Started at `start` when the monotonic clock read `at`, and running.
    Running { start: DateTime, at: Instant },
    /// Stands still until set.
    Fixed(DateTime),
}

impl Clock {
    /// The wall clock in China (Asia/Shanghai): the product in service.
    pub fn system() -> Clock {
        Clock::with(Mode::System)
    }

    /// A clock that reads `start` now and runs on at the wall clock's pace:
    /// the product started on a chosen day (`serve --now`).
    pub fn starting_at(start: DateTime) -> Clock {
        Clock::with(Mode::Running {
            start,
            at: Instant::now(),
        })
    }

    /// A clock that stands at `now` until [`Clock::set`] moves it: tests.
    pub fn fixed(now: DateTime) -> Clock {
        Clock::with(Mode::Fixed(now))
    }

    fn with(mode: Mode) -> Clock {
        Clock {
            mode: Arc::new(Mutex::new(mode)),
        }
    }

    /// The time now, in China's local time.
    pub fn now(&self) -> DateTime {
        match *self.lock() {
            Mode::System => wall_clock_in_china(),
            Mode::Running { start, at } => {
                let elapsed = jiff::SignedDuration::try_from(at.elapsed())
                    .unwrap_or(jiff::SignedDuration::MAX);
                start.saturating_add(elapsed)
            }
            Mode::Fixed(now) => now,
        }
    }

    /// The day now, in China.
    pub fn today(&self) -> Date {
        self.now().date()
    }

    /// Moves the clock to `now`; from then on it stands there (a fixed
    /// clock) or runs on from there (a started one). The wall clock cannot
    /// be moved: a system clock becomes a started one.
    pub fn set(&self, now: DateTime) {
        let mut mode = self.lock();
        *mode = match *mode {
            Mode::Fixed(_) => Mode::Fixed(now),
            Mode::System | Mode::Running { .. } => Mode::Running {
                start: now,
                at: Instant::now(),
            },
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mode> {
        // The mode is a plain value: a panic elsewhere cannot leave it
        // half-written, so a poisoned lock is still a good one.
        self.mode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The wall clock in China: the one reading of it in the product.
fn wall_clock_in_china() -> DateTime {
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai")
        .unwrap_or(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)));
    jiff::Timestamp::now().to_zoned(zone).datetime()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_fixed_clock_stands_until_it_is_set() {
        let clock = Clock::fixed(date(2026, 12, 31).at(17, 0, 0, 0));
        assert_eq!(clock.now(), date(2026, 12, 31).at(17, 0, 0, 0));
        let shared = clock.clone();
        shared.set(date(2027, 1, 4).at(9, 0, 0, 0));
        assert_eq!(clock.today(), date(2027, 1, 4), "clones share the clock");
    }

    #[test]
    fn a_started_clock_runs_on_from_its_start() {
        let start = date(2028, 2, 29).at(23, 59, 59, 0);
        let clock = Clock::starting_at(start);
        let now = clock.now();
        assert!(now >= start && now < start.saturating_add(jiff::SignedDuration::from_secs(60)));
    }
}
