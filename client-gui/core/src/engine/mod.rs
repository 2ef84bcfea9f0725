//! The knock engine: profile → addresses → [`KnockPlan`] → packets → verdict.
//!
//! The plan comes from the pure protocol crate; everything here is the thin
//! adapter around it. All I/O goes through [`Io`], so the whole flow —
//! including the automatic re-knock — runs in tests with fakes, and the
//! desktop app can drive the same function from a worker thread.

pub mod bind;
pub mod clock;
mod failure;
mod orchestrate;
pub mod resolve;
pub mod stun;
pub mod stun_codec;
pub mod transmit;
pub mod verify;

use bind::{AutoStep, BoundBy};
use clock::{ClockCheck, TimeService};
pub use failure::FailureKind;
use postern_proto::method::DoorProto;
use postern_proto::plan::{self, KnockPlan, PlanError, PlanInput};
use postern_proto::profile::{AllowMode, IpPreference, MethodSpec, Profile};
use postern_proto::{UnixTime, UserKey};
use rand::RngCore;
use resolve::{AddressService, ResolveError};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use transmit::{PacketSink, Progress, Sleeper, TransmitError};
use verify::{DoorProbe, Verdict};

/// What the user asked for on top of the profile.
#[derive(Debug, Clone)]
pub struct KnockOptions {
    /// Overrides the profile's decoy count.
    pub decoys: Option<u8>,
    /// Overrides the profile's address family (`-4` / `-6`).
    pub ip: Option<IpPreference>,
    /// Check that the first TCP door opened.
    pub verify: bool,
    /// Knock once more when the door did not open (only with `verify`).
    pub reknock: bool,
    /// With `verify`: first check whether the door already answers, and
    /// say so rather than credit the knock ([`verify::BEFORE_KNOCK_WAIT`]).
    /// Off only for a refresh of one's own live grant (the desktop's
    /// keep-alive), where the door answering is expected.
    pub check_before: bool,
    pub deadline: Duration,
    /// Timeout for the "what is my address" service.
    pub url_timeout: Duration,
    /// STUN servers (`host:port`) from the app's settings, asked when the
    /// profile names none (`allow = auto` behind a NAT).
    pub stun_servers: Vec<String>,
    /// Deadline per STUN server, name lookup included.
    pub stun_timeout: Duration,
    /// Time servers (`host[:port]`) asked how far off this computer's
    /// clock is after a time-dependent knock stayed closed (clock.rs);
    /// empty: never asked.
    pub time_servers: Vec<String>,
    /// Wait per time server.
    pub time_timeout: Duration,
}

impl Default for KnockOptions {
    fn default() -> Self {
        KnockOptions {
            decoys: None,
            ip: None,
            verify: false,
            reknock: true,
            check_before: true,
            deadline: verify::DEFAULT_DEADLINE,
            url_timeout: Duration::from_secs(5),
            stun_servers: Vec::new(),
            stun_timeout: stun::STUN_TIMEOUT,
            time_servers: clock::DEFAULT_TIME_SERVERS.map(str::to_owned).to_vec(),
            time_timeout: clock::TIME_TIMEOUT,
        }
    }
}

/// Everything the engine touches in the outside world.
pub struct Io<'a> {
    pub sink: &'a mut dyn PacketSink,
    pub sleeper: &'a mut dyn Sleeper,
    pub probe: &'a mut dyn DoorProbe,
    /// The wall clock, in Unix seconds (read once per knock round).
    pub now: &'a dyn Fn() -> UnixTime,
    pub rng: &'a mut dyn RngCore,
    /// The "what is my address" lookup for `allow.mode = "url"`; `None`
    /// where the program has none (such a profile then fails to knock).
    /// `'static` because a service owns its state, and so that an
    /// `Option` of it passes through to here without re-wrapping.
    pub addresses: Option<&'a mut (dyn AddressService + 'static)>,
    /// The time servers' answer after a time-dependent knock stayed
    /// closed; `None`: the clock is not checked.
    pub time: Option<&'a mut (dyn TimeService + 'static)>,
}

impl std::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io { .. }")
    }
}

/// Progress of a knock, for a progress bar or a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnockEvent {
    /// These addresses will be knocked.
    Addresses(Vec<IpAddr>),
    /// One packet went out.
    Packet(Progress),
    /// Checking whether this door answers before anything is sent.
    CheckingBefore(SocketAddr),
    /// Waiting for this door to answer.
    Verifying(SocketAddr),
    /// The door stayed closed; knocking once more.
    Reknocking,
    /// The door stayed closed; asking a time server whether this
    /// computer's clock is why.
    CheckingClock,
}

