//! Administrators + SYSTEM only: the DACL of every file and folder Postern
//! writes holding keys, users or replay state, set explicitly when it is
//! created (a protected DACL, so nothing is inherited from
//! `%ProgramData%`, whose default lets every user read).

use crate::platform::windows_service_spec::ADMIN_ONLY_SDDL;
use anyhow::{Context, Result};
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows::Win32::Foundation::{HLOCAL, LocalFree};
use windows::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1, SE_FILE_OBJECT,
    SetNamedSecurityInfoW,
};
use windows::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, GetSecurityDescriptorDacl, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR,
};
use windows::core::{BOOL, PCWSTR, PWSTR};

fn wide(s: impl AsRef<std::ffi::OsStr>) -> Vec<u16> {
    s.as_ref().encode_wide().chain(std::iter::once(0)).collect()
}

/// A security descriptor from SDDL, freed on drop.
pub(crate) struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    pub(crate) fn from_sddl(sddl: &str) -> Result<Descriptor> {
        let text = wide(sddl);
        let mut sd = PSECURITY_DESCRIPTOR::default();
        // SAFETY: `text` is NUL-terminated and outlives the call; `sd`
        // receives a LocalAlloc'd descriptor we free in Drop.
        unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                PCWSTR(text.as_ptr()),
                SDDL_REVISION_1,
                &mut sd,
                None,
            )
        }
        .with_context(|| format!("building the security descriptor {sddl}"))?;
        Ok(Descriptor(sd))
    }

    pub(crate) fn as_ptr(&self) -> PSECURITY_DESCRIPTOR {
        self.0
    }

    fn dacl(&self) -> Result<*mut ACL> {
        let mut present = BOOL(0);
        let mut defaulted = BOOL(0);
        let mut dacl: *mut ACL = std::ptr::null_mut();
        // SAFETY: the descriptor is valid while self lives; the DACL
        // pointer points into it.
        unsafe { GetSecurityDescriptorDacl(self.0, &mut present, &mut dacl, &mut defaulted) }
            .context("reading the DACL")?;
        Ok(dacl)
    }
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptor... with
        // LocalAlloc, freed once.
        unsafe {
            let _ = LocalFree(Some(HLOCAL(self.0.0)));
        }
    }
}

/// Gives `path` (file or folder) a protected DACL: full control for
/// SYSTEM and Administrators, nobody else. Folders pass it on to what is
/// created inside them.
pub fn restrict(path: &Path) -> Result<()> {
    let sd = Descriptor::from_sddl(ADMIN_ONLY_SDDL)?;
    let dacl = sd.dacl()?;
    let mut name = wide(path.as_os_str());
    // SAFETY: `name` is NUL-terminated and mutable as the API wants; the
    // DACL lives in `sd` for the call.
    let err = unsafe {
        SetNamedSecurityInfoW(
            PWSTR(name.as_mut_ptr()),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            None,
            None,
            Some(dacl),
            None,
        )
    };
    if err.is_err() {
        return Err(std::io::Error::from_raw_os_error(err.0 as i32)).with_context(|| {
            format!(
                "restricting {} to Administrators and SYSTEM",
                path.display()
            )
        });
    }
    Ok(())
}

/// Creates `dir` (and parents) and restricts it.
pub fn create_restricted_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    restrict(dir)
}
