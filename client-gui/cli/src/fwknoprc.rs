//! `postern import-fwknoprc FILE`: an fwknop client's stanzas → saved
//! hosts with their keys in the keyring (postern_client::fwknop). Prints
//! what was saved, what was skipped and which options were not carried
//! over, each with its stanza's name.

use crate::commands::{host_store, read_text, secret_store};
use crate::i18n::t;
use anyhow::Context;
use postern_client::fwknop::{rc, save_all};
use std::path::Path;
use zeroize::Zeroizing;

pub fn run(file: &Path, strict: bool) -> anyhow::Result<()> {
    let text = Zeroizing::new(read_text(file)?);
    // fwknop sends the login name when a stanza has no SPOOF_USER.
    let me = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "root".to_owned());
    let r = rc::parse(&text, &me, &mut rand::rng()).with_context(|| {
        t!(
            "fwknoprc-nothing-saved-from",
            file = file.display().to_string()
        )
    })?;
    if !r.hosts.is_empty() {
        save_all(&r.hosts, &host_store()?, &*secret_store(strict)?)
            .with_context(|| t!("fwknoprc-nothing-saved"))?;
    }
    for (p, _) in &r.hosts {
        let doors: Vec<String> = p.door_list().iter().map(ToString::to_string).collect();
        let line = t!(
            "fwknoprc-saved",
            name = format!("{:?}", p.name),
            host = p.host.as_str(),
            doors = doors.join(", "),
            allow = allow_words(&p.allow)
        );
        println!("{line}");
    }
    // Why a stanza was skipped and the option names are the library's
    // (English, like its errors).
    for (stanza, why) in &r.skipped {
        let line = t!(
            "fwknoprc-skipped",
            stanza = stanza.as_str(),
            why = why.as_str()
        );
        println!("{line}");
    }
    for (stanza, option) in &r.not_carried {
        let line = t!(
            "fwknoprc-not-carried",
            stanza = stanza.as_str(),
            option = option.as_str()
        );
        println!("{line}");
    }
    Ok(())
}

fn allow_words(a: &postern_proto::profile::AllowMode) -> String {
    use postern_proto::profile::AllowMode;
    match a {
        AllowMode::Source => t!("allow-source"),
        AllowMode::Explicit { address } => t!("allow-explicit", address = address.to_string()),
        AllowMode::Url { url, .. } => t!("allow-url", url = url.as_str()),
        AllowMode::Auto { .. } => t!("allow-auto"),
    }
}
