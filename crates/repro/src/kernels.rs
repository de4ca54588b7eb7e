//! `repro kernels`: the canary under other Linux kernels, each booted in
//! QEMU with this machine's root shared into it.
//!
//! A bug that lives between a runtime and the kernel (epoll's interest list
//! shared across `fork()`, a futex left locked, a signal's wakeup byte) can
//! start or stop reproducing with a new kernel as with a new CPython. The
//! host's kernel is only one; this command runs `repro canary` inside each
//! kernel that `ci/kernels.sh` prepared (`target/kernels/`), and reports
//! the cells of every kernel side by side, drift against `scenario.toml`
//! (whose overrides can be keyed by `kernel` range) included.
//!
//! * **The guest** is hand-made, not a general runner (see the README for
//!   the comparison with virtme-ng): the kernel, an initramfs of static
//!   busybox and the modules for virtio, 9p and overlay, and
//!   `ci/guest-init.sh` as `/init`. The host's `/` is shared read-only over
//!   9p under a RAM overlay, so the checkout, its `target/`, the
//!   interpreters and their environments are at the same paths inside; one
//!   writable share, at the same path on both sides, carries the job in and
//!   the records out. Nothing is mounted on the host.
//! * **Each VM runs alone**, in its own process group, owned by the
//!   supervisor ([`harness::supervisor::Owned`]): killed by its pid when it
//!   overruns `--vm-timeout`, killed with everything else on Ctrl-C, and its
//!   share (`<out>/.<release>.partial`) removed; renamed to `<out>/<release>`
//!   only when the VM has finished.
//! * **Acceleration**: KVM where it really works, found by booting the
//!   first kernel under it with a short deadline; else TCG. Every deadline
//!   in the guest scales with one factor (`REPRO_TIME_FACTOR`), larger
//!   under TCG, so that a slow guest never turns a verdict into `hung` or
//!   `error`.

use crate::canary::{self, Cell};
use crate::cli::KernelsArgs;
use crate::exit::{self, RunError, Usage};
use crate::output::Out;
use crate::registry;
use harness::record::{Record, Verdict};
use harness::supervisor::{Owned, Scratch};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A kernel `ci/kernels.sh` prepared: `vmlinuz`, `initramfs.img`, `release`.
struct Kernel {
    dir: PathBuf,
    release: String,
    /// The Debian line it is the newest of (`bookworm-6.1`), or `custom`.
    line: String,
}

impl Kernel {
    fn load(dir: &Path) -> Result<Kernel, String> {
        if !dir.join(".repro-kernel").is_file() {
            return Err(format!(
                "{}: not a kernel ci/kernels.sh prepared (no .repro-kernel)",
                dir.display()
            ));
        }
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("{}/{f}: {e}", dir.display()))
        };
        for f in ["vmlinuz", "initramfs.img"] {
            if !dir.join(f).is_file() {
                return Err(format!("{}: no {f}", dir.display()));
            }
        }
        Ok(Kernel {
            dir: dir.to_owned(),
            release: read("release")?,
            line: read("line").unwrap_or_else(|_| "custom".into()),
        })
    }
}

/// How the guests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    /// The default time factor: TCG is 6 to 20 times slower than the host
    /// (measured here); KVM close to it.
    fn time_factor(self) -> f64 {
        match self {
            Accel::Kvm => 2.0,
            Accel::Tcg => 10.0,
        }
    }
}

/// What one boot produced.
struct Boot {
    /// Seconds from QEMU's start to the guest's root being up.
    boot_s: Option<f64>,
    elapsed_s: f64,
    /// The job's exit status, when the guest wrote one.
    exit: Option<i32>,
    /// Why the boot produced no result (a deadline, QEMU's own failure).
    failure: Option<String>,
}

