//! Addresses: which of the host's addresses to knock, which local address
//! the server will see, and the allowed address for `allow.mode = "url"`.
//!
//! A profile with `allow.mode = "url"` needs two lookups that do not depend
//! on each other — the host's name and this computer's public address from
//! an HTTPS service — so [`lookups`] runs them at the same time on tokio
//! (orchestrate.rs says why tokio, and why only here); every other profile
//! needs only the first, done with one blocking call and no runtime.

use super::orchestrate;
use super::stun::{self, StunAnswer, StunCache, StunError};
use postern_proto::profile::{AllowMode, IpPreference};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::pin::Pin;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("could not look up {host}: {cause}; check the host name and your network")]
    Lookup { host: String, cause: io::Error },
    #[error("{host} has no {family} address; {hint}")]
    NoAddress {
        host: String,
        family: &'static str,
        hint: &'static str,
    },
    #[error("the profile's address service must be an https:// URL, got {0:?}")]
    NotHttps(String),
    #[error("could not ask {url} for this computer's public address: {why}")]
    Url { url: String, why: String },
    #[error("the certificate of {url} {problem}; not knocking{hint}")]
    Certificate {
        url: String,
        problem: String,
        hint: &'static str,
    },
    #[error("{url} answered {answer:?}, which is not an IP address")]
    NotAnAddress { url: String, answer: String },
    #[error("this profile asks {url} for this computer's address, which this program cannot do")]
    NoAddressService { url: String },
    #[error("cannot run the address lookups: {0}")]
    Runtime(io::Error),
}

/// The addresses to knock and, for `allow.mode = "url"`, the address the
/// server is to open the door for (this computer's public one). With a URL
/// both lookups run at once and the first to fail ends the wait; a profile
/// that needs no URL makes a blocking lookup and no runtime.
pub fn lookups(
    host: &str,
    pref: IpPreference,
    allow: &AllowMode,
    service: Option<&mut (dyn AddressService + 'static)>,
    timeout: Duration,
) -> Result<(Vec<IpAddr>, Option<IpAddr>), ResolveError> {
    let AllowMode::Url { url, url_ca } = allow else {
        return Ok((resolve_host(host, pref)?, None));
    };
    let service = service.ok_or_else(|| ResolveError::NoAddressService { url: url.clone() })?;
    let public = service.public_address(url, url_ca.as_deref(), timeout);
    orchestrate::block_on(async {
        let (addresses, public) = tokio::try_join!(lookup_host(host, pref), public)?;
        Ok((addresses, Some(public)))
    })
    .map_err(ResolveError::Runtime)?
}

/// Looks up `host` (a name or a literal address) and picks the address(es)
/// to knock according to `pref`.
pub fn resolve_host(host: &str, pref: IpPreference) -> Result<Vec<IpAddr>, ResolveError> {
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|cause| ResolveError::Lookup {
            host: host.to_owned(),
            cause,
        })?
        .map(|a| a.ip())
        .collect();
    select(host, &addrs, pref)
}

/// [`resolve_host`] as a task on the runtime: `getaddrinfo` on one of its
/// blocking threads (a literal address needs none).
async fn lookup_host(host: &str, pref: IpPreference) -> Result<Vec<IpAddr>, ResolveError> {
    let addrs: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|cause| ResolveError::Lookup {
            host: host.to_owned(),
            cause,
        })?
        .map(|a| a.ip())
        .collect();
    select(host, &addrs, pref)
}

/// The address choice, apart from the lookup so it can be tested:
/// `auto` prefers IPv6 when the host has one (DESIGN.md §3: all methods
/// work over both), `v4`/`v6` insist on one family, `both` knocks the
/// first address of each family the host has.
pub fn select(
    host: &str,
    addrs: &[IpAddr],
    pref: IpPreference,
) -> Result<Vec<IpAddr>, ResolveError> {
    let v4 = addrs.iter().copied().find(IpAddr::is_ipv4);
    let v6 = addrs.iter().copied().find(IpAddr::is_ipv6);
    let missing = |family, hint| ResolveError::NoAddress {
        host: host.to_owned(),
        family,
        hint,
    };
    match pref {
        IpPreference::Auto => v6
            .or(v4)
            .map(|a| vec![a])
            .ok_or_else(|| missing("IP", "check the host name")),
        // Said without a program's flag or field: `-6` on the command
        // line, the IP setting in the window.
        IpPreference::V4 => v4
            .map(|a| vec![a])
            .ok_or_else(|| missing("IPv4", "knock it over IPv6 instead")),
        IpPreference::V6 => v6
            .map(|a| vec![a])
            .ok_or_else(|| missing("IPv6", "knock it over IPv4 instead")),
        IpPreference::Both => {
            let v: Vec<IpAddr> = v4.into_iter().chain(v6).collect();
            if v.is_empty() {
                Err(missing("IP", "check the host name"))
            } else {
                Ok(v)
            }
        }
    }
}

