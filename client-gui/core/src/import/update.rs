//! Re-issued profiles (DESIGN.md §5): a profile for a host that is already
//! saved, signed by the signer trusted for its server, updates that host
//! in place instead of adding a second one. The administrator's settings
//! and key are replaced; the user's own choices stay; the user is told
//! what changed in a few words ("new key", "port 3389 → 3390").

use crate::store::secret_account;
use postern_proto::profile::{AllowMode, MethodSpec, Profile};

/// Whether `saved` is the host `new` re-issues: the same server (whose
/// signer the import has already checked: one trusted signer per server)
/// and the same user on it (`None` for methods without a user). The name
/// is not part of it: the user may have renamed the host.
pub fn same_host(saved: &Profile, new: &Profile) -> bool {
    saved.server_id == new.server_id && secret_account(saved) == secret_account(new)
}

/// `new` with the user's own choices from `saved`: the name they see the
/// host under and the program a connect starts (if they had one). The
/// re-knock on a still-closed door is an app-wide behaviour, not stored
/// per host, so there is nothing else to keep.
pub fn keep_users_choices(saved: &Profile, new: &mut Profile) {
    new.name.clone_from(&saved.name);
    if saved.launch.is_some() {
        new.launch.clone_from(&saved.launch);
    }
}

/// What changed from `saved` to `new`, in the user's words; `new_key`
/// when the profile brought another key than the one in the keyring.
/// Empty: the same profile again.
pub fn changes(saved: &Profile, new: &Profile, new_key: bool) -> Vec<String> {
    let mut out = Vec::new();
    if new_key {
        out.push("new key".to_owned());
    }
    if saved.host != new.host {
        out.push(format!("address {} → {}", saved.host, new.host));
    }
    match (saved.doors.as_slice(), new.doors.as_slice()) {
        ([a], [b]) if a.proto == b.proto && a.port != b.port => {
            out.push(format!("port {} → {}", a.port, b.port));
        }
        (a, b) if a.iter().map(|d| d.door()).ne(b.iter().map(|d| d.door())) => {
            let list = |d: &[postern_proto::profile::DoorSpec]| {
                d.iter()
                    .map(|d| d.door().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push(format!("doors {} → {}", list(a), list(b)));
        }
        (a, b) if a != b => out.push("how long the doors stay open".to_owned()),
        _ => {}
    }
    let (mut m0, mut m1) = (saved.method.clone(), new.method.clone());
    drop((m0.take_key(), m1.take_key()));
    if m0.label() != m1.label() {
        out.push(format!("method {} → {}", m0.label(), m1.label()));
    } else if let (MethodSpec::Spa { port: p0, .. }, MethodSpec::Spa { port: p1, .. }) = (&m0, &m1)
        && p0 != p1
    {
        out.push(format!("SPA port {p0} → {p1}"));
    } else if m0 != m1 {
        out.push(format!("{} settings", m1.label()));
    }
    if saved.allow != new.allow {
        let (a, b) = (allow_label(&saved.allow), allow_label(&new.allow));
        out.push(if a == b {
            "settings for finding this computer's address".to_owned()
        } else {
            format!("address let in: {a} → {b}")
        });
    }
    if saved.ip != new.ip {
        out.push(format!("IP version {:?} → {:?}", saved.ip, new.ip).to_lowercase());
    }
    if saved.decoys != new.decoys {
        out.push("decoy packets".to_owned());
    }
    out
}

fn allow_label(a: &AllowMode) -> &'static str {
    match a {
        AllowMode::Source => "the knock's source",
        AllowMode::Explicit { .. } => "a fixed address",
        AllowMode::Url { .. } => "the address a web service reports",
        AllowMode::Auto { .. } => "this computer's address (found automatically)",
    }
}