/// The QEMU command line for `kernel`, sharing `/` read-only and `share`
/// writable.
fn qemu(kernel: &Kernel, accel: Accel, share: &Path, memory_mib: u32) -> Command {
    let mut cmd = Command::new("qemu-system-x86_64");
    match accel {
        Accel::Kvm => cmd.args(["-accel", "kvm", "-cpu", "host"]),
        Accel::Tcg => cmd.args(["-accel", "tcg,thread=multi", "-cpu", "max"]),
    };
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    cmd.args(["-m", &format!("{memory_mib}M"), "-smp", &cpus.to_string()])
        .args(["-nodefaults", "-display", "none", "-monitor", "none"])
        .args(["-no-reboot", "-nic", "none"])
        .arg("-serial")
        .arg(format!("file:{}", share.join("console.log").display()))
        .arg("-kernel")
        .arg(kernel.dir.join("vmlinuz"))
        .arg("-initrd")
        .arg(kernel.dir.join("initramfs.img"))
        .arg("-append")
        .arg(format!(
            "console=ttyS0 panic=-1 quiet repro.out={}",
            share.display()
        ))
        // multidevs=remap: the host's / spans several file systems (proc
        // and sysfs both have inode 1: without it the guest's /proc showed
        // sysfs).
        .args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ])
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=out,security_model=none",
            share.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// A pidfd for `pid`: readable when it exits.
fn pidfd(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd it returns is ours alone.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from pidfd_open.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Boots `kernel` with `job.sh` already in `share`, waits for it to power
/// off or for `deadline`, and reports progress (the last line of the job's
/// log, when it changes) through `progress`.
fn boot(
    kernel: &Kernel,
    accel: Accel,
    share: &Path,
    memory_mib: u32,
    deadline: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<Boot, String> {
    let start = Instant::now();
    let mut vm = Owned::spawn(qemu(kernel, accel, share, memory_mib), share)
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let exited = pidfd(vm.child.id()).map_err(|e| format!("pidfd_open: {e}"))?;
    let mut boot_s = None;
    let mut last = String::new();
    let finished = loop {
        // One second at most between looks at the guest's progress; the
        // VM's exit wakes this at once.
        let mut fds = [nix::poll::PollFd::new(
            exited.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16));
        if boot_s.is_none() && share.join("booted").exists() {
            boot_s = Some(start.elapsed().as_secs_f64());
            progress("up");
        }
        if let Some(line) = last_line(&share.join("job.log")) {
            if line != last {
                progress(&line);
                last = line;
            }
        }
        if let Ok(Some(status)) = vm.child.try_wait() {
            break Ok(status);
        }
        if start.elapsed() > deadline {
            vm.kill();
            break Err(format!(
                "overran its deadline of {:.0} s (--vm-timeout): killed",
                deadline.as_secs_f64()
            ));
        }
    };
    // Killed by the Ctrl-C clean-up: that exits the process, not us.
    harness::supervisor::park_if_interrupted();
    let mut qemu_err = String::new();
    if let Some(mut e) = vm.child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut qemu_err);
    }
    drop(vm);
    let exit = std::fs::read_to_string(share.join("exit"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let failure = match (&finished, exit) {
        (Err(why), _) => Some(why.clone()),
        (Ok(_), Some(_)) => None,
        (Ok(status), None) => Some(format!(
            "the guest wrote no exit status (qemu: {status}{}); console: {}",
            first_line(&qemu_err).map_or(String::new(), |l| format!(", {l}")),
            last_line(&share.join("console.log")).unwrap_or_default()
        )),
    };
    Ok(Boot {
        boot_s,
        elapsed_s: start.elapsed().as_secs_f64(),
        exit,
        failure,
    })
}

fn first_line(s: &str) -> Option<String> {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

fn last_line(path: &Path) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .last()
        .map(|l| l.trim().to_owned())
}

/// Quotes `s` for the guest's `/bin/sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Writes `share/job.sh`: `repro canary` over the given columns, its
/// reports into `share/canary`.
fn write_job(share: &Path, canary_args: &[String], factor: f64) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let root = registry::root();
    let mut job = String::from("# Written by repro kernels; run by ci/guest-init.sh.\n");
    job.push_str(&format!(
        "cd {} || exit 125\n",
        sh_quote(&root.to_string_lossy())
    ));
    job.push_str(&format!(
        "export {}={factor} REPRO_ROOT={}\n",
        harness::hang::TIME_FACTOR_ENV,
        sh_quote(&root.to_string_lossy())
    ));
    job.push_str("uname -r > \"$(dirname \"$0\")/uname\"\n");
    let mut line = sh_quote(&exe.to_string_lossy());
    for a in canary_args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    line.push_str(&format!(
        " --out {}",
        sh_quote(&share.join("canary").to_string_lossy())
    ));
    job.push_str(&format!("exec {line}\n"));
    std::fs::write(share.join("job.sh"), job)
}

/// Finds whether KVM really works here: boots `kernel` under it with a job
/// that only answers, within `deadline`. Anything else (no /dev/kvm,
/// QEMU refusing, a guest that never comes up) means TCG.
fn kvm_works(kernel: &Kernel, out: &Path, deadline: Duration) -> (bool, String) {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return (false, "no usable /dev/kvm".into());
    }
    let dir = out.join(format!(".kvm-probe-{}", std::process::id()));
    let Ok(share) = Scratch::create(&dir) else {
        return (false, "cannot make the probe's share".into());
    };
    let booted = std::fs::write(share.path().join("job.sh"), "true\n")
        .map_err(|e| format!("cannot write the probe's job: {e}"))
        .and_then(|()| boot(kernel, Accel::Kvm, share.path(), 512, deadline, &mut |_| {}));
    let _ = std::fs::remove_dir_all(share.path());
    match booted {
        Ok(b) if b.exit == Some(0) => (true, format!("a probe booted in {:.1} s", b.elapsed_s)),
        Ok(b) => (
            false,
            format!(
                "a probe under KVM failed: {}",
                b.failure.unwrap_or_else(|| "no answer".into())
            ),
        ),
        Err(e) => (false, e),
    }
}

