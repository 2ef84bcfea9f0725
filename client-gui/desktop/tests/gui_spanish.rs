//! The real window in Spanish (issue #18, "Spanish strings under a
//! Spanish locale"): the language comes from the saved settings, as a
//! user's choice would, and a change in Settings applies at once.
//!
//! The language is process-wide, so these tests run one at a time (the
//! `LANGUAGE` lock) and live in their own test binary, apart from the
//! English ones.

mod gui_support;

use egui_kittest::kittest::Queryable;
use gui_support::*;
use postern_desktop::i18n::LanguageChoice;
use postern_desktop::settings::{FileSettings, Settings, SettingsStore};
use std::path::Path;
use std::sync::Mutex;

static LANGUAGE: Mutex<()> = Mutex::new(());

fn save_language(dir: &Path, language: LanguageChoice) {
    let settings = Settings {
        language,
        ..Settings::default()
    };
    FileSettings::new(dir)
        .save_settings(&settings)
        .expect("settings saved");
}

#[test]
fn empty_state_in_spanish() {
    let _one = LANGUAGE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("es-empty");
    save_language(&dir, LanguageChoice::Spanish);
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.run();
    h.get_by_label("Todavía no hay servidores");
    h.get_by_label("Importar un archivo de perfil…");
    h.get_by_label("Añadir servidor a mano…");
    h.get_by_label("Ajustes");
    assert!(h.query_by_label("No servers yet").is_none());
}

/// A host card: its one button and its screen-reader name, the door's
/// state, progress, and the countdown after an open.
#[test]
fn host_card_in_spanish() {
    let _one = LANGUAGE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("es-card");
    save_language(&dir, LanguageChoice::Spanish);
    add_lab_host(&dir);
    let fake = Fake::new(open_after(42));
    let mut h = harness(app(&dir, fake.clone(), None));
    h.run();
    h.get_by_label("Conectar Lab");
    h.get_by_label("Cerrado");
    h.get_by_label("Más opciones de Lab").click();
    h.run();
    h.get_by_label("Solo llamar Lab").click();
    h.run();
    wait_for(&mut h, "Enviando el paquete 1 de 3");
    h.get_by_label("Cancelar llamada Lab");
    fake.go(4);
    wait_for(&mut h, "Abierto para ti durante 30 s: conéctate ya");
    wait_for(&mut h, "Lab  Abierto tras 42 ms");
    h.get_by_label("Copiar registro");
}

/// A dialog: Remove asks in Spanish, and Undo says so in Spanish.
#[test]
fn remove_dialog_in_spanish() {
    let _one = LANGUAGE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("es-remove");
    save_language(&dir, LanguageChoice::Spanish);
    add_lab_host(&dir);
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.get_by_label("Más opciones de Lab").click();
    h.run();
    h.get_by_label("Quitar Lab").click();
    h.run();
    h.get_by_label("¿Quitar Lab?");
    h.get_by_label("Conservar");
    assert!(
        h.query_by_label_contains("hasta que cierres Postern")
            .is_some()
    );
    h.get_by_label("Quitar").click();
    h.run();
    h.get_by_label("Todavía no hay servidores");
    h.get_by_label("Deshacer").click();
    h.run();
    assert!(h.query_by_label_contains("Lab ha vuelto").is_some());
}

/// The Language choice in Settings is saved with the other settings and
/// applies as soon as it is saved, both ways.
#[test]
fn choosing_a_language_in_settings_applies_at_once() {
    let _one = LANGUAGE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("es-switch");
    save_language(&dir, LanguageChoice::English);
    add_lab_host(&dir);
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.get_by_label("Connect Lab");
    h.get_by_label("Settings").click();
    h.run();
    h.get_by_label("Language");
    // Chosen as a screen reader would (the accessibility action).
    h.get_by_label("Español").click_accesskit();
    h.run();
    h.get_by_label("Save").click();
    h.run();
    h.get_by_label("Ajustes guardados");
    h.get_by_label("Conectar Lab");
    let saved = FileSettings::new(&dir).load_settings().unwrap();
    assert_eq!(saved.language, LanguageChoice::Spanish);
    let text = std::fs::read_to_string(dir.join("gui-settings.toml")).unwrap();
    assert!(text.contains("language = \"es\""), "{text}");
    h.get_by_label("Ajustes").click();
    h.run();
    h.get_by_label("Idioma");
    h.get_by_label("English").click_accesskit();
    h.run();
    h.get_by_label("Guardar").click();
    h.run();
    h.get_by_label("Settings saved");
    h.get_by_label("Connect Lab");
}
