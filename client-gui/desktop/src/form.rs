//! The "Add host" / "Edit host" form: its fields as the user types them,
//! validation on every keystroke, and the profile it builds. Pure: no egui,
//! no storage.

use crate::i18n::t;
use postern_proto::method::DoorProto;
use postern_proto::method::fwknop::{FwknopKeys, HmacType};
use postern_proto::method::sequence::Sequence;
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, Launch, MethodSpec, PROFILE_VERSION, Profile,
    SpaTransport,
};
use postern_proto::{ServerId, UserKey};
use zeroize::Zeroizing;

/// Which kind of knock the form describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormMethod {
    /// knockd-style fixed sequence.
    Sequence,
    /// SPA with a key the administrator gave (pasted).
    Spa,
    /// An fwknopd server: the two keys `fwknop --key-gen` printed.
    Fwknop,
}

/// What to start once the door is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectChoice {
    Nothing,
    Rdp,
    Ssh,
    Url,
}

impl ConnectChoice {
    pub const ALL: [ConnectChoice; 4] = [
        ConnectChoice::Nothing,
        ConnectChoice::Rdp,
        ConnectChoice::Ssh,
        ConnectChoice::Url,
    ];

    pub fn label(self) -> String {
        match self {
            ConnectChoice::Nothing => t!("connect-nothing"),
            ConnectChoice::Rdp => t!("connect-rdp"),
            ConnectChoice::Ssh => t!("connect-ssh"),
            ConnectChoice::Url => t!("connect-url"),
        }
    }
}

/// The form's text, exactly as typed.
#[derive(Debug, Clone)]
pub struct HostForm {
    /// The saved name when editing; `None` for a new host.
    pub editing: Option<String>,
    /// The saved profile when editing: fields the form does not show
    /// (decoys, more doors, address family) are kept from it.
    pub base: Option<Box<Profile>>,
    pub name: String,
    pub address: String,
    pub method: FormMethod,
    pub sequence: String,
    pub delay_ms: String,
    pub door_port: String,
    pub door_udp: bool,
    pub spa_user: String,
    /// Base64 key; empty when editing means "keep the saved key".
    pub spa_key: Zeroizing<String>,
    pub spa_port: String,
    /// Hex server id from the administrator (SPA binds packets to it).
    pub spa_server: String,
    /// fwknop: `spa_user`, `spa_port` and `spa_key` (the Rijndael key,
    /// KEY_BASE64) as for SPA, plus HMAC_KEY_BASE64 (empty when editing
    /// keeps the saved keys) and the digest type.
    pub fwknop_hmac_key: Zeroizing<String>,
    pub fwknop_sha512: bool,
    pub connect: ConnectChoice,
    pub connect_user: String,
    pub connect_url: String,
}

impl Default for HostForm {
    fn default() -> Self {
        HostForm {
            editing: None,
            base: None,
            name: String::new(),
            address: String::new(),
            method: FormMethod::Sequence,
            sequence: String::new(),
            delay_ms: "0".to_owned(),
            door_port: String::new(),
            door_udp: false,
            spa_user: String::new(),
            spa_key: Zeroizing::new(String::new()),
            spa_port: "62201".to_owned(),
            spa_server: String::new(),
            fwknop_hmac_key: Zeroizing::new(String::new()),
            fwknop_sha512: false,
            connect: ConnectChoice::Nothing,
            connect_user: String::new(),
            connect_url: String::new(),
        }
    }
}

/// One message per field; `None` means the field is fine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    pub name: Option<String>,
    pub address: Option<String>,
    pub sequence: Option<String>,
    pub delay_ms: Option<String>,
    pub door_port: Option<String>,
    pub spa_user: Option<String>,
    pub spa_key: Option<String>,
    pub spa_port: Option<String>,
    pub spa_server: Option<String>,
    pub fwknop_hmac_key: Option<String>,
    pub connect: Option<String>,
}

impl FormErrors {
    pub fn is_empty(&self) -> bool {
        *self == FormErrors::default()
    }
}

/// A port number from 1 to 65535.
pub fn check_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(_) => Err(t!("error-port-range")),
        Err(_) if text.trim().is_empty() => Err(t!("error-port-empty")),
        Err(_) => Err(t!("error-port-digits")),
    }
}

/// A host name or an IP address.
pub fn check_address(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(t!("error-address-empty"));
    }
    if t.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if t.len() > 253 {
        return Err(t!("error-host-too-long"));
    }
    for label in t.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(t!("error-host-label-length"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(t!("error-host-hyphen"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(t!("error-host-chars"));
        }
    }
    Ok(())
}

fn check_user(u: &str) -> Result<(), String> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok { Ok(()) } else { Err(t!("error-user")) }
}