#[derive(Debug, thiserror::Error)]
pub enum KnockError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("cannot build the knock: {0}")]
    Plan(#[from] PlanError),
    #[error("knocking {dest} failed at {cause}")]
    Transmit { dest: IpAddr, cause: TransmitError },
    #[error(
        "cannot find this computer's address towards {dest} ({cause}); check your network connection"
    )]
    Source { dest: IpAddr, cause: std::io::Error },
    #[error(transparent)]
    Stun(#[from] stun::StunError),
    #[error("this host needs this computer's public address, and this program cannot ask for it")]
    NoStunService,
    #[error("the address to let in would be {0}, which the server cannot open a door for")]
    NotGrantable(IpAddr),
    #[error("knocked, but cannot wait for {door} to open: {cause}")]
    Verify {
        door: SocketAddr,
        cause: std::io::Error,
    },
}

/// What a finished knock did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct KnockReport {
    pub addresses: Vec<IpAddr>,
    /// Packets sent, decoys and re-knocks included.
    pub packets: usize,
    /// `None` when verification was not asked for.
    pub verdict: Option<Verdict>,
    /// The address each SPA packet named and how it was found (one per
    /// knocked address; empty when the packets name none).
    pub bound: Vec<Bound>,
    /// After a time-dependent knock stayed closed: whether this
    /// computer's clock is the likely reason. `None` when not checked.
    pub clock: Option<ClockCheck>,
}

/// The address a knock asked the server to let in, and how it was found:
/// the knock report shows it ("opened for 198.51.100.7, public address
/// reported by STUN (...)").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub address: IpAddr,
    pub by: BoundBy,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.address, self.by)
    }
}

/// Knocks `profile`'s host and, when asked, verifies and re-knocks once.
/// Verifying starts before the knock: a door that already answers then
/// is reported as such, not as opened by the knock.
/// `key` is the user's secret from the keyring (the stored profile has none).
pub fn knock(
    profile: &Profile,
    key: Option<&UserKey>,
    opts: &KnockOptions,
    io: &mut Io<'_>,
    progress: &mut dyn FnMut(KnockEvent),
) -> Result<KnockReport, KnockError> {
    let pref = opts.ip.unwrap_or(profile.ip);
    let (addresses, resolved_allow) = resolve::lookups(
        &profile.host,
        pref,
        &profile.allow,
        io.addresses.as_deref_mut(),
        opts.url_timeout,
    )?;
    // Found once per address: the re-knock names the same address and
    // asks no STUN server again.
    let bound = addresses
        .iter()
        .map(|&dest| bind_for(profile, opts, resolved_allow, dest, io))
        .collect::<Result<Vec<_>, _>>()?;
    progress(KnockEvent::Addresses(addresses.clone()));
    let mut report = KnockReport {
        addresses: addresses.clone(),
        packets: 0,
        verdict: None,
        bound: Vec::new(),
        clock: None,
    };
    for b in bound.iter().flatten() {
        if !report.bound.contains(b) {
            report.bound.push(b.clone());
        }
    }
    let round =
        |io: &mut Io<'_>, report: &mut KnockReport, progress: &mut dyn FnMut(KnockEvent)| {
            for (&dest, b) in addresses.iter().zip(&bound) {
                let allow = b.as_ref().map(|b| b.address);
                let plan = make_plan(profile, key, opts, allow, dest, io)?;
                transmit::transmit(&plan, dest, io.sink, io.sleeper, &mut |p| {
                    progress(KnockEvent::Packet(p))
                })
                .map_err(|cause| KnockError::Transmit { dest, cause })?;
                report.packets += plan.packets.len();
            }
            Ok::<(), KnockError>(())
        };
    if !opts.verify {
        round(io, &mut report, progress)?;
        return Ok(report);
    }
    let Some(door) = profile.doors.iter().find(|d| d.proto == DoorProto::Tcp) else {
        round(io, &mut report, progress)?;
        report.verdict = Some(Verdict::NoTcpDoor);
        return Ok(report);
    };
    let addr = SocketAddr::new(addresses[0], door.port);
    let verify_failed = |cause| KnockError::Verify { door: addr, cause };
    let answered_before = if opts.check_before {
        progress(KnockEvent::CheckingBefore(addr));
        io.probe
            .wait_open(addr, verify::BEFORE_KNOCK_WAIT)
            .map_err(verify_failed)?
            .is_some()
    } else {
        false
    };
    round(io, &mut report, progress)?;
    if answered_before {
        report.verdict = Some(Verdict::AnsweredBeforeKnock);
        return Ok(report);
    }
    progress(KnockEvent::Verifying(addr));
    if let Some(after) = io
        .probe
        .wait_open(addr, opts.deadline)
        .map_err(verify_failed)?
    {
        report.verdict = Some(Verdict::Open {
            after,
            reknocked: false,
        });
        return Ok(report);
    }
    if opts.reknock {
        progress(KnockEvent::Reknocking);
        round(io, &mut report, progress)?;
        progress(KnockEvent::Verifying(addr));
        if let Some(after) = io
            .probe
            .wait_open(addr, opts.deadline)
            .map_err(verify_failed)?
        {
            report.verdict = Some(Verdict::Open {
                after,
                reknocked: true,
            });
            return Ok(report);
        }
    }
    report.verdict = Some(Verdict::StillClosed {
        reknocked: opts.reknock,
    });
    report.clock = check_clock(profile, opts, io, progress);
    Ok(report)
}

