//! `rawrt::sys::signal`: rt_sigaction and rt_sigprocmask.

use rawrt::check::{child, Ended};
use rawrt::println;
use rawrt::sys::process;
use rawrt::sys::signal::{
    self, SigAction, SigSet, SA_RESTART, SIGKILL, SIGTERM, SIGUSR1, SIGUSR2, SIG_BLOCK, SIG_DFL,
    SIG_IGN, SIG_SETMASK, SIG_UNBLOCK,
};
use rawrt::sys::{consts as c, Errno};

fn raise(sig: u32) {
    process::tgkill(process::getpid(), process::gettid(), sig).unwrap();
}

/// `rt_sigaction` through its unsafe wrapper; every action used here is
/// `SIG_IGN` or `SIG_DFL`, which need no handler code.
fn sigaction(sig: u32, new: Option<&SigAction>) -> Result<SigAction, Errno> {
    // SAFETY: no handler address is ever installed.
    unsafe { signal::rt_sigaction(sig, new) }
}

pub fn rt_sigaction_ignore_read_back_restore() {
    let o = child(|| {
        // The rest (a restorer field) exists on x86_64 and aarch64 only.
        #[allow(clippy::needless_update)]
        let ign = SigAction {
            handler: SIG_IGN,
            flags: SA_RESTART as u64,
            mask: SigSet::only(SIGUSR2),
            ..Default::default()
        };
        let old = sigaction(SIGUSR1, Some(&ign)).unwrap();
        assert_eq!(old.handler, SIG_DFL, "the old action comes back");
        let now = sigaction(SIGUSR1, None).unwrap();
        assert_eq!(now.handler, SIG_IGN);
        assert_eq!(now.flags & SA_RESTART as u64, SA_RESTART as u64, "flags read back");
        assert_eq!(now.mask, SigSet::only(SIGUSR2), "mask reads back");
        raise(SIGUSR1);
        println!("survived");
        let dfl = SigAction { handler: SIG_DFL, ..Default::default() };
        assert_eq!(sigaction(SIGUSR1, Some(&dfl)).unwrap().handler, SIG_IGN);
        raise(SIGUSR1);
        1
    });
    assert_eq!(o.stdout(), "survived\n", "{}", o.stderr());
    assert_eq!(o.ended, Ended::Signaled(SIGUSR1 as i32), "the default action is back");
}

pub fn rt_sigaction_errors() {
    let ign = SigAction { handler: SIG_IGN, ..Default::default() };
    assert_eq!(sigaction(SIGKILL, Some(&ign)).map(|a| a.handler), Err(Errno::EINVAL));
    assert_eq!(sigaction(c::SIGSTOP, Some(&ign)).map(|a| a.handler), Err(Errno::EINVAL));
    // Reading SIGKILL's action is allowed.
    assert_eq!(sigaction(SIGKILL, None).map(|a| a.handler), Ok(SIG_DFL));
    assert_eq!(sigaction(0, None).map(|a| a.handler), Err(Errno::EINVAL));
    assert_eq!(sigaction(65, None).map(|a| a.handler), Err(Errno::EINVAL));
}

pub fn rt_sigprocmask_block_raise_unblock() {
    let o = child(|| {
        let old = signal::rt_sigprocmask(SIG_BLOCK, Some(&SigSet::only(SIGUSR1))).unwrap();
        assert!(!old.has(SIGUSR1));
        raise(SIGUSR1);
        // `how` is ignored without a set: this only reads the mask.
        let now = signal::rt_sigprocmask(SIG_BLOCK, None).unwrap();
        assert!(now.has(SIGUSR1), "mask read back: {:?}", now);
        println!("pending");
        // Unblocking delivers the pending signal before the call returns.
        let _ = signal::rt_sigprocmask(SIG_UNBLOCK, Some(&SigSet::only(SIGUSR1)));
        println!("not reached");
        1
    });
    assert_eq!(o.stdout(), "pending\n", "{}", o.stderr());
    assert_eq!(o.ended, Ended::Signaled(SIGUSR1 as i32));
}

pub fn rt_sigprocmask_setmask_and_errors() {
    let o = child(|| {
        let old = signal::rt_sigprocmask(SIG_SETMASK, Some(&SigSet::FULL)).unwrap();
        assert_eq!(old, SigSet(0));
        let now = signal::rt_sigprocmask(SIG_SETMASK, Some(&old)).unwrap();
        assert!(now.has(SIGUSR2) && now.has(SIGTERM) && now.has(SIGUSR1));
        assert!(
            !now.has(SIGKILL) && !now.has(c::SIGSTOP),
            "KILL and STOP cannot be blocked: {:?}",
            now
        );
        assert_eq!(signal::rt_sigprocmask(SIG_BLOCK, None), Ok(SigSet(0)), "restored");
        assert_eq!(signal::rt_sigprocmask(99, Some(&SigSet::only(SIGUSR1))), Err(Errno::EINVAL));
        0
    });
    assert_eq!(o.ended, Ended::Exited(0), "{}", o.stderr());
}
