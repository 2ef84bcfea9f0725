//! The standard two-namespace stage of the end-to-end tests: the real
//! `posternd` with the standard config (every method, every door), an echo
//! service behind each door, and knocks sent from the client namespace.

use super::*;
use postern_proto::UserKey;
use postern_proto::method::KnockProto;
use postern_proto::profile::{AllowMode, MethodSpec};
use postern_server::netns::{EchoServer, NetnsPair, is_root};
use std::net::IpAddr;
use std::path::PathBuf;

pub struct Stage {
    pub net: NetnsPair,
    pub dir: TempDir,
    pub cfg: PathBuf,
    pub _echo: Vec<EchoServer>,
    pub daemon: Posternd,
    pub v6: bool,
}

impl Stage {
    pub fn new(tag: &str, subnet: u8, backend: &str, v6: bool) -> Option<Stage> {
        Stage::with_config(tag, subnet, backend, v6, |c| c)
    }

    /// A stage whose config is the standard one passed through `edit`.
    pub fn with_config(
        tag: &str,
        subnet: u8,
        backend: &str,
        v6: bool,
        edit: impl FnOnce(String) -> String,
    ) -> Option<Stage> {
        if !is_root() {
            eprintln!("skipping {tag}: needs root (network namespaces, firewall)");
            return None;
        }
        let net = NetnsPair::create(&format!("pe{}{tag}", std::process::id()), subnet)
            .expect("namespaces");
        let dir = TempDir::new(tag);
        let cfg = dir.0.join("posternd.toml");
        let table = format!("pe_{tag}");
        std::fs::write(
            &cfg,
            edit(config_text(&net, backend, &table, &dir.0.join("state"))),
        )
        .expect("config");
        let echo = [
            SEQ_PORT,
            DYN_PORT,
            SPA_PORT,
            SYN_PORT,
            TOKEN_PORT,
            KNOCKD_PORT,
        ]
        .iter()
        .map(|&p| EchoServer::start(&net.server, p).expect("echo"))
        .collect();
        let daemon = Posternd::start(&net, &cfg, &dir.0.join("posternd.log"));
        Some(Stage {
            net,
            dir,
            cfg,
            _echo: echo,
            daemon,
            v6,
        })
    }

    pub fn server(&self) -> IpAddr {
        if self.v6 {
            self.net.server_v6
        } else {
            self.net.server_v4
        }
    }

    pub fn client(&self) -> IpAddr {
        if self.v6 {
            self.net.client_v6
        } else {
            self.net.client_v4
        }
    }

    pub fn knock(&self, method: MethodSpec, port: u16) {
        let p = profile(method, port, AllowMode::Source, sid());
        send(
            &self.net,
            self.server(),
            self.client(),
            &plan(&p, now(), self.client()),
        );
    }

    pub fn open(&self, port: u16) -> bool {
        is_open(&self.net, None, self.server(), port)
    }

    pub fn closed(&self, port: u16) -> bool {
        is_closed(&self.net, None, self.server(), port)
    }

    pub fn restart(&mut self) {
        self.daemon.signal("-TERM");
        self.daemon = Posternd::start(&self.net, &self.cfg, &self.dir.0.join("posternd.log"));
    }
}

pub fn methods() -> Vec<(&'static str, MethodSpec, u16)> {
    let key = || Some(UserKey::from_bytes(KEY));
    vec![
        (
            "static sequence",
            MethodSpec::StaticSequence {
                sequence: postern_proto::method::sequence::Sequence::parse(
                    "7101,7202:udp,7303,64:icmp",
                )
                .expect("seq"),
                delay_ms: 0,
            },
            SEQ_PORT,
        ),
        (
            "dynamic sequence",
            MethodSpec::DynamicSequence {
                user: "alice".into(),
                key: key(),
                length: 5,
                port_min: 30000,
                port_max: 30999,
                proto: KnockProto::Udp,
                step_secs: 30,
            },
            DYN_PORT,
        ),
        ("spa", spa_method(KEY), SPA_PORT),
        (
            "keyed syn token",
            MethodSpec::SynTokenKeyed {
                user: "alice".into(),
                key: key(),
                step_secs: 30,
            },
            SYN_PORT,
        ),
        ("static syn token", MethodSpec::SynToken, TOKEN_PORT),
    ]
}
