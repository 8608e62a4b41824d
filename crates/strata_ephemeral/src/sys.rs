//! The crate's only `unsafe` code: thin, documented wrappers over three libc
//! calls that std does not expose (effective uid, passwd lookup, and a
//! signal-0 liveness probe).
//!
//! The workspace denies `unsafe_code`; this module opts out locally because
//! there is no safe std equivalent, and keeps every unsafe block tiny.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;

/// Numeric identity of an OS user, as needed by
/// [`std::os::unix::process::CommandExt::uid`] / `gid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserIds {
    /// User id.
    pub(crate) uid: u32,
    /// Primary group id.
    pub(crate) gid: u32,
}

/// Whether this process runs with an effective uid of 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Looks up an OS user by name with the re-entrant `getpwnam_r`
/// (tests call this from many threads at once).
pub(crate) fn lookup_user(name: &str) -> io::Result<Option<UserIds>> {
    let cname = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name contains NUL"))?;
    // SAFETY: sysconf has no preconditions.
    let suggested = unsafe { libc::sysconf(libc::_SC_GETPW_R_SIZE_MAX) };
    let mut buf_len = usize::try_from(suggested)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(1024);
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: `passwd` is a plain C struct; all-zero is a valid bit pattern.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to live, correctly sized storage owned by
        // this frame; `buf.len()` is the true length of `buf`.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf_len < (1 << 20) {
            buf_len *= 2;
            continue;
        }
        if rc == libc::ENOENT || rc == libc::ESRCH {
            return Ok(None);
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Ok(None);
        }
        return Ok(Some(UserIds {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        }));
    }
}

/// Whether a process with this pid exists (`kill(pid, 0)`; EPERM means it
/// exists but belongs to someone else).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence/permission check.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
