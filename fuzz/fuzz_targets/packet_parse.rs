//! `parse_frame` on arbitrary frames, for every link type.
//!
//! The first input byte picks the link type (Ethernet, Linux SLL, Linux SLL2,
//! raw IP); the rest is the frame. Checks: never panics, and every payload it
//! returns is a sub-slice of the frame (no bytes from outside the capture).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postern_server::capture::{LinkType, parse_frame};
use postern_server::packet::Transport;

const LINKS: [LinkType; 4] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let Some(packet) = parse_frame(link, frame) else {
        return;
    };
    match packet.transport {
        Transport::Udp { payload, .. } | Transport::IcmpEcho { payload } => {
            let outer = frame.as_ptr_range();
            let inner = payload.as_ptr_range();
            assert!(
                outer.start <= inner.start && inner.end <= outer.end,
                "payload outside the frame"
            );
        }
        Transport::Tcp { .. } => {}
    }
});
