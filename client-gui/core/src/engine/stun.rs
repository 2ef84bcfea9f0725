//! Asking STUN servers for this computer's public address, for
//! `allow = auto` behind a NAT (see `bind`).
//!
//! Two servers are asked at once when two are configured, and must agree:
//! one lying or compromised server could otherwise make us ask the knock
//! server to open the door for an address of its choosing. Each exchange
//! has a hard deadline ([`STUN_TIMEOUT`]) that includes the name lookup,
//! because the user is waiting on a knock. Answers are cached for
//! [`CACHE_FOR`], so the engine's automatic re-knock (and a second click in
//! the window) does not ask again.
//!
//! The exchange runs on tokio: the two servers are asked concurrently, each
//! with retransmissions on a timer, which is orchestration rather than a hot
//! path.

use super::stun_codec::{binding_request, parse_binding_response};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Deadline for one server, name lookup included.
pub const STUN_TIMEOUT: Duration = Duration::from_millis(300);
/// Retransmit the request this often within the deadline: a lost datagram
/// on a busy Wi-Fi should not cost the whole knock.
const RETRANSMIT: Duration = Duration::from_millis(100);
/// How long an answer stays good. NAT mappings for the address (not the
/// port, which we do not use) change rarely; a minute covers re-knocks.
pub const CACHE_FOR: Duration = Duration::from_secs(60);
/// At most this many servers are asked (the first ones configured).
pub const MAX_ASKED: usize = 2;

/// The public address and who reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunAnswer {
    pub address: IpAddr,
    pub servers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StunError {
    #[error(
        "this host needs a STUN server to find your public address, and none is set; ask your administrator for an updated profile"
    )]
    NoServers,
    #[error("could not find the STUN server {server}: {cause}")]
    Lookup {
        server: String,
        cause: std::io::Error,
    },
    #[error("the STUN server {server} has no {family} address")]
    NoFamily {
        server: String,
        family: &'static str,
    },
    #[error("the STUN server {server} did not answer within {} ms", .after.as_millis())]
    Timeout { server: String, after: Duration },
    #[error("the STUN server {server} could not be asked: {cause}")]
    Io {
        server: String,
        cause: std::io::Error,
    },
    #[error(
        "the STUN servers disagree about your public address ({first} says {first_addr}, {second} says {second_addr}); not knocking, because the address to let in is uncertain"
    )]
    Disagree {
        first: String,
        first_addr: IpAddr,
        second: String,
        second_addr: IpAddr,
    },
}

/// Remembers the last answer per (servers, local address).
#[derive(Debug, Default)]
pub struct StunCache {
    entry: Option<(Vec<String>, IpAddr, StunAnswer, Instant)>,
}

impl StunCache {
    /// Empty (a `const fn`, so a process-wide cache can be a static).
    pub const fn new() -> Self {
        StunCache { entry: None }
    }

    pub fn get(&self, servers: &[String], local: IpAddr, now: Instant) -> Option<StunAnswer> {
        let (s, l, answer, at) = self.entry.as_ref()?;
        let fresh = now
            .checked_duration_since(*at)
            .is_some_and(|d| d < CACHE_FOR);
        (fresh && s == servers && *l == local).then(|| answer.clone())
    }

    pub fn put(&mut self, servers: &[String], local: IpAddr, answer: StunAnswer, now: Instant) {
        self.entry = Some((servers.to_vec(), local, answer, now));
    }
}

/// Asks up to [`MAX_ASKED`] of `servers` (each `host:port`) for the public
/// address of `local`, from a socket bound to `local` so the NAT maps the
/// same inside address the knock will come from.
pub async fn public_address(
    servers: &[String],
    local: IpAddr,
    timeout: Duration,
) -> Result<StunAnswer, StunError> {
    let asked: Vec<String> = servers.iter().take(MAX_ASKED).cloned().collect();
    match asked.as_slice() {
        [] => Err(StunError::NoServers),
        [one] => {
            let address = ask_one(one, local, timeout).await?;
            Ok(StunAnswer {
                address,
                servers: asked,
            })
        }
        [first, second, ..] => {
            let (a, b) = tokio::join!(
                ask_one(first, local, timeout),
                ask_one(second, local, timeout)
            );
            let (a, b) = (a?, b?);
            if a != b {
                return Err(StunError::Disagree {
                    first: first.clone(),
                    first_addr: a,
                    second: second.clone(),
                    second_addr: b,
                });
            }
            Ok(StunAnswer {
                address: a,
                servers: asked,
            })
        }
    }
}

async fn ask_one(server: &str, local: IpAddr, timeout: Duration) -> Result<IpAddr, StunError> {
    match tokio::time::timeout(timeout, exchange(server, local)).await {
        Ok(r) => r,
        Err(_) => Err(StunError::Timeout {
            server: server.to_owned(),
            after: timeout,
        }),
    }
}

