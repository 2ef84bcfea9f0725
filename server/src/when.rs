//! Moments in the administrator's terms: a user's expiry, a rotated key's
//! last moment. Plain arithmetic on Unix seconds (UTC), no clock: callers
//! pass `now`. The config stores them as TOML date-times
//! (`expires = 2026-12-13T00:00:00Z`) so an administrator reads and edits
//! them as dates; the matcher compares seconds.

use postern_proto::UnixTime;

/// A moment in the config file: a TOML date-time on disk, Unix seconds
/// in memory. A date-time the file cannot mean (no date, before 1970) is
/// refused where it is written, with the parser's position.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "toml::value::Datetime", into = "toml::value::Datetime")]
pub struct When(pub UnixTime);

impl TryFrom<toml::value::Datetime> for When {
    type Error = String;
    fn try_from(dt: toml::value::Datetime) -> Result<Self, String> {
        from_toml(&dt).map(When)
    }
}

impl From<When> for toml::value::Datetime {
    fn from(w: When) -> Self {
        to_toml(w.0)
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the "days from
/// civil" algorithm: shift the year to start in March so the leap day is
/// last, then count 400-year eras of 146 097 days).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix seconds of a UTC date and time, or `None` when a field is out of
/// range or the moment is before 1970.
pub fn from_utc(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<UnixTime> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s);
    u64::try_from(secs).ok().map(UnixTime)
}

/// `2026-12-13T00:00:00Z`: what the config stores and the log says.
pub fn rfc3339(t: UnixTime) -> String {
    let secs = i64::try_from(t.0).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        (r / 60) % 60,
        r % 60
    )
}

/// A TOML date-time as Unix seconds. It must have a date; a time without
/// an offset, or no time at all, is read as UTC (the file says which in
/// `posternd user list`).
pub fn from_toml(dt: &toml::value::Datetime) -> Result<UnixTime, String> {
    let date = dt
        .date
        .ok_or_else(|| format!("{dt}: a date is needed (e.g. 2026-12-13T00:00:00Z)"))?;
    let (h, mi, s) = dt.time.map_or((0, 0, 0), |t| {
        (
            u32::from(t.hour),
            u32::from(t.minute),
            u32::from(t.second.unwrap_or(0)),
        )
    });
    let local = from_utc(
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
        h,
        mi,
        s,
    )
    .ok_or_else(|| format!("{dt}: not a date after 1970"))?;
    let offset_secs = match dt.offset {
        Some(toml::value::Offset::Custom { minutes }) => i64::from(minutes) * 60,
        _ => 0,
    };
    // 12:00+02:00 is 10:00Z.
    let utc = i64::try_from(local.0).unwrap_or(i64::MAX) - offset_secs;
    u64::try_from(utc)
        .map(UnixTime)
        .map_err(|_| format!("{dt}: before 1970"))
}

/// The moment named on a command line: a date (`2026-12-13`, midnight
/// UTC), a date-time (`2026-12-13T18:00:00Z`), or a duration from `now`
/// (`90s`, `30m`, `12h`, `14d`, `2w`).
pub fn parse_moment(s: &str, now: UnixTime) -> Result<UnixTime, String> {
    let s = s.trim();
    if let Some(d) = parse_duration(s) {
        return Ok(UnixTime(now.0.saturating_add(d)));
    }
    let text = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    let dt: toml::value::Datetime = text.parse().map_err(|_| {
        format!("{s:?}: expected a date (2026-12-13), a date-time (2026-12-13T18:00:00Z) or a duration (90s, 30m, 12h, 14d, 2w)")
    })?;
    from_toml(&dt)
}

/// Seconds in `90s`, `30m`, `12h`, `14d` or `2w`; `None` if `s` is not one.
pub fn parse_duration(s: &str) -> Option<u64> {
    let unit = s.chars().last()?;
    let n: u64 = s.get(..s.len() - unit.len_utf8())?.parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A TOML date-time for `t`, for config edits.
pub fn to_toml(t: UnixTime) -> toml::value::Datetime {
    // `rfc3339` always writes a valid TOML offset date-time.
    rfc3339(t).parse().unwrap_or(toml::value::Datetime {
        date: None,
        time: None,
        offset: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_seconds() {
        for (text, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:34:56Z", 951_827_696),
            ("2026-12-13T00:00:00Z", 1_797_120_000),
        ] {
            let dt: toml::value::Datetime = text.parse().expect("datetime");
            assert_eq!(from_toml(&dt), Ok(UnixTime(secs)), "{text}");
            assert_eq!(rfc3339(UnixTime(secs)), text);
        }
        let dt: toml::value::Datetime = "2026-12-13T02:00:00+02:00".parse().expect("dt");
        assert_eq!(from_toml(&dt), Ok(UnixTime(1_797_120_000)));
        assert_eq!(from_utc(2025, 2, 29, 0, 0, 0), None);
    }

    #[test]
    fn moments_are_dates_or_durations_from_now() {
        let now = UnixTime(1_000);
        assert_eq!(parse_moment("3s", now), Ok(UnixTime(1_003)));
        assert_eq!(parse_moment("2w", now), Ok(UnixTime(1_000 + 14 * 86_400)));
        assert_eq!(parse_moment("2026-12-13", now), Ok(UnixTime(1_797_120_000)));
        assert!(parse_moment("next week", now).is_err());
        assert!(parse_moment("5y", now).is_err());
    }
}