/// A cell of the canary inside a guest.
struct GuestCell {
    /// `scenario / variant`.
    row: String,
    /// The inner canary's column label (`rust`, `py3.11.7`, `emb3.11.7`).
    column: String,
    drift: Option<&'static str>,
    record: Record,
}

/// One kernel's result.
struct Run {
    kernel: usize,
    round: u32,
    boot: Option<Boot>,
    /// The guest's `uname -r`.
    uname: Option<String>,
    cells: Vec<GuestCell>,
    failure: Option<String>,
}

/// Reads the inner canary's `matrix.json`.
fn inner_cells(path: &Path) -> Result<Vec<GuestCell>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let cells = v["cells"]
        .as_array()
        .ok_or_else(|| format!("{}: no cells", path.display()))?;
    cells
        .iter()
        .map(|c| {
            let record: Record = serde_json::from_value(c["record"].clone())
                .map_err(|e| format!("{}: a record: {e}", path.display()))?;
            // Drift as the guest judged it (its kernel, its expectations),
            // recomputed from the record: one definition.
            let drift = canary::drift(&record);
            Ok(GuestCell {
                row: c["row"].as_str().unwrap_or("?").to_owned(),
                column: c["column"].as_str().unwrap_or("?").to_owned(),
                drift,
                record,
            })
        })
        .collect()
}

/// The kernels to boot: `--kernel` directories, else those `ci/kernels.sh`
/// last prepared (`target/kernels/ready`).
fn kernels(args: &KernelsArgs, root: &Path) -> Result<Vec<Kernel>, Usage> {
    let dirs: Vec<PathBuf> = if args.kernel.is_empty() {
        let ready = root.join("target").join("kernels").join("ready");
        let text = std::fs::read_to_string(&ready).map_err(|_| {
            Usage(format!(
                "no kernels prepared ({} is missing): run `make canary-kernels`, or \
                 ci/kernels.sh, first",
                ready.display()
            ))
        })?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(PathBuf::from)
            .collect()
    } else {
        args.kernel.clone()
    };
    let kernels: Vec<Kernel> = dirs
        .iter()
        .map(|d| Kernel::load(d).map_err(|e| Usage(format!("--kernel {e}"))))
        .collect::<Result<_, _>>()?;
    if kernels.is_empty() {
        return Err(Usage("no kernels to boot".into()));
    }
    Ok(kernels)
}

