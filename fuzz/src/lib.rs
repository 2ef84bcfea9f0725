//! Fixed inputs shared by the fuzz targets and the seed generator
//! (`examples/gen_corpus.rs`): sample texts for every file format we parse.
//! The protocol.md §10 test vectors (key, server id, time, nonce, the two SPA
//! requests and packets) come from `postern_proto::fixtures::vectors`, the
//! one copy every Postern crate's tests use.
//!
//! Nothing here reads a clock or an RNG, so every target is deterministic and
//! every crash reproduces from its input file alone.

/// A daemon config that uses every method, with the vector server id and
/// key, and small limits so that eviction, scan-guard and full-cache paths
/// are reachable in a short fuzz run. The matcher target runs against it.
pub const SAMPLE_CONFIG: &str = r#"[server]
server_id = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
interfaces = ["eth0", "eth1"]
backend = "nftables"
state_dir = "/var/lib/postern"
table = "postern"

[limits]
max_sources = 8
seq_timeout = 10
scan_limit = 6
scan_window = 10
max_skew = 60
replay_capacity = 4
key_id_radius = 3
log_rate = 5

[spa]
port = 62201
icmp = true

[[door]]
name = "ssh"
proto = "tcp"
port = 22
duration = 30
sequence = "7000,8000:udp,9000,56:icmp"
spa = true
syn_token = "static"

[[door]]
name = "rdp"
proto = "tcp"
port = 3389
dynamic = { length = 9, port_min = 20000, port_max = 20063, proto = "udp", step_secs = 30 }
spa = true
syn_token = "keyed"

[[door]]
name = "rdp-udp"
proto = "udp"
port = 3389
duration = 120
spa = true

[[door]]
name = "dns"
proto = "udp"
port = 53
sequence = "2222:udp,3333:tcp"

[[user]]
name = "alice"
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
doors = ["ssh", "rdp", "rdp-udp"]
max_duration = 600

[[user]]
name = "bob"
key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
doors = ["rdp", "dns"]
sources = ["198.18.0.0/15", "fd00::/8"]
"#;

/// A profile per method kind (protocol.md §7), as an administrator would
/// write them. The SPA one uses the vector key.
pub const SAMPLE_PROFILES: &[(&str, &str)] = &[
    (
        "spa",
        r#"version = 1
name = "Office PC"
host = "rdp.example.org"
server_id = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
ip = "auto"

[allow]
mode = "explicit"
address = "fd00::2"

[[door]]
proto = "tcp"
port = 3389
duration = 60

[[door]]
proto = "udp"
port = 3389

[method]
kind = "spa"
user = "alice"
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
port = 62201
transport = "icmp"
action = "wake"

[decoys]
count = 3
jitter_ms = 20

[launch]
kind = "rdp"
"#,
    ),
    (
        "static_sequence",
        r#"version = 1
name = "Lab"
host = "198.18.0.1"
server_id = "00112233445566778899aabbccddeeff"

[[door]]
proto = "tcp"
port = 22

[method]
kind = "static-sequence"
sequence = "7000,8000:udp,9000,56:icmp"
delay_ms = 50

[launch]
kind = "ssh"
user = "root"
"#,
    ),
    (
        "dynamic_sequence",
        r#"version = 1
name = "Build box"
host = "build.example.org"
server_id = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
ip = "both"

[[door]]
proto = "tcp"
port = 3389
duration = 600

[method]
kind = "dynamic-sequence"
user = "alice"
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
length = 4
port_min = 20000
port_max = 29999
proto = "udp"
step_secs = 30
"#,
    ),
    (
        "syn_token",
        r#"version = 1
name = "Legacy"
host = "legacy.example.org"
server_id = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
ip = "v4"

[[door]]
proto = "tcp"
port = 443

[method]
kind = "syn-token"

[launch]
kind = "url"
url = "https://legacy.example.org/"
"#,
    ),
    (
        "syn_token_keyed",
        r#"version = 1
name = "Keyed"
host = "fd00::1"
server_id = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
ip = "v6"

[allow]
mode = "source"

[[door]]
proto = "tcp"
port = 22

[method]
kind = "syn-token-keyed"
user = "alice"
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
step_secs = 60
"#,
    ),
];

/// The passphrase the profile_parse target tries on sealed profiles.
pub const PASSPHRASE: &str = "correct horse";

/// Largest Argon2 cost the profile_parse target lets `seal::open` run.
/// `open` honours the cost written in the file (up to 256 MiB, t = 10,
/// p = 4), which would make one input take seconds; this keeps one
/// derivation well under a millisecond.
pub const FUZZ_MAX_COST: postern_proto::seal::KdfCost = postern_proto::seal::KdfCost {
    m_kib: 64,
    t: 2,
    p: 4,
};

/// A knockd.conf with open/close pairs, a start/stop section, UDP, comments
/// and options (the shape `posternd import-knockd` is for).
pub const SAMPLE_KNOCKD: &str = r#"# knockd.conf as shipped by Debian, plus a few more sections
[options]
    UseSyslog
    Interface = eth0

[openSSH]
    sequence    = 7000,8000,9000
    seq_timeout = 5
    command     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    tcpflags    = syn

[closeSSH]
    sequence    = 9000,8000,7000
    seq_timeout = 5
    command     = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    tcpflags    = syn

[opencloseDNS]
    sequence      = 2222:udp,3333:tcp,4444:udp
    start_command = /sbin/iptables -A INPUT -s %IP% -p udp --dport 53 -j ACCEPT
    cmd_timeout   = 10
    stop_command  = /sbin/iptables -D INPUT -s %IP% -p udp --dport 53 -j ACCEPT

[nft web]
    sequence      = 1111, 2222:udp
    start_command = nft add element inet filter allowed { %IP% . 443 } ; dport 443
    tcpflags      = syn,ack

[otp]
    one_time_sequences = /etc/knockd/otp
    command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT
"#;
