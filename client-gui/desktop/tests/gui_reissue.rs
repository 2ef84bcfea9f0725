//! Profiles as an administrator hands them out, imported through the real
//! window (egui_kittest, no display): a sealed one through the passphrase
//! prompt, then the trust prompt; a re-issued one that updates the saved
//! host in place and says what changed.

mod gui_support;

use egui_kittest::kittest::Queryable;
use gui_support::*;
use postern_client::store::HostStore;
use postern_client::store::files::FileStore;
use postern_proto::UserKey;
use postern_proto::seal::{self, KdfCost};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const PASS: &str = "entitle mutiny disparity oppressed dental rewrap";

#[test]
fn a_sealed_profile_asks_the_passphrase_then_the_signer() {
    let dir = temp_dir("sealed");
    let admin = admin(1);
    let path = dir.join("office.postern");
    let cheap = KdfCost {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    let sealed = seal::seal(
        &signed_profile(&admin),
        PASS,
        cheap,
        &mut ChaCha20Rng::seed_from_u64(3),
    )
    .unwrap();
    std::fs::write(&path, sealed).unwrap();
    let mut h = harness(app(&dir, Fake::new(open_after(1)), Some(path)));
    h.get_by_label("Import profile…").click();
    h.run();
    h.get_by_label("Encrypted profile");
    assert!(
        h.query_by_label_contains("you will check who signed it")
            .is_some()
    );

    // A wrong passphrase: a plain message, the prompt again, nothing saved.
    type_into(&mut h, "Passphrase", "entitle mutiny");
    h.get_by_label("Import").click();
    h.run();
    assert!(
        h.query_by_label_contains("Wrong passphrase (or the file was changed); nothing was saved")
            .is_some()
    );
    h.get_by_label("Encrypted profile");
    assert!(FileStore::new(&dir).hosts().unwrap().is_empty());

    // Shown while typing, if asked; then the right words open it and the
    // trust prompt follows on from the passphrase.
    h.get_by_label("Show the passphrase").click();
    h.run();
    type_into(&mut h, "Passphrase", PASS);
    h.get_by_label("Import").click();
    h.run();
    h.get_by_label("Trust this administrator?");
    h.get_by_label("The passphrase was right. One more check before importing:");
    h.get_by_label(&admin.public().fingerprint().to_string());
    assert!(FileStore::new(&dir).hosts().unwrap().is_empty());
    h.get_by_label("Trust and import").click();
    h.run();
    h.get_by_label("Connect Office");
    assert!(h.query_by_label_contains("Imported Office").is_some());
}

#[test]
fn a_reissued_profile_updates_the_host_and_shows_what_changed() {
    let dir = temp_dir("reissue");
    let admin = admin(1);
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(&admin)).unwrap();
    let mut h = harness(app(&dir, Fake::new(open_after(1)), Some(path.clone())));
    h.get_by_label("Import profile…").click();
    h.run();
    h.get_by_label("Trust and import").click();
    h.run();
    h.get_by_label("Connect Office");

    // The administrator rotates the key and moves the door.
    let old_key = UserKey::from_bytes([9; 32]).to_base64();
    let new_key = UserKey::from_bytes([10; 32]).to_base64();
    let body = postern_proto::sign::verify_text(&signed_profile(&admin))
        .unwrap()
        .0
        .replace(&old_key, &new_key)
        .replace("port = 3389", "port = 3390");
    std::fs::write(&path, admin.sign_text(&body)).unwrap();
    h.get_by_label("Import profile…").click();
    h.run();
    assert!(
        h.query_by_label("Trust this administrator?").is_none(),
        "the trusted signer is not asked about again"
    );
    let fp = admin.public().fingerprint();
    h.get_by_label(&format!(
        "Updated Office (signed by {fp}): new key; port 3389 to 3390"
    ));
    let hosts = FileStore::new(&dir).hosts().unwrap();
    assert_eq!(hosts.len(), 1, "updated in place, not added");
    assert_eq!(hosts[0].doors[0].port, 3390);
}
