//! The report: a Markdown section in docs/benchmarks.md (between
//! `<!-- bench:begin -->` and `<!-- bench:end -->`) and two SVG charts
//! beside it, drawn here with plotters.

use crate::run::{Opts, Results};
use crate::stats::{fmt_ms, quantile};
use anyhow::{Context, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(0, |k| k / 1024 / 1024);
    format!(
        "{cpu}, {cores} cores, {mem} GiB RAM, Linux {}",
        kernel.trim()
    )
}

pub fn write(opts: &Opts, r: &Results) -> Result<()> {
    let docs = opts.out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(docs)?;
    latency_chart(&docs.join("bench-latency.svg"), r)?;
    if !r.floods.is_empty() {
        flood_chart(&docs.join("bench-flood.svg"), r)?;
    }
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}");
    let _ = writeln!(
        s,
        "## End to end: Postern, knockd and fwknopd side by side\n"
    );
    let _ = writeln!(
        s,
        "Produced by `{}` (root) on {}; two network namespaces joined by one veth, each system guarding TCP port 2300 in turn, in one run. Grants last 1 s so every trial starts from a closed door.\n",
        opts.command,
        machine()
    );
    let _ = writeln!(s, "### Knock → open latency\n");
    let _ = writeln!(
        s,
        "Wall time from just before the client process starts to the first TCP connect that completes; a prober starts a new non-blocking connect every 200 µs. n = {} per row (plus one warm-up); the rows of one system are measured in turns (knock 1 of each row, then knock 2, …), so a drift of the machine during the run shifts them alike.\n",
        opts.n
    );
    let _ = writeln!(
        s,
        "| system | method | min ms | median ms | p90 ms | did not open |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|");
    for row in &r.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            row.system,
            row.method,
            fmt_ms(row.min()),
            fmt_ms(row.median()),
            fmt_ms(row.p90()),
            row.failed
        );
    }
    let _ = writeln!(s, "\n![latency](bench-latency.svg)\n");
    if !r.floods.is_empty() {
        let _ = writeln!(s, "### Valid knocks under a junk flood\n");
        let _ = writeln!(
            s,
            "A raw sender in the client namespace floods the knock/SPA port from a second address of its own, or from random spoofed sources in 198.18.128.0/17 (bounded: ≤ 20 s, ≤ 2 M packets, destinations only in 198.18.0.0/15), while {} valid knocks are made one after another from the client's address; a knock counts if the door opens within 1.5 s. CPU is the daemon's user+system time over the flood divided by wall time (1.0 = one core); RSS is the daemon's peak.\n",
            opts.flood_knocks
        );
        let _ = writeln!(
            s,
            "| system | junk | junk sent (pps) | valid knocks that opened | their median knock → open (ms) | daemon CPU (cores) | daemon peak RSS |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|");
        for f in &r.floods {
            let _ = writeln!(
                s,
                "| {} | {} | {} ({:.0}) | {} / {} | {} | {:.2} | {} MiB |",
                f.system,
                f.junk,
                f.sent.packets,
                f.sent.pps(),
                f.opened_ms.len(),
                f.tried,
                fmt_ms(quantile(&f.opened_ms, 0.5)),
                f.cpu_share,
                f.peak_rss_kib / 1024
            );
        }
        let _ = writeln!(s, "\n![flood](bench-flood.svg)\n");
    }
    if !r.memory.is_empty() {
        let _ = writeln!(s, "### Memory under distinct spoofed sources\n");
        let _ = writeln!(
            s,
            "SYNs to the first sequence port, each from a new IPv6 address in fd00:5053:4d00::/40. Postern runs with `max_sources = 65536`; its bound is the per-source table's worst case (`SourceTable::bound_bytes`) on top of the RSS before the flood.\n"
        );
        let _ = writeln!(
            s,
            "| system | distinct sources | rate (pps) | RSS before | peak RSS | configured bound |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
        for m in &r.memory {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {} MiB | {} MiB | {} |",
                m.system,
                m.sources,
                m.pps,
                m.rss_before_kib / 1024,
                m.peak_rss_kib / 1024,
                m.bound_kib
                    .map_or("none".into(), |b| format!("{} MiB", b / 1024))
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "{END}");

    let old = std::fs::read_to_string(&opts.out).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(a), Some(b)) if b > a => {
            format!("{}{}{}", &old[..a], s.trim_end(), &old[b + END.len()..])
        }
        _ if old.is_empty() => format!("# Benchmarks\n\n{s}"),
        _ => format!("{}\n\n{s}", old.trim_end()),
    };
    std::fs::write(&opts.out, new).with_context(|| format!("writing {}", opts.out.display()))?;
    Ok(())
}

fn latency_chart(path: &Path, r: &Results) -> Result<()> {
    let max = r
        .rows
        .iter()
        .flat_map(|row| row.samples.iter().copied())
        .fold(1.0f64, f64::max)
        * 1.2;
    let root = SVGBackend::new(path, (900, 60 + 40 * r.rows.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = r.rows.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "knock → open latency (ms, log scale): every sample, median marked",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(330)
        .build_cartesian_2d((0.1f64..max).log_scale(), -0.5f64..(n - 0.5))?;
    let labels: Vec<String> = r
        .rows
        .iter()
        .map(|row| format!("{}: {}", row.system, row.method))
        .collect();
    chart
        .configure_mesh()
        .y_labels(r.rows.len())
        .y_label_formatter(&|y| row_label(&labels, *y))
        .x_desc("milliseconds")
        .draw()?;
    for (i, row) in r.rows.iter().enumerate() {
        let color = if row.system == "Postern" { BLUE } else { RED };
        let y = i as f64;
        chart.draw_series(row.samples.iter().enumerate().map(|(j, &x)| {
            let dy = ((j % 7) as f64 - 3.0) * 0.04;
            Circle::new((x.max(0.11), y + dy), 3, color.mix(0.5).filled())
        }))?;
        if let Some(m) = row.median() {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(m.max(0.11), y - 0.35), (m.max(0.11), y + 0.35)],
                BLACK.stroke_width(2),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}

/// Both charts put one row per y unit; the label of the row at `y`, empty
/// between rows.
fn row_label(labels: &[String], y: f64) -> String {
    let i = y.round();
    if (y - i).abs() < 0.01 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

fn flood_chart(path: &Path, r: &Results) -> Result<()> {
    let root = SVGBackend::new(path, (900, 60 + 36 * r.floods.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = r.floods.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "share of valid knocks that opened the door during a ≥ 100 kpps junk flood",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(420)
        .build_cartesian_2d(0f64..1.05, -0.5f64..(n - 0.5))?;
    let labels: Vec<String> = r
        .floods
        .iter()
        .map(|f| format!("{}: {}", f.system, f.junk))
        .collect();
    chart
        .configure_mesh()
        .y_labels(r.floods.len())
        .y_label_formatter(&|y| row_label(&labels, *y))
        .x_desc("opened / tried")
        .draw()?;
    chart.draw_series(r.floods.iter().enumerate().map(|(i, f)| {
        let share = if f.tried == 0 {
            0.0
        } else {
            f.opened_ms.len() as f64 / f.tried as f64
        };
        let color = if f.system == "Postern" { BLUE } else { RED };
        Rectangle::new(
            [(0.0, i as f64 - 0.35), (share.max(0.005), i as f64 + 0.35)],
            color.mix(0.7).filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}
