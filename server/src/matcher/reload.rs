//! Which live grants a new policy still allows.

use super::events::RevokeWhy;
use super::policy::Policy;
use postern_proto::method::Door;
use std::net::IpAddr;

/// Why a grant of `door` to `source` (for `user`, if any) given under `old`
/// must end under `new`; `None` keeps it. The door must still exist under
/// the same name, protocol and port; a user's grant also needs the user,
/// with the door among theirs and the address in their source ranges. A
/// grant without a user (static sequence or token) only needs the door.
pub fn revoke_why(
    old: &Policy,
    new: &Policy,
    source: IpAddr,
    door: Door,
    user: Option<&str>,
) -> Option<RevokeWhy> {
    let name = old.door_index(door).map(|i| old.doors[i].name.as_str());
    let Some(d) = new
        .door_index(door)
        .filter(|&i| Some(new.doors[i].name.as_str()) == name)
    else {
        return Some(RevokeWhy::DoorRemoved);
    };
    let user = user?;
    match new.user_index(user) {
        // A disabled user's live grants end with the reload that disables
        // them: that is what `user disable` is for (a laptop reported lost).
        Some(u)
            if new.user_may(u, d)
                && new.users[u].source_allowed(source)
                && !new.users[u].standing.disabled =>
        {
            None
        }
        _ => Some(RevokeWhy::NotAllowedAnymore),
    }
}
