//! Small facts about this machine.

/// The running kernel's release (`uname -r`), or `unknown`.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}
