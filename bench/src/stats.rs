//! Small statistics over latency samples.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Row {
    pub system: String,
    pub method: String,
    /// Latencies of knocks that opened, in milliseconds.
    pub samples: Vec<f64>,
    /// Knocks that did not open within the deadline.
    pub failed: usize,
}

impl Row {
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantile(&self.samples, q)
    }

    pub fn min(&self) -> Option<f64> {
        self.quantile(0.0)
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    pub fn p90(&self) -> Option<f64> {
        self.quantile(0.9)
    }
}

/// The `q` quantile (nearest rank) of `samples`; `None` if there are none.
pub fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() - 1) as f64 * q).round() as usize;
    v.get(idx).copied()
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn fmt_ms(v: Option<f64>) -> String {
    match v {
        Some(x) if x < 10.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.1}"),
        None => "—".into(),
    }
}

/// Resources a daemon used, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcUsage {
    /// CPU seconds (user + system).
    pub cpu: f64,
    /// Peak resident set size in KiB.
    pub peak_rss_kib: u64,
    pub rss_kib: u64,
}

pub fn proc_usage(pid: u32) -> ProcUsage {
    let mut u = ProcUsage::default();
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields after the ")" that ends the command name: utime is the
        // 12th, stime the 13th.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            u.cpu = (ticks(11) + ticks(12)) / 100.0;
        }
    }
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in status.lines() {
            let val = || {
                line.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("VmHWM:") {
                u.peak_rss_kib = val();
            } else if line.starts_with("VmRSS:") {
                u.rss_kib = val();
            }
        }
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank_of_the_sorted_samples() {
        let v: Vec<f64> = [7.0, 1.0, 3.0, 10.0, 2.0, 9.0, 4.0, 8.0, 6.0, 5.0].to_vec();
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 0.9), Some(9.0));
        assert_eq!(quantile(&v, 1.0), Some(10.0));
        assert_eq!(quantile(&[2.0, 1.0, 3.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