/// The inner canary's arguments: the columns, the selection, the
/// expectations.
fn canary_args(args: &KernelsArgs, root: &Path, log: &mut dyn Write) -> Result<Vec<String>, Usage> {
    let runtimes = crate::run::runtimes(&args.runtime)?;
    // --no-envs: each python named below is its environment already, made
    // (and its requirements installed) on the host: the guest has no
    // network to install anything with.
    let mut a: Vec<String> = vec!["canary".into(), "--no-discover".into(), "--no-envs".into()];
    a.extend(["--runtime".into(), args.runtime.clone()]);
    if let Some(s) = &args.scenario {
        a.extend(["--scenario".into(), s.clone()]);
    }
    for t in &args.scenario_toml {
        let abs = std::fs::canonicalize(t)
            .map_err(|e| Usage(format!("--scenario-toml {}: {e}", t.display())))?;
        a.extend(["--scenario-toml".into(), abs.to_string_lossy().into_owned()]);
    }
    a.extend(["--timeout".into(), args.timeout.to_string()]);
    if !runtimes.contains(&harness::record::Runtime::Python) {
        return Ok(a);
    }
    // The python columns: the default interpreter in the canary's
    // environment for it (made here, on the host: the guest has no
    // network), with --provisioned every interpreter `make interpreters`
    // provisioned (each a virtual environment already), and any --python.
    let mut pythons: Vec<PathBuf> = Vec::new();
    match crate::run::python_for(None, true)?.path {
        Ok(p) => match harness::python::check_full(&p) {
            Ok(found) => match canary::environment(root, &found) {
                Ok((env, missing)) => {
                    if let Some(m) = missing {
                        let _ = writeln!(log, "kernels: {}: not installed: {m}", p.display());
                    }
                    pythons.push(env);
                }
                Err(why) => {
                    let _ = writeln!(log, "kernels: {}: no environment ({why})", p.display());
                    pythons.push(p);
                }
            },
            Err(e) => {
                let _ = writeln!(log, "kernels: default python: {e}");
            }
        },
        Err(e) => {
            let _ = writeln!(log, "kernels: no default python: {e}");
        }
    }
    if args.provisioned {
        pythons.extend(harness::python::provisioned(root).paths);
    }
    for p in &args.python {
        pythons.push(harness::python::resolve(p, root));
    }
    for p in pythons {
        // Absolute, symlinks kept (a venv's python is one).
        let abs = std::path::absolute(&p).unwrap_or(p);
        a.extend(["--python".into(), abs.to_string_lossy().into_owned()]);
    }
    Ok(a)
}

