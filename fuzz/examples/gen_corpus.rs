//! Writes the committed seed corpus, `fuzz/corpus/<target>/`.
//!
//! ```text
//! cd fuzz && cargo run --example gen_corpus
//! ```
//!
//! Every seed is built from code (etherparse for frames, the protocol.md §10
//! vectors for SPA, the captured fwknop packets, the sample texts in
//! `src/lib.rs`), never typed in as bytes, and the output is deterministic: running it again changes nothing.

use etherparse::{LinuxSllPacketType, PacketBuilder, VlanId};
use postern_fuzz::{PASSPHRASE, SAMPLE_CONFIG, SAMPLE_KNOCKD, SAMPLE_PROFILES};
use postern_proto::fixtures::{fwknop, vectors};
use postern_proto::seal::{self, KdfCost};
use postern_proto::sign::AdminKey;
use postern_server::admin::knockd;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::fs;
use std::path::{Path, PathBuf};

/// Link-type bytes the packet_parse target understands (its first byte).
const ETHERNET: u8 = 0;
const LINUX_SLL: u8 = 1;
const LINUX_SLL2: u8 = 2;
const RAW_IP: u8 = 3;

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const V4_CLIENT: [u8; 4] = [198, 18, 0, 2];
const V4_SERVER: [u8; 4] = [198, 18, 0, 1];
const V6_CLIENT: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const V6_SERVER: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    /// Empties (or creates) `corpus/<target>`.
    fn new(root: &Path, target: &str) -> Self {
        let dir = root.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir).expect("clear old seeds");
        }
        fs::create_dir_all(&dir).expect("create corpus dir");
        Corpus { dir }
    }

    fn put(&self, name: &str, bytes: impl AsRef<[u8]>) {
        fs::write(self.dir.join(name), bytes).expect("write seed");
    }

    /// A seed for a target whose first byte selects a mode.
    fn put_mode(&self, name: &str, mode: u8, bytes: &[u8]) {
        let mut v = vec![mode];
        v.extend_from_slice(bytes);
        self.put(name, v);
    }
}

fn frame(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::new();
    build(&mut v);
    v
}

fn packet_parse(root: &Path) {
    let c = Corpus::new(root, "packet_parse");
    let [spa1, _] = vectors::packets();
    let icmp56 = [0x5a; 56];

    c.put_mode(
        "eth_ipv4_tcp_syn",
        ETHERNET,
        &frame(|v| {
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(V4_CLIENT, V4_SERVER, 64)
                .tcp(40000, 7000, 17, 64240)
                .syn()
                .write(v, &[])
                .expect("frame")
        }),
    );
    c.put_mode(
        "eth_ipv4_udp_spa",
        ETHERNET,
        &frame(|v| {
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(V4_CLIENT, V4_SERVER, 64)
                .udp(40000, 62201)
                .write(v, &spa1)
                .expect("frame")
        }),
    );
    c.put_mode(
        "eth_ipv4_icmp_echo_56",
        ETHERNET,
        &frame(|v| {
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .ipv4(V4_CLIENT, V4_SERVER, 64)
                .icmpv4_echo_request(1, 1)
                .write(v, &icmp56)
                .expect("frame")
        }),
    );
    c.put_mode(
        "eth_vlan_ipv6_icmpv6_echo",
        ETHERNET,
        &frame(|v| {
            PacketBuilder::ethernet2(MAC_A, MAC_B)
                .single_vlan(VlanId::try_new(42).expect("vlan id"))
                .ipv6(V6_CLIENT, V6_SERVER, 64)
                .icmpv6_echo_request(1, 1)
                .write(v, &icmp56)
                .expect("frame")
        }),
    );
    c.put_mode(
        "sll_ipv4_udp_knock",
        LINUX_SLL,
        &frame(|v| {
            PacketBuilder::linux_sll(LinuxSllPacketType::HOST, 6, [2, 0, 0, 0, 0, 1, 0, 0])
                .ipv4(V4_CLIENT, V4_SERVER, 64)
                .udp(40000, 8000)
                .write(v, &[])
                .expect("frame")
        }),
    );
    // Linux cooked v2: etherparse has no builder; a 20-byte header with the
    // ether type first, then the raw IP packet.
    let ipv6_udp = frame(|v| {
        PacketBuilder::ipv6(V6_CLIENT, V6_SERVER, 64)
            .udp(40000, 62201)
            .write(v, &spa1)
            .expect("packet")
    });
    let mut sll2 = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    sll2.extend_from_slice(&ipv6_udp);
    c.put_mode("sll2_ipv6_udp_spa", LINUX_SLL2, &sll2);
    c.put_mode("raw_ipv6_udp_spa", RAW_IP, &ipv6_udp);
    c.put_mode(
        "raw_ipv6_tcp_syn",
        RAW_IP,
        &frame(|v| {
            PacketBuilder::ipv6(V6_CLIENT, V6_SERVER, 64)
                .tcp(40000, 3389, 0x7cdc_e247, 64240)
                .syn()
                .write(v, &[])
                .expect("packet")
        }),
    );
}