async fn exchange(server: &str, local: IpAddr) -> Result<IpAddr, StunError> {
    let io = |cause| StunError::Io {
        server: server.to_owned(),
        cause,
    };
    let target = tokio::net::lookup_host(server)
        .await
        .map_err(|cause| StunError::Lookup {
            server: server.to_owned(),
            cause,
        })?
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .ok_or(StunError::NoFamily {
            server: server.to_owned(),
            family: if local.is_ipv4() { "IPv4" } else { "IPv6" },
        })?;
    let sock = UdpSocket::bind(SocketAddr::new(local, 0))
        .await
        .map_err(io)?;
    // 96 random bits: the only thing that tells our answer from a forged one.
    let txid: u128 = rand::random::<u128>() >> 32;
    let request = binding_request(txid);
    let mut buf = [0u8; 576];
    let mut resend = tokio::time::interval(RETRANSMIT);
    loop {
        tokio::select! {
            _ = resend.tick() => {
                sock.send_to(&request, target).await.map_err(io)?;
            }
            got = sock.recv_from(&mut buf) => {
                let (n, from) = got.map_err(io)?;
                if from != target {
                    continue;
                }
                if let Ok(mapped) = parse_binding_response(&buf[..n], txid) {
                    return Ok(mapped.ip());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_types::attribute::XorMappedAddress;
    use stun_types::message::{Message, MessageWrite, MessageWriteExt, MessageWriteVec};

    /// A STUN server on loopback that answers every request with `claim`
    /// (or never answers when `claim` is None).
    async fn fake_server(claim: Option<IpAddr>) -> (String, tokio::task::JoinHandle<()>) {
        let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = s.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 576];
            loop {
                let Ok((n, from)) = s.recv_from(&mut buf).await else {
                    return;
                };
                let Some(claim) = claim else { continue };
                let Ok(req) = Message::from_bytes(&buf[..n]) else {
                    continue;
                };
                let mut w = Message::builder_success(&req, MessageWriteVec::new());
                w.add_attribute(&XorMappedAddress::new(
                    SocketAddr::new(claim, from.port()),
                    req.transaction_id(),
                ))
                .expect("attr");
                let _ = s.send_to(&w.finish(), from).await;
            }
        });
        (addr, task)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn two_agreeing_servers() {
        rt().block_on(async {
            let claim: IpAddr = "198.18.20.254".parse().expect("ip");
            let (a, _ta) = fake_server(Some(claim)).await;
            let (b, _tb) = fake_server(Some(claim)).await;
            let got = public_address(&[a.clone(), b.clone()], LO, STUN_TIMEOUT)
                .await
                .expect("answer");
            assert_eq!(got.address, claim);
            assert_eq!(got.servers, vec![a, b]);
        });
    }

    #[test]
    fn disagreement_is_refused_in_plain_words() {
        rt().block_on(async {
            let (a, _ta) = fake_server(Some("198.18.20.254".parse().expect("ip"))).await;
            let (b, _tb) = fake_server(Some("198.18.20.253".parse().expect("ip"))).await;
            let e = public_address(&[a, b], LO, STUN_TIMEOUT)
                .await
                .expect_err("must refuse");
            assert!(matches!(e, StunError::Disagree { .. }), "{e}");
            assert!(e.to_string().contains("disagree"), "{e}");
        });
    }

    #[test]
    fn a_silent_server_is_named_and_the_deadline_holds() {
        rt().block_on(async {
            let (good, _tg) = fake_server(Some("198.18.20.254".parse().expect("ip"))).await;
            let (silent, _ts) = fake_server(None).await;
            let e = public_address(&[good, silent.clone()], LO, STUN_TIMEOUT)
                .await
                .expect_err("must fail");
            match e {
                StunError::Timeout { server, after } => {
                    assert_eq!(server, silent);
                    assert_eq!(after, STUN_TIMEOUT);
                }
                other => panic!("unexpected {other}"),
            }
        });
    }

    #[test]
    fn no_servers_is_a_plain_error() {
        let e = rt()
            .block_on(public_address(&[], LO, STUN_TIMEOUT))
            .expect_err("none");
        assert!(matches!(e, StunError::NoServers));
    }

    #[test]
    fn cache_is_per_servers_and_local_and_expires() {
        let t0 = Instant::now();
        let s = vec!["stun.example:3478".to_owned()];
        let ans = StunAnswer {
            address: "198.18.20.254".parse().expect("ip"),
            servers: s.clone(),
        };
        let mut c = StunCache::default();
        c.put(&s, LO, ans.clone(), t0);
        assert_eq!(c.get(&s, LO, t0 + Duration::from_secs(59)), Some(ans));
        assert_eq!(c.get(&s, LO, t0 + CACHE_FOR), None);
        assert_eq!(c.get(&[], LO, t0), None);
        assert_eq!(c.get(&s, "::1".parse().expect("ip"), t0), None);
    }
}