/// Runs `repro kernels` and returns the exit code.
///
/// # Errors
/// A usage error before anything ran, or an I/O error writing the reports.
pub fn exec(args: &KernelsArgs, out: &mut Out) -> Result<u8, RunError> {
    let start = Instant::now();
    let root = registry::root();
    let accel = match args.accel.as_str() {
        "kvm" => Some(Accel::Kvm),
        "tcg" => Some(Accel::Tcg),
        "auto" => None,
        other => {
            return Err(RunError::Usage(Usage(format!(
                "--accel {other:?} (valid: auto, kvm, tcg)"
            ))));
        }
    };
    // The selection is checked here, on the host, before any boot.
    let scenarios = registry::load_with(&args.scenario_toml)
        .map_err(|e| RunError::Usage(Usage(e.to_string())))?;
    if let Some(id) = &args.scenario {
        if !scenarios.iter().any(|s| &s.spec.id == id) {
            return Err(RunError::Usage(Usage(format!("unknown scenario {id:?}"))));
        }
    }
    let kernels = kernels(args, &root).map_err(RunError::Usage)?;
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Err(RunError::Usage(Usage(
            "qemu-system-x86_64 not found (ci/kernels.sh installs it: apt-get install \
             qemu-system-x86)"
                .into(),
        )));
    }
    let out_dir =
        crate::output::out_dir(args.out.as_deref(), "canary-kernels").map_err(RunError::Usage)?;
    let out_dir = std::fs::canonicalize(&out_dir).map_err(RunError::Io)?;
    if out_dir.to_string_lossy().contains(char::is_whitespace) {
        return Err(RunError::Usage(Usage(format!(
            "--out {}: a path without spaces, please (it goes on the kernel's command line)",
            out_dir.display()
        ))));
    }
    let mut log = std::io::stderr();
    let inner = canary_args(args, &root, &mut log).map_err(RunError::Usage)?;

    let accel = accel.unwrap_or_else(|| {
        let (works, why) = kvm_works(&kernels[0], &out_dir, Duration::from_secs(30));
        let _ = writeln!(
            log,
            "kernels: acceleration: {} ({why})",
            if works { "KVM" } else { "TCG, software" }
        );
        if works { Accel::Kvm } else { Accel::Tcg }
    });
    let factor = args.time_factor.unwrap_or(accel.time_factor());
    let deadline = Duration::from_secs_f64(args.vm_timeout);

    let mut runs: Vec<Run> = Vec::new();
    for round in 1..=args.rounds {
        for (ki, k) in kernels.iter().enumerate() {
            let label = if args.rounds > 1 {
                format!("{} (round {round}/{})", k.release, args.rounds)
            } else {
                k.release.clone()
            };
            let run = run_one(
                k, ki, round, accel, factor, args, &inner, &out_dir, deadline, &label,
            )
            .map_err(RunError::Io)?;
            let drift = run.cells.iter().filter(|c| c.drift.is_some()).count();
            match &run.failure {
                Some(why) => {
                    let _ = writeln!(log, "kernels: {label}: FAILED: {why}");
                }
                None => {
                    let b = run.boot.as_ref().expect("a boot");
                    let _ = writeln!(
                        log,
                        "kernels: {label}: {} cells, {drift} drift, in {:.1} s (boot {:.1} s)",
                        run.cells.len(),
                        b.elapsed_s,
                        b.boot_s.unwrap_or(f64::NAN)
                    );
                }
            }
            runs.push(run);
        }
    }
    let elapsed = start.elapsed();
    write_reports(&out_dir, &kernels, &runs, accel, factor, elapsed).map_err(RunError::Io)?;
    summarize(out, &out_dir, &kernels, &runs, elapsed)
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    k: &Kernel,
    ki: usize,
    round: u32,
    accel: Accel,
    factor: f64,
    args: &KernelsArgs,
    inner: &[String],
    out_dir: &Path,
    deadline: Duration,
    label: &str,
) -> std::io::Result<Run> {
    let name = if args.rounds > 1 {
        format!("{}-round{round}", k.release)
    } else {
        k.release.clone()
    };
    let share = out_dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&share);
    // Removed by a Ctrl-C from now on, not only once QEMU runs.
    let scratch = Scratch::create(&share)?;
    write_job(&share, inner, factor)?;
    let _ = writeln!(
        std::io::stderr(),
        "kernels: {label}: booting ({})...",
        accel.name()
    );
    let mut progress = |line: &str| {
        let _ = writeln!(std::io::stderr(), "kernels: {label}: {line}");
    };
    let booted = boot(k, accel, &share, args.memory, deadline, &mut progress);
    let final_dir = out_dir.join(&name);
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&share, &final_dir)?;
    drop(scratch);
    let mut run = Run {
        kernel: ki,
        round,
        boot: None,
        uname: std::fs::read_to_string(final_dir.join("uname"))
            .ok()
            .map(|s| s.trim().to_owned()),
        cells: Vec::new(),
        failure: None,
    };
    match booted {
        Err(e) => run.failure = Some(e),
        Ok(b) => {
            if let Some(f) = &b.failure {
                run.failure = Some(f.clone());
            } else {
                match inner_cells(&final_dir.join("canary").join("matrix.json")) {
                    Ok(cells) => run.cells = cells,
                    Err(e) => {
                        run.failure = Some(format!(
                            "the canary inside exited {} and left no report ({e}); its log: {}",
                            b.exit.unwrap_or(-1),
                            last_line(&final_dir.join("job.log")).unwrap_or_default()
                        ));
                    }
                }
            }
            run.boot = Some(b);
        }
    }
    if run.failure.is_none() && run.uname.as_deref() != Some(k.release.as_str()) {
        run.failure = Some(format!(
            "the guest ran kernel {:?}, not {}",
            run.uname, k.release
        ));
    }
    Ok(run)
}

/// Cells whose verdict or symptom differs between rounds of one kernel.
fn flips(runs: &[Run]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<(usize, String, String), Vec<String>> =
        Default::default();
    for r in runs {
        for GuestCell {
            row,
            column: col,
            record: rec,
            ..
        } in &r.cells
        {
            let got = rec
                .symptom
                .clone()
                .unwrap_or_else(|| rec.verdict.to_string());
            seen.entry((r.kernel, row.clone(), col.clone()))
                .or_default()
                .push(got);
        }
    }
    seen.into_iter()
        .filter(|(_, v)| v.iter().any(|x| *x != v[0]))
        .map(|((k, row, col), v)| format!("kernel #{k} {row} [{col}]: {}", v.join(", ")))
        .collect()
}