impl HostForm {
    /// The form for an existing host. The key is never shown: it stays
    /// in the keyring unless a new one is pasted.
    pub fn edit(p: &Profile) -> Self {
        let mut f = HostForm {
            editing: Some(p.name.clone()),
            base: Some(Box::new(p.clone())),
            name: p.name.clone(),
            address: p.host.clone(),
            ..HostForm::default()
        };
        if let Some(d) = p.doors.first() {
            f.door_port = d.port.to_string();
            f.door_udp = d.proto == DoorProto::Udp;
        }
        match &p.method {
            MethodSpec::StaticSequence { sequence, delay_ms } => {
                f.method = FormMethod::Sequence;
                f.sequence = sequence.to_string();
                f.delay_ms = delay_ms.to_string();
            }
            MethodSpec::Spa { user, port, .. } => {
                f.method = FormMethod::Spa;
                f.spa_user = user.clone();
                f.spa_port = port.to_string();
                f.spa_server = p.server_id.to_hex();
            }
            MethodSpec::Fwknop {
                user, port, hmac, ..
            } => {
                f.method = FormMethod::Fwknop;
                f.spa_user = user.clone();
                f.spa_port = port.to_string();
                f.fwknop_sha512 = *hmac == HmacType::Sha512;
            }
            _ => {}
        }
        match &p.launch {
            None => {}
            Some(Launch::Rdp { user }) => {
                f.connect = ConnectChoice::Rdp;
                f.connect_user = user.clone().unwrap_or_default();
            }
            Some(Launch::Ssh { user }) => {
                f.connect = ConnectChoice::Ssh;
                f.connect_user = user.clone().unwrap_or_default();
            }
            Some(Launch::Url { url }) => {
                f.connect = ConnectChoice::Url;
                f.connect_url = url.clone();
            }
        }
        f
    }

    /// Whether a profile can be edited with this form (the others came
    /// from an administrator's file and are re-imported instead).
    pub fn can_edit(p: &Profile) -> bool {
        matches!(
            p.method,
            MethodSpec::StaticSequence { .. } | MethodSpec::Spa { .. } | MethodSpec::Fwknop { .. }
        )
    }

