//! Postern's fwknop encoder (postern_proto::method::fwknop) against Debian's
//! fwknopd 2.6 (package fwknop-server): packets sealed by Postern are
//! written to a pcap file and fwknopd, in its test mode (`-t`, no firewall
//! changes) reading that file (`--pcap-file`), must decode them and print
//! the fields Postern put in; a packet made with other keys must not
//! decode. This is the server half of "Postern knocks fwknopd servers"
//! (issue #17) without a network: the client method and its netns test
//! against a live fwknopd build on it.
#![cfg(target_os = "linux")]

use postern_proto::method::fwknop::{self, AccessRequest, FwknopKeys, FwknopMessage, HmacType};
use postern_proto::method::{Door, DoorProto};
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const KEY: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
const HMAC: &str =
    "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A classic pcap file holding one Ethernet/IPv4/UDP frame per datagram.
fn pcap(datagrams: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [
        0xa1b2_c3d4u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
    ] {
        out.extend_from_slice(v);
    }
    for v in [0u32, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for d in datagrams {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
            .ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64)
            .udp(40000, fwknop::DEFAULT_PORT)
            .write(&mut frame, d)
            .expect("frame");
        let secs = u32::try_from(now()).expect("32-bit pcap time");
        let len = u32::try_from(frame.len()).expect("frame length");
        for v in [secs, 0, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    out
}

/// fwknopd's output for the datagrams, read from a pcap file in test mode.
fn fwknopd(dir: &Path, datagrams: &[Vec<u8>]) -> String {
    let access = dir.join("access.conf");
    std::fs::write(
        &access,
        format!("SOURCE ANY\nOPEN_PORTS tcp/22\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n"),
    )
    .expect("access.conf");
    let conf = dir.join("fwknopd.conf");
    std::fs::write(&conf, "").expect("fwknopd.conf");
    for f in [&access, &conf] {
        // fwknopd refuses config files others may read.
        let mut p = std::fs::metadata(f).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o600);
        std::fs::set_permissions(f, p).expect("chmod");
    }
    let cap = dir.join("spa.pcap");
    std::fs::write(&cap, pcap(datagrams)).expect("pcap");
    // `-C N`: exit after N packets (it keeps waiting at the end of the
    // file otherwise); `timeout` in case that ever changes.
    let out = Command::new("timeout")
        .args(["30", "fwknopd", "-f", "-t", "-v", "-C"])
        .arg(datagrams.len().to_string())
        .arg("--pcap-file")
        .arg(&cap)
        .arg("-c")
        .arg(&conf)
        .arg("-a")
        .arg(&access)
        .arg("-d")
        .arg(dir.join("digest.cache"))
        .arg("-p")
        .arg(dir.join("fwknopd.pid"))
        .arg("-r")
        .arg(dir)
        .args(["-i", "lo"])
        .output()
        .expect("Debian's fwknopd (apt-get install fwknop-server)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn debians_fwknopd_decodes_packets_postern_seals() {
    let dir = Dir(std::env::temp_dir().join(format!("postern-fwknopd-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("dir");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(now());
    let access = AccessRequest {
        addr: "198.18.0.2".parse().expect("ip"),
        doors: vec![Door {
            proto: DoorProto::Tcp,
            port: 22,
        }],
    };
    let msg = FwknopMessage::new(&mut rng, "postern", now(), access, Some(45));
    let keys = FwknopKeys::from_base64(KEY, HMAC, HmacType::Sha256).expect("keys");
    let good = fwknop::seal(&keys, &msg, &mut rng);
    let out = fwknopd(&dir.0, &[good.into_bytes()]);
    assert!(out.contains("SPA Decode (res=0)"), "{out}");
    assert!(
        out.contains(&format!("Random Value: {}", msg.random)),
        "{out}"
    );
    assert!(out.contains("Username: postern"), "{out}");
    assert!(
        out.contains(&format!("Timestamp: {}", msg.timestamp)),
        "{out}"
    );
    assert!(out.contains("Message String: 198.18.0.2,tcp/22"), "{out}");
    assert!(out.contains("Client Timeout: 45"), "{out}");

    // Another server's keys: fwknopd's HMAC check refuses it.
    let other = FwknopKeys::new(&[1; 32], &[2; 64], HmacType::Sha256).expect("keys");
    let bad = fwknop::seal(&other, &msg, &mut rng);
    let out = fwknopd(&dir.0, &[bad.into_bytes()]);
    assert!(!out.contains("SPA Decode (res=0)"), "{out}");
    assert!(out.contains("HMAC"), "{out}");
}
