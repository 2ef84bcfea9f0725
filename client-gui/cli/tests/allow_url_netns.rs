//! `allow = url` end to end, on real kernels (issue 13): the client behind
//! the lab's NAT asks an HTTPS "what is my address" service in the server
//! namespace (198.18.20.3:8443), which answers with the source address it
//! sees — the router's. The service's certificate comes from a CA made by
//! the test at run time; the profile trusts it through `url_ca`, the way an
//! organisation with its own CA would. Certificate checks stay on: a
//! certificate from any other CA is refused and nothing is sent.
//!
//! Root only; without root or without `ip` / `nft` / `openssl` each test
//! prints why and returns. Addresses only from 198.18.0.0/15.

mod nat_lab;
mod support;

use nat_lab::{Lab, ROUTER_OUT, SERVER_2, sh, text};
use std::path::{Path, PathBuf};

const HTTPS_PORT: u16 = 8443;

fn skip_reason() -> Option<String> {
    support::skip_reason(&["ip", "nft", "openssl", "python3"])
}

fn url() -> String {
    format!("https://{SERVER_2}:{HTTPS_PORT}/ip")
}

/// Extensions for the test CA and the service's certificate, in a config
/// of our own so that the system's openssl.cnf does not matter.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = Postern test
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:198.18.20.3
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// A test CA (`NAME.pem`, `NAME.key` in `dir`), valid for two days.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let cnf = dir.join("openssl.cnf");
    std::fs::write(&cnf, OPENSSL_CNF).expect("openssl.cnf");
    let pem = dir.join(format!("{name}.pem"));
    sh(&[
        "openssl",
        "req",
        "-x509",
        "-config",
        &cnf.display().to_string(),
        "-extensions",
        "ca",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &dir.join(format!("{name}.key")).display().to_string(),
        "-out",
        &pem.display().to_string(),
        "-days",
        "2",
        "-subj",
        &format!("/CN=Postern test CA {name}"),
    ]);
    pem
}

/// A certificate for the address service (IP 198.18.20.3) signed by the
/// CA `ca` made by [`make_ca`]: returns (certificate, key).
fn issue(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    let cnf = dir.join("openssl.cnf").display().to_string();
    let key = dir.join(format!("service-{ca}.key"));
    let csr = dir.join(format!("service-{ca}.csr"));
    let cert = dir.join(format!("service-{ca}.pem"));
    let d = |p: &Path| p.display().to_string();
    sh(&[
        "openssl",
        "req",
        "-new",
        "-config",
        &cnf,
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &d(&key),
        "-out",
        &d(&csr),
        "-subj",
        &format!("/CN={SERVER_2}"),
    ]);
    sh(&[
        "openssl",
        "x509",
        "-req",
        "-in",
        &d(&csr),
        "-CA",
        &d(&dir.join(format!("{ca}.pem"))),
        "-CAkey",
        &d(&dir.join(format!("{ca}.key"))),
        "-set_serial",
        "2",
        "-extfile",
        &cnf,
        "-extensions",
        "leaf",
        "-days",
        "2",
        "-out",
        &d(&cert),
    ]);
    (cert, key)
}

/// The address service: answers every GET with the source address it
/// sees, as the public "what is my IP" services do. A failed handshake
/// only ends that connection (ssl.SSLError is an OSError, which
/// socketserver's accept loop skips).
const SERVICE: &str = r#"import http.server,ssl,sys
class H(http.server.BaseHTTPRequestHandler):
  def do_GET(self):
    b=(self.client_address[0]+'\n').encode()
    self.send_response(200)
    self.send_header('Content-Type','text/plain')
    self.send_header('Content-Length',str(len(b)))
    self.end_headers()
    self.wfile.write(b)
    print('asked by',self.client_address[0],flush=True)
  def log_message(self,*a): pass
s=http.server.HTTPServer((sys.argv[1],int(sys.argv[2])),H)
c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[3],sys.argv[4])
s.socket=c.wrap_socket(s.socket,server_side=True)
print('listening',flush=True)
s.serve_forever()
"#;

/// The lab behind a NAT with posternd, the trusted test CA `good`, and the
/// address service presenting a certificate from the CA `signer`.
/// Returns the lab and the CA `good` (PEM).
fn lab_with_service(tag: &str, signer: &str) -> (Lab, String) {
    let mut lab = Lab::new(tag, true);
    lab.start_posternd(false);
    let pki = lab.tmp.join("pki");
    std::fs::create_dir_all(&pki).expect("pki dir");
    let good = make_ca(&pki, "good");
    if signer != "good" {
        make_ca(&pki, signer);
    }
    let (cert, key) = issue(&pki, signer);
    let s = lab.s.clone();
    let port = HTTPS_PORT.to_string();
    lab.spawn(
        &s,
        &[
            "python3",
            "-c",
            SERVICE,
            SERVER_2,
            &port,
            &cert.display().to_string(),
            &key.display().to_string(),
        ],
        "service.log",
    );
    assert!(
        lab.wait_log("service.log", "listening"),
        "{}",
        lab.log("service.log")
    );
    let ca_pem = std::fs::read_to_string(good).expect("ca pem");
    (lab, ca_pem)
}

/// The lab's profile asking the address service, trusting `url_ca` (PEM)
/// for it when given.
fn url_profile(lab: &Lab, url_ca: Option<&str>) -> PathBuf {
    let ca = url_ca
        .map(|pem| format!("\nurl_ca = \"\"\"\n{pem}\"\"\""))
        .unwrap_or_default();
    lab.profile(&format!("mode = \"url\"\nurl = \"{}\"{ca}", url()))
}

#[test]
fn the_door_opens_for_the_address_the_https_service_reports() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let (lab, ca) = lab_with_service("u", "good");
    // Without url_ca the test CA is trusted nowhere: what lets the knock
    // through below is the profile's url_ca, not a check turned off.
    let out = lab.knock(&url_profile(&lab, None), &[]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("is not from a certificate authority this computer trusts; not knocking\n"),
        "{said}"
    );
    assert_eq!(lab.spa_packets(), 0, "an SPA packet was sent\n{said}");
    let out = lab.knock(&url_profile(&lab, Some(&ca)), &[]);
    let said = text(&out);
    assert!(
        out.status.success(),
        "{said}\nservice:\n{}\nposternd:\n{}",
        lab.log("service.log"),
        lab.log("posternd.log")
    );
    assert!(
        lab.log("service.log")
            .contains(&format!("asked by {ROUTER_OUT}")),
        "{}",
        lab.log("service.log")
    );
    assert!(
        said.contains(&format!(
            "bound to {ROUTER_OUT} (public address reported by {})",
            url()
        )),
        "{said}"
    );
    assert!(lab.spa_packets() > 0, "no SPA packet reached the server");
    assert!(
        lab.wait_log("posternd.log", &format!("for {ROUTER_OUT}")),
        "{}",
        lab.log("posternd.log")
    );
}

#[test]
fn a_certificate_not_from_url_ca_stops_the_knock_and_nothing_is_sent() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let (lab, ca) = lab_with_service("v", "rogue");
    let out = lab.knock(&url_profile(&lab, Some(&ca)), &[]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "the certificate of {} is not from a certificate authority this profile trusts; not knocking",
            url()
        )),
        "{said}"
    );
    assert!(!said.contains("bound to"), "{said}");
    assert!(
        !lab.log("service.log").contains("asked by"),
        "the request went through: {}",
        lab.log("service.log")
    );
    assert_eq!(lab.spa_packets(), 0, "an SPA packet was sent\n{said}");
    let log = lab.log("posternd.log");
    assert!(!log.contains("opened"), "{log}");
}
