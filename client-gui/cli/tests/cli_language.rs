//! The real `postern` speaks the POSIX locale's language: Spanish under
//! `LANG=es_ES.UTF-8`, and under `LC_ALL=C.UTF-8` (what scripts/test.sh
//! and scripts set) the English that scripts parse, whatever `LANG` says.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");

/// Which locale a run gets; every other locale variable is removed, so
/// the developer's own settings do not leak in.
#[derive(Clone, Copy)]
enum Locale {
    /// `LANG=es_ES.UTF-8`, nothing else.
    Spanish,
    /// `LC_ALL=C.UTF-8` over `LANG=es_ES.UTF-8`: LC_ALL wins.
    C,
}

fn run(config: &Path, locale: Locale, args: &[&str]) -> Output {
    let mut cmd = Command::new(POSTERN);
    cmd.env("POSTERN_CONFIG_DIR", config)
        .env("POSTERN_SECRETS", "file")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANGUAGE")
        .env("LANG", "es_ES.UTF-8")
        .args(args)
        .stdin(Stdio::null());
    if let Locale::C = locale {
        cmd.env("LC_ALL", "C.UTF-8");
    }
    cmd.output().expect("running postern")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("postern-lang-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An unsigned profile knocking UDP ports on loopback (nothing is harmed)
/// whose TCP door is a loopback port nobody listens on: `--verify` finds
/// it closed.
fn closed_door_profile(dir: &Path) -> String {
    let door = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback TCP port");
        l.local_addr().expect("its port").port()
    };
    let profile = dir.join("loop.postern");
    std::fs::write(
        &profile,
        format!(
            "version = 1\nname = \"Loop\"\nhost = \"127.0.0.1\"\n\
             server_id = \"00112233445566778899aabbccddeeff\"\n\
             [[door]]\nproto = \"tcp\"\nport = {door}\n\
             [method]\nkind = \"static-sequence\"\n\
             sequence = \"7011:udp,7012:udp,7013:udp\"\n"
        ),
    )
    .expect("writing the profile");
    profile.to_str().expect("a UTF-8 path").to_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `postern list`, an unsigned import without --yes, a knock whose door
/// stays closed and one that cannot find an address, in `locale`: what
/// each printed (stdout, stderr) and its exit code.
fn four_commands(tag: &str, locale: Locale) -> Vec<(String, String, Option<i32>)> {
    let dir = TempDir::new(tag);
    let config = dir.0.join("config");
    let profile = closed_door_profile(&dir.0);
    let runs = [
        vec!["list"],
        vec!["import", &profile],
        vec![
            "knock",
            &profile,
            "--verify",
            "--no-reknock",
            "--deadline-ms",
            "300",
        ],
        // 127.0.0.1 over IPv6 only: no address to knock, found without
        // asking any name server.
        vec!["knock", &profile, "-6"],
    ];
    runs.iter()
        .map(|args| {
            let out = run(&config, locale, args);
            (text(&out.stdout), text(&out.stderr), out.status.code())
        })
        .collect()
}

fn assert_has(what: &str, haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "{what}: no {needle:?} in:\n{haystack}"
    );
}

#[test]
fn spanish_under_lang_es() {
    let r = four_commands("es", Locale::Spanish);
    let (out, _, code) = &r[0];
    assert_eq!(*code, Some(0));
    assert_eq!(
        out,
        "no hay servidores guardados; añade uno con `postern import ARCHIVO`\n"
    );

    let (_, err, code) = &r[1];
    assert_eq!(*code, Some(2), "{err}");
    assert_has(
        "import",
        err,
        "postern: \"Loop\" NO está firmado: cualquiera podría haberlo escrito.",
    );
    assert_has("import", err, "postern: no se puede importar ");
    assert_has(
        "import",
        err,
        ". Impórtalo con --yes solo si sabes de dónde viene\n",
    );

    let (out, err, code) = &r[2];
    assert_eq!(*code, Some(1), "{out}{err}");
    assert_has(
        "knock",
        out,
        "vinculado a ninguna dirección: abre para cualquier dirección que llame",
    );
    assert_has("knock", err, "postern: llamando a \"Loop\" en 127.0.0.1 (");
    assert_has(
        "knock",
        err,
        "postern: Loop: sigue cerrado: comprueba que la hora de tu equipo es correcta",
    );
    assert!(!err.contains("still closed"), "{err}");

    let (_, err, code) = &r[3];
    assert_eq!(*code, Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(
        lines[0],
        "postern: No se encontró el nombre del servidor. Comprueba que tienes conexión; \
         si vuelve a pasar, pregunta a tu administrador."
    );
    // The library's error follows as it is (English technical detail).
    assert_has("knock -6", lines[1], "127.0.0.1");
}

#[test]
fn english_under_lc_all_c_whatever_lang_says() {
    let r = four_commands("c", Locale::C);
    let (out, _, code) = &r[0];
    assert_eq!(*code, Some(0));
    assert_eq!(out, "no saved hosts; add one with `postern import FILE`\n");

    let (_, err, code) = &r[1];
    assert_eq!(*code, Some(2), "{err}");
    assert_has(
        "import",
        err,
        "postern: \"Loop\" is NOT signed: anyone could have written it.\n",
    );
    assert_has("import", err, "postern: cannot import ");
    assert_has(
        "import",
        err,
        ". Import it with --yes only if you know where it came from\n",
    );

    let (out, err, code) = &r[2];
    assert_eq!(*code, Some(1), "{out}{err}");
    assert_eq!(
        out,
        "bound to no address: opens for whichever address knocks\n"
    );
    assert_has(
        "knock",
        err,
        "postern: knocking \"Loop\" at 127.0.0.1 (sequence)\n",
    );
    assert_has(
        "knock",
        err,
        "postern: Loop: still closed — check that your clock is right and your profile is current\n",
    );

    let (_, err, code) = &r[3];
    assert_eq!(*code, Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(
        lines[0],
        "postern: The server's name could not be found. Check that you are online; \
         if it keeps happening, ask your administrator."
    );
    assert_has("knock -6", lines[1], "127.0.0.1");
}
