//! `postern import-fwknoprc FILE`: an fwknop client's stanzas → saved
//! hosts with their keys in the keyring (postern_client::fwknop). Prints
//! what was saved, what was skipped and which options were not carried
//! over, each with its stanza's name.

use crate::commands::{host_store, read_text, secret_store};
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
    let r = rc::parse(&text, &me, &mut rand::rng())
        .with_context(|| format!("{}: nothing was saved", file.display()))?;
    if !r.hosts.is_empty() {
        save_all(&r.hosts, &host_store()?, &*secret_store(strict)?).context("nothing was saved")?;
    }
    for (p, _) in &r.hosts {
        let doors: Vec<String> = p.door_list().iter().map(ToString::to_string).collect();
        println!(
            "saved {:?}: fwknop to {} for {} ({})",
            p.name,
            p.host,
            doors.join(", "),
            allow_words(&p.allow)
        );
    }
    for (stanza, why) in &r.skipped {
        println!("skipped [{stanza}]: {why}");
    }
    for (stanza, option) in &r.not_carried {
        println!("[{stanza}]: {option} not carried over");
    }
    Ok(())
}

fn allow_words(a: &postern_proto::profile::AllowMode) -> String {
    use postern_proto::profile::AllowMode;
    match a {
        AllowMode::Source => "lets in the packet's source".into(),
        AllowMode::Explicit { address } => format!("lets in {address}"),
        AllowMode::Url { url, .. } => format!("lets in the address {url} reports"),
        AllowMode::Auto { .. } => "lets in this computer's address (found at knock time)".into(),
    }
}