/// The local address the OS would use to reach `dest`: connect a UDP
/// socket (which sends nothing) and read its local address. The keyed SYN
/// token is bound to it.
pub fn local_source_for(dest: IpAddr) -> io::Result<IpAddr> {
    let bind: SocketAddr = match dest {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let s = UdpSocket::bind(bind)?;
    s.connect(SocketAddr::new(dest, 9))?;
    Ok(s.local_addr()?.ip())
}

/// A "what is my address" answer on its way.
pub type AddressLookup = Pin<Box<dyn Future<Output = Result<IpAddr, ResolveError>>>>;

/// The "what is my address" lookup for `allow.mode = "url"`, behind a
/// trait so that the engine runs with a fake in tests, and so that a
/// program that does not offer the lookup (the benchmark's in-process
/// knock) passes none. It returns a future so that [`lookups`] can run it
/// beside the host's lookup.
pub trait AddressService {
    /// `ca`: PEM certificates to trust for this URL instead of the public
    /// roots (the profile's `url_ca`).
    fn public_address(&mut self, url: &str, ca: Option<&str>, timeout: Duration) -> AddressLookup;

    /// This computer's public address behind a NAT, from the STUN servers
    /// (`allow = auto`; see [`super::stun::public_address`]).
    fn stun_address(
        &mut self,
        servers: &[String],
        local: IpAddr,
        timeout: Duration,
    ) -> Result<StunAnswer, StunError>;
}

/// The real lookup: [`resolve_allow_url`] on one of the runtime's blocking
/// threads (ureq is a blocking client; one request does not warrant an
/// async HTTP stack). Nothing of the HTTPS code runs before a profile asks
/// for it.
#[derive(Debug, Default)]
pub struct HttpsAddressService;

impl AddressService for HttpsAddressService {
    fn public_address(&mut self, url: &str, ca: Option<&str>, timeout: Duration) -> AddressLookup {
        let url = url.to_owned();
        let ca = ca.map(str::to_owned);
        Box::pin(async move {
            let asked = url.clone();
            tokio::task::spawn_blocking(move || resolve_allow_url(&asked, ca.as_deref(), timeout))
                .await
                .unwrap_or_else(|e| {
                    Err(ResolveError::Url {
                        url,
                        why: format!("the lookup stopped: {e}"),
                    })
                })
        })
    }

    fn stun_address(
        &mut self,
        servers: &[String],
        local: IpAddr,
        timeout: Duration,
    ) -> Result<StunAnswer, StunError> {
        Self::ask_stun(servers, local, timeout)
    }
}

/// The last STUN answer, shared by every knock of this process: the
/// desktop app's second click and the engine's re-knock do not ask again.
static STUN_CACHE: std::sync::Mutex<StunCache> = std::sync::Mutex::new(StunCache::new());

impl HttpsAddressService {
    fn ask_stun(
        servers: &[String],
        local: IpAddr,
        timeout: Duration,
    ) -> Result<StunAnswer, StunError> {
        let now = std::time::Instant::now();
        let cached = STUN_CACHE
            .lock()
            .ok()
            .and_then(|c| c.get(servers, local, now));
        if let Some(answer) = cached {
            return Ok(answer);
        }
        let answer = orchestrate::block_on(stun::public_address(servers, local, timeout))
            .map_err(|cause| StunError::Io {
                server: servers.join(", "),
                cause,
            })??;
        if let Ok(mut c) = STUN_CACHE.lock() {
            c.put(servers, local, answer.clone(), now);
        }
        Ok(answer)
    }
}

/// Asks an HTTPS "what is my address" service (`allow.mode = "url"`). Only
/// called when the profile says so: it tells a third party that we are
/// about to knock. The answer is small; anything longer is refused.
///
/// `ca` (PEM) replaces the public roots for this one request: an address
/// service inside an organisation with its own CA. The certificate is
/// always checked.
pub fn resolve_allow_url(
    url: &str,
    ca: Option<&str>,
    timeout: Duration,
) -> Result<IpAddr, ResolveError> {
    if !url.starts_with("https://") {
        return Err(ResolveError::NotHttps(url.to_owned()));
    }
    let fail = |why: String| ResolveError::Url {
        url: url.to_owned(),
        why,
    };
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .https_only(true);
    // macOS builds carry the system TLS instead of rustls (Cargo.toml).
    #[cfg(target_os = "macos")]
    let config = config.tls_config(
        ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .build(),
    );
    let config = match ca {
        Some(pem) => {
            let certs = ureq::tls::parse_pem(pem.as_bytes())
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("the profile's url_ca is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(fail("the profile's url_ca holds no certificate".into()));
            }
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
            #[cfg(target_os = "macos")]
            let tls = tls.provider(ureq::tls::TlsProvider::NativeTls);
            config.tls_config(tls.build())
        }
        None => config,
    };
    let agent: ureq::Agent = config.build().into();
    let mut resp =
        agent
            .get(url)
            .call()
            .map_err(|e| match certificate_problem(&e, ca.is_some()) {
                Some((problem, hint)) => ResolveError::Certificate {
                    url: url.to_owned(),
                    problem,
                    hint,
                },
                None => fail(e.to_string()),
            })?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(256)
        .read_to_string()
        .map_err(|e| fail(e.to_string()))?;
    let answer = body.trim();
    answer.parse().map_err(|_| ResolveError::NotAnAddress {
        url: url.to_owned(),
        answer: answer.chars().take(64).collect(),
    })
}

/// What is wrong with the address service's certificate, in words a user
/// can pass on, and what to do about it; `None` when the failure is not
/// about the certificate. A refused certificate is what a service
/// impersonated on the path looks like, so it gets its own message rather
/// than the TLS library's ("invalid peer certificate: UnknownIssuer").
#[cfg(not(target_os = "macos"))]
fn certificate_problem(e: &ureq::Error, own_ca: bool) -> Option<(String, &'static str)> {
    use rustls::CertificateError as C;
    let tls = match e {
        ureq::Error::Rustls(t) => t,
        // rustls reports through the stream it wraps: an io::Error
        // carrying the rustls::Error.
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    let rustls::Error::InvalidCertificate(cert) = tls else {
        return None;
    };
    // The profile's url_ca comes from the administrator; a service the
    // user chose (the window's settings) has no one to ask.
    let admin = if own_ca {
        " (ask your administrator for an updated profile)"
    } else {
        ""
    };
    Some(match cert {
        C::UnknownIssuer | C::BadSignature if own_ca => (
            "is not from a certificate authority this profile trusts".into(),
            admin,
        ),
        C::UnknownIssuer | C::BadSignature => (
            "is not from a certificate authority this computer trusts".into(),
            admin,
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            ("was issued for another name".into(), admin)
        }
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => (
            "is expired or not valid yet".into(),
            " (check this computer's date and time)",
        ),
        other => (format!("was refused ({other})"), admin),
    })
}

/// macOS's system TLS reports through native-tls, whose errors carry only
/// text: they are shown as they are.
#[cfg(target_os = "macos")]
fn certificate_problem(_: &ureq::Error, _: bool) -> Option<(String, &'static str)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> Vec<IpAddr> {
        vec![
            "198.18.0.1".parse().unwrap(),
            "fd00::1".parse().unwrap(),
            "198.18.0.9".parse().unwrap(),
        ]
    }

    #[test]
    fn preference_picks_the_family() {
        let a = addrs();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        let v4: IpAddr = "198.18.0.1".parse().unwrap();
        assert_eq!(select("h", &a, IpPreference::Auto).unwrap(), vec![v6]);
        assert_eq!(select("h", &a, IpPreference::V4).unwrap(), vec![v4]);
        assert_eq!(select("h", &a, IpPreference::V6).unwrap(), vec![v6]);
        assert_eq!(select("h", &a, IpPreference::Both).unwrap(), vec![v4, v6]);
        let only4 = vec![v4];
        assert_eq!(select("h", &only4, IpPreference::Auto).unwrap(), vec![v4]);
        assert_eq!(select("h", &only4, IpPreference::Both).unwrap(), vec![v4]);
        let e = select("h", &only4, IpPreference::V6)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no IPv6 address") && e.contains("over IPv4"),
            "{e}"
        );
    }

    #[test]
    fn literal_addresses_resolve_without_dns() {
        let v = resolve_host("198.18.0.1", IpPreference::Auto).unwrap();
        assert_eq!(v, vec!["198.18.0.1".parse::<IpAddr>().unwrap()]);
        let v = resolve_host("::1", IpPreference::Auto).unwrap();
        assert_eq!(v, vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
    }

    #[test]
    fn url_must_be_https() {
        let e = resolve_allow_url("http://example.invalid/ip", None, Duration::from_secs(1));
        assert!(matches!(e, Err(ResolveError::NotHttps(_))));
    }

    #[test]
    fn local_source_for_loopback() {
        let ip = local_source_for(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert!(ip.is_loopback());
    }
}