    /// Checks every field; called on every frame, so errors show as you type.
    pub fn errors(&self) -> FormErrors {
        let mut e = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            e.name = Some(t!("error-name-empty"));
        } else if name.chars().count() > 80 {
            e.name = Some(t!("error-name-long"));
        } else if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
            e.name = Some(t!("error-name-alnum"));
        }
        e.address = check_address(&self.address).err();
        e.door_port = check_port(&self.door_port).err();
        match self.method {
            FormMethod::Sequence => {
                e.sequence = Sequence::parse(&self.sequence)
                    .err()
                    .map(|x| t!("error-sequence", problem = x.to_string()));
                e.delay_ms = match self.delay_ms.trim().parse::<u32>() {
                    Ok(d) if d <= 10_000 => None,
                    _ => Some(t!("error-delay")),
                };
            }
            FormMethod::Spa => {
                e.spa_user = check_user(self.spa_user.trim()).err();
                e.spa_port = check_port(&self.spa_port).err();
                e.spa_server = match ServerId::from_hex(self.spa_server.trim()) {
                    Ok(_) => None,
                    Err(_) => Some(t!("error-server-id")),
                };
                let key = self.spa_key.trim();
                e.spa_key = if key.is_empty() && self.editing.is_some() {
                    None
                } else if key.is_empty() {
                    Some(t!("error-key-empty"))
                } else if UserKey::from_base64(key).is_err() {
                    Some(t!("error-key-bad"))
                } else {
                    None
                };
            }
            FormMethod::Fwknop => {
                e.spa_user = check_user(self.spa_user.trim()).err();
                e.spa_port = check_port(&self.spa_port).err();
                let (k, h) = (self.spa_key.trim(), self.fwknop_hmac_key.trim());
                let keep = k.is_empty() && h.is_empty() && self.editing.is_some();
                e.spa_key = (k.is_empty() && !keep).then(|| t!("form-fwknop-key-missing"));
                e.fwknop_hmac_key = (h.is_empty() && !keep).then(|| t!("form-fwknop-hmac-missing"));
                if !k.is_empty() && !h.is_empty() && self.fwknop_keys().is_err() {
                    e.fwknop_hmac_key = self.fwknop_keys().err();
                }
            }
        }
        e.connect = match self.connect {
            ConnectChoice::Url
                if !(self.connect_url.trim().starts_with("https://")
                    || self.connect_url.trim().starts_with("http://")) =>
            {
                Some(t!("error-url"))
            }
            ConnectChoice::Rdp | ConnectChoice::Ssh
                if !self.connect_user.trim().is_empty()
                    && check_user(self.connect_user.trim()).is_err() =>
            {
                Some(t!("error-connect-user"))
            }
            _ => None,
        };
        e
    }

    /// The fwknop keys typed in (checked like fwknop does).
    fn fwknop_keys(&self) -> Result<FwknopKeys, String> {
        let hmac = if self.fwknop_sha512 {
            HmacType::Sha512
        } else {
            HmacType::Sha256
        };
        FwknopKeys::from_base64(&self.spa_key, &self.fwknop_hmac_key, hmac)
            .map_err(|e| t!("form-fwknop-keys-bad", error = e.to_string()))
    }

    /// The profile to save and, for SPA, the key to put in the keyring
    /// (`None` keeps the saved one). An fwknop host carries its new keys
    /// inside its method (never written to disk; the caller moves them to
    /// the keyring). `new_id` is only used for a new
    /// sequence host (knockd has no server id; a random one keeps it apart).
    pub fn build(&self, new_id: ServerId) -> Result<(Profile, Option<UserKey>), String> {
        let errors = self.errors();
        if !errors.is_empty() {
            return Err(t!("error-form"));
        }
        let door_port = check_port(&self.door_port)?;
        let (method, server_id, key) = match self.method {
            FormMethod::Sequence => {
                let sequence = Sequence::parse(&self.sequence).map_err(|e| e.to_string())?;
                let delay_ms = self.delay_ms.trim().parse().unwrap_or(0);
                (
                    MethodSpec::StaticSequence { sequence, delay_ms },
                    self.base.as_ref().map_or(new_id, |b| b.server_id),
                    None,
                )
            }
            FormMethod::Spa => {
                let sid = ServerId::from_hex(self.spa_server.trim()).map_err(|e| e.to_string())?;
                let key = match self.spa_key.trim() {
                    "" => None,
                    k => Some(UserKey::from_base64(k).map_err(|e| e.to_string())?),
                };
                (
                    MethodSpec::Spa {
                        user: self.spa_user.trim().to_owned(),
                        key: None,
                        port: check_port(&self.spa_port)?,
                        transport: SpaTransport::Udp,
                        action: None,
                    },
                    sid,
                    key,
                )
            }
            FormMethod::Fwknop => {
                let keys = if self.spa_key.trim().is_empty() {
                    None
                } else {
                    Some(self.fwknop_keys()?)
                };
                let hmac = if self.fwknop_sha512 {
                    HmacType::Sha512
                } else {
                    HmacType::Sha256
                };
                (
                    MethodSpec::Fwknop {
                        user: self.spa_user.trim().to_owned(),
                        port: check_port(&self.spa_port)?,
                        hmac,
                        keys,
                    },
                    // Its own random id, kept when editing: the keyring
                    // account (fwknopd has no server id).
                    self.base.as_ref().map_or(new_id, |b| b.server_id),
                    None,
                )
            }
        };
        let user = match self.connect_user.trim() {
            "" => None,
            u => Some(u.to_owned()),
        };
        let launch = match self.connect {
            ConnectChoice::Nothing => None,
            ConnectChoice::Rdp => Some(Launch::Rdp { user }),
            ConnectChoice::Ssh => Some(Launch::Ssh { user }),
            ConnectChoice::Url => Some(Launch::Url {
                url: self.connect_url.trim().to_owned(),
            }),
        };
        let door = DoorSpec {
            proto: if self.door_udp {
                DoorProto::Udp
            } else {
                DoorProto::Tcp
            },
            port: door_port,
            duration: 30,
        };
        let mut p = match &self.base {
            Some(base) => (**base).clone(),
            None => Profile {
                version: PROFILE_VERSION,
                name: String::new(),
                host: String::new(),
                server_id,
                ip: IpPreference::Auto,
                allow: AllowMode::Source,
                doors: Vec::new(),
                method: MethodSpec::SynToken,
                decoys: DecoySettings {
                    count: 0,
                    jitter_ms: 0,
                },
                launch: None,
            },
        };
        p.name = self.name.trim().to_owned();
        p.host = self.address.trim().to_owned();
        p.server_id = server_id;
        match p.doors.first_mut() {
            Some(first) => {
                first.proto = door.proto;
                first.port = door.port;
            }
            None => p.doors.push(door),
        }
        let binds = matches!(method, MethodSpec::Spa { .. } | MethodSpec::Fwknop { .. });
        if !binds {
            p.allow = AllowMode::Source;
        } else if self.base.is_none() {
            // A new SPA host binds the knocker's address (protocol.md
            // §7.1); STUN servers then come from the app's settings.
            p.allow = AllowMode::auto();
        }
        p.method = method;
        p.launch = launch;
        // The same checks an imported profile gets.
        let mut checked = postern_client::import::checked_like_a_file(&p, "the new host")?;
        checked.method = p.method;
        Ok((checked, key))
    }
}
