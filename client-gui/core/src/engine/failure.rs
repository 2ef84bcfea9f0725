//! Why a knock failed, in the few kinds a person can act on. The error's
//! own message stays the technical detail; the kind picks the one plain
//! sentence and the one suggestion the desktop app shows first.

use super::KnockError;
use super::resolve::ResolveError;
use super::transmit::SendError;
use serde::{Deserialize, Serialize};
use std::io::ErrorKind;

/// What kind of failure, from the user's side of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// No network, or no route to the server.
    Offline,
    /// The server's name could not be looked up.
    NameNotFound,
    /// This computer's public address could not be found (STUN or the
    /// profile's address service), so there was nothing safe to knock with.
    OwnAddressUnknown,
    /// The operating system refused the packets (raw sockets, ICMP).
    NeedsPermission,
    /// The profile (or its key) cannot make a knock: ask for a new one.
    ProfileProblem,
    /// Anything else; the message says what.
    #[default]
    Other,
}

impl FailureKind {
    /// Every kind, for front ends that word each one (and their tests).
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Offline,
        FailureKind::NameNotFound,
        FailureKind::OwnAddressUnknown,
        FailureKind::NeedsPermission,
        FailureKind::ProfileProblem,
        FailureKind::Other,
    ];
}

impl KnockError {
    /// The kind of this failure (see [`FailureKind`]).
    pub fn kind(&self) -> FailureKind {
        match self {
            KnockError::Resolve(ResolveError::Lookup { cause, .. }) => {
                if is_offline(cause.kind()) {
                    FailureKind::Offline
                } else {
                    FailureKind::NameNotFound
                }
            }
            KnockError::Resolve(ResolveError::NoAddress { .. }) => FailureKind::NameNotFound,
            KnockError::Resolve(ResolveError::Runtime(_)) => FailureKind::Other,
            KnockError::Resolve(ResolveError::NoAddressService { .. })
            | KnockError::Resolve(ResolveError::NotHttps(_)) => FailureKind::ProfileProblem,
            KnockError::Resolve(_) | KnockError::Stun(_) | KnockError::NoStunService => {
                FailureKind::OwnAddressUnknown
            }
            KnockError::NotGrantable(_) => FailureKind::OwnAddressUnknown,
            KnockError::Plan(_) => FailureKind::ProfileProblem,
            KnockError::Transmit { cause, .. } => match &cause.cause {
                SendError::IcmpNotAllowed { .. }
                | SendError::RawNotAllowed(_)
                | SendError::Divert(_) => FailureKind::NeedsPermission,
                SendError::Io { cause, .. } if is_offline(cause.kind()) => FailureKind::Offline,
                SendError::Io { .. } => FailureKind::Other,
            },
            KnockError::Source { cause, .. } if is_offline(cause.kind()) => FailureKind::Offline,
            KnockError::Source { .. } | KnockError::Verify { .. } => FailureKind::Other,
        }
    }
}

/// The kernel's ways of saying "no network": no route, unreachable, or
/// (for a name lookup) no answer at all.
fn is_offline(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NetworkUnreachable
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkDown
            | ErrorKind::AddrNotAvailable
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn kinds_follow_the_cause() {
        let lookup = |k| {
            KnockError::Resolve(ResolveError::Lookup {
                host: "office.example".into(),
                cause: io::Error::from(k),
            })
        };
        assert_eq!(
            lookup(ErrorKind::NetworkUnreachable).kind(),
            FailureKind::Offline
        );
        assert_eq!(
            lookup(ErrorKind::NotFound).kind(),
            FailureKind::NameNotFound
        );
        assert_eq!(
            KnockError::NoStunService.kind(),
            FailureKind::OwnAddressUnknown
        );
        let send = |cause| KnockError::Transmit {
            dest: [198, 18, 0, 1].into(),
            cause: super::super::transmit::TransmitError {
                index: 1,
                total: 3,
                cause,
            },
        };
        assert_eq!(
            send(SendError::RawNotAllowed(io::Error::from(
                ErrorKind::PermissionDenied
            )))
            .kind(),
            FailureKind::NeedsPermission
        );
        assert_eq!(
            send(SendError::Io {
                what: "UDP",
                dest: "198.18.0.1:7000".parse().unwrap(),
                cause: io::Error::from(ErrorKind::NetworkUnreachable),
            })
            .kind(),
            FailureKind::Offline
        );
        assert_eq!(
            KnockError::Plan(postern_proto::plan::PlanError::AllowNotResolved).kind(),
            FailureKind::ProfileProblem
        );
    }
}
