//! Opening a `.postern` file: `postern-desktop FILE` (a double-click in a
//! file manager) and a file a later launch hands to the open window go
//! straight to the import dialog — the signer's fingerprint and the trust
//! question, the same flow as the Import button.

mod gui_support;

use egui_kittest::kittest::Queryable;
use gui_support::*;
use postern_client::store::HostStore;
use postern_client::store::files::FileStore;
use postern_desktop::single_instance;

#[test]
fn starting_with_a_profile_asks_about_its_signer_and_imports_it() {
    let dir = temp_dir("open-file");
    let admin = admin(1);
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(&admin)).unwrap();
    let fp = admin.public().fingerprint().to_string();
    // No file dialog: the path comes from the command line.
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None).open_files([path]));
    h.run();
    h.get_by_label("Trust this administrator?");
    h.get_by_label(&fp);
    assert!(FileStore::new(&dir).hosts().unwrap().is_empty());
    h.get_by_label("Trust and import").click();
    h.run();
    h.get_by_label("Connect Office");
    assert!(h.query_by_label_contains("Imported Office").is_some());
    let hosts = FileStore::new(&dir).hosts().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].name, "Office");
}

#[test]
fn a_profile_handed_over_by_a_second_launch_opens_in_the_window() {
    let dir = temp_dir("handover");
    let admin = admin(2);
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(&admin)).unwrap();
    let fp = admin.public().fingerprint().to_string();
    let listener = single_instance::listen(&dir).unwrap();
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None).with_listener(listener));
    h.run();
    h.get_by_label("No servers yet");
    // What `postern-desktop office.postern` does while this window is open.
    assert!(single_instance::hand_over(&dir, &[path]));
    wait_for(&mut h, "Trust this administrator?");
    h.get_by_label(&fp);
    h.get_by_label("Trust and import").click();
    h.run();
    h.get_by_label("Connect Office");
    assert_eq!(FileStore::new(&dir).hosts().unwrap().len(), 1);
}