/// The last round's cells, one column per kernel, rows `scenario / variant
/// / column`.
fn grid(runs: &[Run]) -> Vec<Cell> {
    let last = runs.iter().map(|r| r.round).max().unwrap_or(1);
    let mut cells = Vec::new();
    for r in runs.iter().filter(|r| r.round == last) {
        for GuestCell {
            row,
            column: col,
            drift,
            record: rec,
        } in &r.cells
        {
            cells.push(Cell {
                row: format!("{row} / {col}"),
                column: r.kernel,
                record: rec.clone(),
                drift: *drift,
            });
        }
    }
    cells
}

fn write_reports(
    dir: &Path,
    kernels: &[Kernel],
    runs: &[Run],
    accel: Accel,
    factor: f64,
    elapsed: Duration,
) -> std::io::Result<()> {
    let cells = grid(runs);
    let labels: Vec<&str> = kernels.iter().map(|k| k.release.as_str()).collect();
    let flips = flips(runs);
    let json = json!({
        "host_kernel": harness::sys::kernel_release(),
        "machine": canary::machine(),
        "accel": accel.name(),
        "time_factor": factor,
        "elapsed_s": elapsed.as_secs_f64(),
        "kernels": kernels.iter().enumerate().map(|(ki, k)| {
            let mine: Vec<&Run> = runs.iter().filter(|r| r.kernel == ki).collect();
            json!({
                "release": k.release,
                "line": k.line,
                "dir": k.dir,
                "rounds": mine.iter().map(|r| json!({
                    "round": r.round,
                    "uname": r.uname,
                    "boot_s": r.boot.as_ref().and_then(|b| b.boot_s),
                    "elapsed_s": r.boot.as_ref().map(|b| b.elapsed_s),
                    "cells": r.cells.len(),
                    "drift": r.cells.iter().filter(|c| c.drift.is_some()).count(),
                    "failure": r.failure,
                })).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
        "flips": flips,
        "cells": cells.iter().map(|c| json!({
            "row": c.row, "kernel": labels[c.column], "drift": c.drift, "record": c.record,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("matrix.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    let mut md = format!(
        "# repro kernels\n\nThe canary inside each kernel, booted in QEMU ({}, time factor {factor}) \
         on {}; the host runs {}. {} cells in {:.1} s.\n\n\
         | kernel | line | boot | cells | drift | wall | result |\n|---|---|---|---|---|---|---|\n",
        accel.name(),
        canary::machine(),
        harness::sys::kernel_release(),
        runs.iter().map(|r| r.cells.len()).sum::<usize>(),
        elapsed.as_secs_f64()
    );
    for r in runs {
        let k = &kernels[r.kernel];
        let b = r.boot.as_ref();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            k.release,
            k.line,
            b.and_then(|b| b.boot_s)
                .map_or("–".into(), |s| format!("{s:.1} s")),
            r.cells.len(),
            r.cells.iter().filter(|c| c.drift.is_some()).count(),
            b.map_or("–".into(), |b| format!("{:.1} s", b.elapsed_s)),
            r.failure.as_deref().unwrap_or("ok")
        ));
    }
    let rounds = runs.iter().map(|r| r.round).max().unwrap_or(1);
    if rounds > 1 {
        md.push_str(&format!(
            "\n{rounds} rounds: {} flip(s){}\n",
            flips.len(),
            if flips.is_empty() { "." } else { ":" }
        ));
        for f in &flips {
            md.push_str(&format!("- {f}\n"));
        }
        md.push_str("\nThe table shows the last round.\n");
    }
    md.push('\n');
    md.push_str(&canary::table(
        "scenario / variant / column",
        &labels,
        &cells,
    ));
    std::fs::write(dir.join("matrix.md"), md)?;
    std::fs::write(
        dir.join("junit.xml"),
        canary::junit("repro kernels", &labels, &cells, elapsed),
    )
}

fn summarize(
    out: &mut Out,
    out_dir: &Path,
    kernels: &[Kernel],
    runs: &[Run],
    elapsed: Duration,
) -> Result<u8, RunError> {
    let cells: usize = runs.iter().map(|r| r.cells.len()).sum();
    let drifted: Vec<(&Run, &GuestCell)> = runs
        .iter()
        .flat_map(|r| {
            r.cells
                .iter()
                .filter(|c| c.drift.is_some())
                .map(move |c| (r, c))
        })
        .collect();
    let failed: Vec<&Run> = runs.iter().filter(|r| r.failure.is_some()).collect();
    let flips = flips(runs);
    out.line(&format!(
        "kernels: {} boot(s) of {} kernel(s), {cells} cells in {:.1} s: {} drift, {} failed boot(s), {} flip(s)",
        runs.len(),
        kernels.len(),
        elapsed.as_secs_f64(),
        drifted.len(),
        failed.len(),
        flips.len()
    ))?;
    for (
        r,
        GuestCell {
            row,
            column: col,
            drift,
            record: rec,
        },
    ) in &drifted
    {
        let got = rec.symptom.as_deref().unwrap_or(rec.verdict.as_str());
        let want = rec.expected.as_ref().map_or("?".to_owned(), |e| {
            e.symptom.clone().unwrap_or_else(|| e.verdict.to_string())
        });
        out.line(&format!(
            "DRIFT {}: {row} [{col}] on {}: expected {want}, got {got}",
            drift.unwrap_or("?"),
            kernels[r.kernel].release
        ))?;
    }
    for r in &failed {
        out.line(&format!(
            "FAILED {} (round {}): {}",
            kernels[r.kernel].release,
            r.round,
            r.failure.as_deref().unwrap_or("?")
        ))?;
    }
    for f in &flips {
        out.line(&format!("FLIP {f}"))?;
    }
    out.line(&format!(
        "reports: {}/matrix.md, matrix.json, junit.xml",
        out_dir.display()
    ))?;
    let skipped_only = runs
        .iter()
        .flat_map(|r| &r.cells)
        .all(|c| c.record.verdict == Verdict::Skipped);
    Ok(if !drifted.is_empty() || !flips.is_empty() {
        exit::NOT_AS_EXPECTED
    } else if !failed.is_empty() || cells == 0 || skipped_only {
        exit::COULD_NOT_RUN
    } else {
        exit::OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::record::Runtime;

    fn cell(verdict: Verdict, symptom: Option<&str>) -> GuestCell {
        GuestCell {
            row: "shared-epoll / broken".into(),
            column: "rust".into(),
            drift: None,
            record: Record {
                scenario: "shared-epoll".into(),
                runtime: Runtime::Rust,
                variant: "broken".into(),
                verdict,
                symptom: symptom.map(Into::into),
                evidence: Vec::new(),
                reason: None,
                python: None,
                kernel: "5.10.0-46-amd64".into(),
                elapsed_ms: 1.0,
                wall_ms: None,
                trace: None,
                expected: None,
                as_expected: None,
            },
        }
    }

    fn run(kernel: usize, round: u32, c: GuestCell) -> Run {
        Run {
            kernel,
            round,
            boot: None,
            uname: None,
            cells: vec![c],
            failure: None,
        }
    }

    #[test]
    fn a_flip_is_a_change_between_rounds_of_one_kernel() {
        let same = |k, r| run(k, r, cell(Verdict::Misbehaved, Some("unknown-fd-event")));
        // The same verdict every round, on two kernels: no flip.
        assert!(flips(&[same(0, 1), same(1, 1), same(0, 2), same(1, 2)]).is_empty());
        // Another symptom in round 3 of kernel 1: one flip, named.
        let other = run(1, 3, cell(Verdict::Misbehaved, Some("busy-loop")));
        let f = flips(&[same(0, 1), same(1, 1), same(0, 3), same(1, 2), other]);
        assert_eq!(
            f,
            [
                "kernel #1 shared-epoll / broken [rust]: unknown-fd-event, unknown-fd-event, busy-loop"
            ]
        );
        // A kernel that behaves where another misbehaves is not a flip.
        let behaved = run(1, 1, cell(Verdict::Behaved, None));
        assert!(flips(&[same(0, 1), behaved]).is_empty());
    }
}