/// After a knock stayed closed: whether this computer's clock is why, for
/// a method that carries the time and when a time service and servers are
/// given (clock.rs).
fn check_clock(
    profile: &Profile,
    opts: &KnockOptions,
    io: &mut Io<'_>,
    progress: &mut dyn FnMut(KnockEvent),
) -> Option<ClockCheck> {
    let tolerance = clock::tolerance(&profile.method)?;
    let service = io.time.as_deref_mut()?;
    if opts.time_servers.is_empty() {
        return None;
    }
    progress(KnockEvent::CheckingClock);
    Some(
        match service.clock_ahead(&opts.time_servers, opts.time_timeout) {
            Ok(answer) => clock::judge(answer, tolerance),
            Err(e) => ClockCheck::Unknown { why: e.to_string() },
        },
    )
}

/// The address the knock towards `dest` names, if its profile binds one
/// (`bind` says how `auto` decides). Every answer is checked to be an
/// address the server can let in, so a broken network or a lying service
/// is reported here rather than as a silent refusal by the server.
fn bind_for(
    profile: &Profile,
    opts: &KnockOptions,
    resolved_allow: Option<IpAddr>,
    dest: IpAddr,
    io: &mut Io<'_>,
) -> Result<Option<Bound>, KnockError> {
    let bound = match &profile.allow {
        AllowMode::Source => return Ok(None),
        AllowMode::Explicit { address } => Bound {
            address: *address,
            by: BoundBy::Explicit,
        },
        AllowMode::Url { url, .. } => Bound {
            address: resolved_allow.ok_or(PlanError::AllowNotResolved)?,
            by: BoundBy::Url { url: url.clone() },
        },
        AllowMode::Auto { stun, nat_networks } => {
            let local = resolve::local_source_for(dest)
                .map_err(|cause| KnockError::Source { dest, cause })?;
            match bind::auto_step(local, dest, nat_networks) {
                AutoStep::Embed(address, by) => Bound { address, by },
                AutoStep::AskStun { local } => {
                    let servers = if stun.is_empty() {
                        &opts.stun_servers
                    } else {
                        stun
                    };
                    let service = io
                        .addresses
                        .as_deref_mut()
                        .ok_or(KnockError::NoStunService)?;
                    let answer = service.stun_address(servers, local, opts.stun_timeout)?;
                    Bound {
                        address: answer.address,
                        by: BoundBy::Stun {
                            servers: answer.servers,
                        },
                    }
                }
            }
        }
    };
    if !bind::is_grantable(bound.address) {
        return Err(KnockError::NotGrantable(bound.address));
    }
    Ok(Some(bound))
}

/// One plan per destination: an SPA packet must not be sent twice (the
/// server's replay cache would refuse the copy), and a keyed SYN token is
/// bound to the source address used towards that destination.
fn make_plan(
    profile: &Profile,
    key: Option<&UserKey>,
    opts: &KnockOptions,
    resolved_allow: Option<IpAddr>,
    dest: IpAddr,
    io: &mut Io<'_>,
) -> Result<KnockPlan, KnockError> {
    let source = match profile.method {
        MethodSpec::SynTokenKeyed { .. } => Some(
            resolve::local_source_for(dest).map_err(|cause| KnockError::Source { dest, cause })?,
        ),
        _ => None,
    };
    let input = PlanInput {
        profile,
        key,
        now: (io.now)(),
        source,
        resolved_allow,
        decoys: opts.decoys,
    };
    Ok(plan::plan(&input, &mut io.rng)?)
}

/// The wall clock in Unix seconds. Before 1970 means a broken clock; 0
/// then makes the server report the skew, which is the useful message.
pub fn unix_now() -> UnixTime {
    UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

#[cfg(test)]
mod tests;
