//! The dispatcher: log limiting and arbitrary packets.

use super::*;
use proptest::prelude::*;

#[test]
fn rejections_are_rate_limited_and_summarized() {
    let mut m = matcher();
    for i in 0..10_000u64 {
        m.handle_packet(T0 + i / 10, &udp("198.18.0.2", 62201, &[1u8; 100]));
    }
    m.handle_timeout(T0 + 20_000);
    let mut lines = 0;
    let mut suppressed = 0;
    while let Some(e) = m.poll_event() {
        match e {
            Event::Decision(_) => lines += 1,
            Event::Suppressed { count, .. } => suppressed += count,
            Event::Grant(_) | Event::Revoke(_) => panic!("junk opened"),
        }
    }
    assert!(lines < 100, "{lines} lines for 10k junk packets");
    assert_eq!(lines + suppressed, 10_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_packets_never_open_or_panic(pkts in proptest::collection::vec((0u8..3, any::<u16>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..200)) {
        let mut m = matcher();
        for (i, (kind, port, seq, payload)) in pkts.iter().enumerate() {
            if [7000, 8000, 9000, 10443, 22].contains(port) || (40000..=40999).contains(port) { continue; }
            let p = match kind {
                0 => tcp("198.18.0.2", *port, *seq),
                1 => udp("198.18.0.2", *port, payload),
                _ => icmp("198.18.0.2", payload),
            };
            if *kind == 2 && payload.len() == 64 { continue; }
            m.handle_packet(T0 + i as u64, &p);
        }
        prop_assert!(events(&mut m).0.is_empty());
    }
}