fn spa_decode(root: &Path) {
    let c = Corpus::new(root, "spa_decode");
    let [spa1, spa2] = vectors::packets();
    // The packets built from the vector inputs are those printed in
    // protocol.md §10 (also checked by shared/tests/protocol_vectors.rs).
    let spec =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md"))
            .expect("docs/protocol.md");
    for (name, packet) in [("spa1_packet", &spa1), ("spa2_packet", &spa2)] {
        let line = format!("{name} = {}", hex(packet));
        assert!(spec.contains(&line), "{name} differs from protocol.md");
    }
    // Mode 0: raw datagrams and plaintexts.
    c.put_mode("raw_vector_spa1", 0, &spa1);
    c.put_mode("raw_vector_spa2", 0, &spa2);
    let plaintext = |req: &postern_proto::wire::spa::SpaRequest, pad: usize| {
        let mut buf = vec![0u8; req.emitted_len() + pad];
        req.emit(&mut buf).expect("emit");
        buf
    };
    c.put_mode(
        "raw_plaintext_spa2",
        0,
        &plaintext(&vectors::spa2().request, 0),
    );
    // Mode 1: which packet, then [index u16][xor u8] edits.
    c.put_mode("tamper_none_spa1", 1, &[0]);
    c.put_mode("tamper_tag_spa2", 1, &[1, 0, 159, 0x80]);
    c.put_mode("tamper_truncate_spa1", 1, &[0, 0x81]);
    // Mode 2: a plaintext to seal and open again.
    c.put_mode(
        "seal_spa1_padded",
        2,
        &plaintext(&vectors::spa1().request, 20),
    );
    c.put_mode("seal_spa2", 2, &plaintext(&vectors::spa2().request, 0));
}

fn fwknop_decode(root: &Path) {
    let c = Corpus::new(root, "fwknop_decode");
    // Mode 0: the packets captured from Debian's fwknop, as sent.
    let names = ["access", "timeout", "command", "sha512_hmac"];
    for (name, (packet, _)) in names.iter().zip(fwknop::packets()) {
        c.put_mode(&format!("raw_{name}"), 0, packet.as_bytes());
    }
    // Mode 1: which packet, then [index u16][base64 char u8] edits and an
    // optional truncation.
    c.put_mode("tamper_none_access", 1, &[0]);
    c.put_mode("tamper_body_timeout", 1, &[1, 0, 20, 7]);
    c.put_mode("tamper_truncate_sha512", 1, &[3, 5]);
}

fn config_parse(root: &Path) {
    let c = Corpus::new(root, "config_parse");
    c.put("sample.toml", SAMPLE_CONFIG);
    let minimal = SAMPLE_CONFIG
        .split("\n[limits]")
        .next()
        .expect("server section")
        .to_owned()
        + "\n[[door]]\nname = \"ssh\"\nproto = \"tcp\"\nport = 22\nspa = true\n";
    c.put("minimal.toml", minimal);
    let doors = knockd::convert(SAMPLE_KNOCKD, "knockd.conf").expect("sample knockd.conf");
    let converted = format!(
        "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"eth0\"]\n{}",
        knockd::to_toml(&doors)
    );
    c.put("from_knockd.toml", converted);
}

fn profile_parse(root: &Path) {
    let c = Corpus::new(root, "profile_parse");
    let mut rng = ChaCha20Rng::seed_from_u64(0x0090_57e7);
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let admin = AdminKey::from_base64(&base64_of(&seed)).expect("admin key");
    for (name, text) in SAMPLE_PROFILES {
        postern_proto::profile::parse(text, name).expect("sample profile parses");
        c.put(&format!("{name}.postern"), text);
    }
    let (_, spa) = SAMPLE_PROFILES[0];
    let signed = admin.sign_text(spa);
    postern_proto::sign::read_profile_file(&signed, "signed").expect("signed sample verifies");
    c.put("spa_signed.postern", &signed);
    // The cheapest Argon2 cost the format allows, so the fuzzer gets past
    // the KDF quickly (see FUZZ_MAX_COST).
    let cost = KdfCost {
        m_kib: 8,
        t: 1,
        p: 1,
    };
    let sealed = seal::seal(&signed, PASSPHRASE, cost, &mut rng).expect("seal");
    seal::open(&sealed, PASSPHRASE).expect("sealed sample opens");
    c.put("spa_signed_sealed.postern", sealed);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn knockd_import(root: &Path) {
    let c = Corpus::new(root, "knockd_import");
    c.put("knockd.conf", SAMPLE_KNOCKD);
    // One section per file too: smaller seeds mutate faster.
    for (i, section) in SAMPLE_KNOCKD.split("\n[").skip(1).enumerate() {
        c.put(&format!("section_{i}.conf"), format!("[{section}"));
    }
}

fn matcher(root: &Path) {
    // Inputs are decoded with `arbitrary`; any bytes are a valid op list, so
    // a few pseudo-random blobs of different lengths start the search.
    let c = Corpus::new(root, "matcher");
    let mut rng = ChaCha20Rng::seed_from_u64(0x3a7c);
    for len in [64, 256, 1024, 4096] {
        let mut v = vec![0u8; len];
        rng.fill_bytes(&mut v);
        c.put(&format!("random_{len}"), v);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    packet_parse(&root);
    spa_decode(&root);
    fwknop_decode(&root);
    config_parse(&root);
    profile_parse(&root);
    knockd_import(&root);
    matcher(&root);
    println!("seeds written to {}", root.display());
}
