import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A Debian userland booted with its own systemd as PID 1 (`systemd-nspawn --boot`), for
/// system tests that install Drover the way a user would and watch it through systemctl and
/// journalctl.
///
/// The root file system is made once with debootstrap and cached in the package's
/// `.build-systemd/root` (gitignored); each container boots a fresh copy of it, so nothing a
/// test installs outlives the test. Everything fails loudly: no root, no debootstrap, a
/// container that does not boot are errors, never skips. Dropping the object (or `shutdown()`)
/// powers the container off, SIGKILLing it if it does not go in time.
public final class SystemdContainer {
  /// The Debian packages the cached root has on top of minbase; part of the cache key.
  public static let packages = [
    "systemd", "systemd-sysv", "dbus", "libsqlite3-0", "libsystemd0", "libpq5", "libstdc++6",
    "python3",
    "nodejs",
  ]

  /// The folder of the cache and of the booted copy.
  public let work: String
  /// The booted copy of the root, as seen from the host: write files here to put them in the
  /// container.
  public let root: String
  /// The container's PID 1, as a host pid (what `nsenter -t` takes).
  public private(set) var initPID: Int32 = 0
  private var nspawn: RunningChild?

  /// Makes (or reuses) the cached root, copies it and boots the copy; returns once
  /// `systemctl is-system-running` says `running` (or `degraded`, whose failed units are
  /// printed). Throws with the boot log when any of it fails.
  ///
  /// - Parameter image: a root file system to copy and boot instead of the cached Debian one
  ///   (a test of the failure path boots one that cannot boot).
  public init(packageRoot: String, image: String? = nil) throws {
    guard getuid() == 0 else {
      throw HarnessError("system tests need root (debootstrap, systemd-nspawn, nsenter)")
    }
    work = packageRoot + "/.build-systemd"
    root = work + (image == nil ? "/run" : "/run-image")
    let cached = try image ?? Self.cachedRoot(in: work)
    try Self.sh(
      "rm -rf '\(root)' && cp -a --reflink=auto '\(cached)' '\(root)'", timeout: .seconds(300))
    let child = try ChildProcess.start(
      "/usr/bin/systemd-nspawn",
      ["-D", root, "--register=no", "--keep-unit", "--private-network", "--boot"],
      environment: Self.environment)
    nspawn = child
    initPID = try findInit(of: child)
    try waitUntil("the container's systemd finished booting", timeout: .seconds(120)) {
      let state = try run(["systemctl", "is-system-running"]).trimmedStdout
      return state == "running" || state == "degraded"
    }
    let failed = try run(["systemctl", "--failed", "--no-legend"]).trimmedStdout
    if !failed.isEmpty { print("container booted degraded; failed units:\n\(failed)") }
  }

  deinit { shutdown() }

  /// The environment of every command: no variable of this process leaks in (NOTIFY_SOCKET,
  /// a pager, colours).
  static let environment = [
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
    "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "TERM": "dumb",
  ]

  /// Runs a host shell command; throws with its output when it fails.
  @discardableResult
  public static func sh(_ script: String, timeout: Duration = .seconds(120)) throws
    -> ProcessOutput
  {
    let out = try ChildProcess.run(
      "/bin/sh", ["-c", script], environment: environment, timeout: timeout)
    guard out.exitCode == 0 else {
      throw HarnessError(
        "`\(script)` failed (\(out.status)):\n\(out.stdoutText.suffix(3000))\n\(out.stderrText.suffix(3000))"
      )
    }
    return out
  }

  /// `work/root`, made with debootstrap when missing or made with another package list.
  static func cachedRoot(in work: String) throws -> String {
    let cached = work + "/root"
    let key = "bookworm minbase " + packages.joined(separator: ",")
    if (try? String(contentsOfFile: cached + "/.drover-root", encoding: .utf8)) == key {
      return cached
    }
    let mirror =
      ProcessInfo.processInfo.environment["DROVER_DEBOOTSTRAP_MIRROR"]
      ?? "http://deb.debian.org/debian"
    let started = ContinuousClock.now
    try sh(
      """
      set -e; mkdir -p '\(work)'; rm -rf '\(cached)' '\(cached).tmp'
      debootstrap --variant=minbase --include=\(packages.joined(separator: ",")) \
        bookworm '\(cached).tmp' '\(mirror)' >'\(work)/debootstrap.log' 2>&1 \
        || { tail -30 '\(work)/debootstrap.log' >&2; exit 1; }
      printf '%s' '\(key)' >'\(cached).tmp/.drover-root'
      mv '\(cached).tmp' '\(cached)'
      """, timeout: .seconds(900))
    print("debootstrap made the container root in \(ContinuousClock.now - started)")
    return cached
  }

  /// The container's init: the descendant of systemd-nspawn that is PID 1 of its namespace.
  private func findInit(of child: RunningChild) throws -> Int32 {
    var found: Int32 = 0
    try waitUntil("systemd-nspawn started the container's init", timeout: .seconds(60)) {
      if let status = child.poll() {
        throw HarnessError(
          "systemd-nspawn exited (\(status)):\n\(String(decoding: child.stdoutSoFar().suffix(3000), as: UTF8.self))\n\(String(decoding: child.stderrSoFar().suffix(3000), as: UTF8.self))"
        )
      }
      let parents = Self.parentMap()
      for (pid, _) in parents where Self.isNamespaceInit(pid) {
        var p = pid
        while let up = parents[p], up > 1 {
          if up == child.pid {
            found = pid
            return true
          }
          p = up
        }
      }
      return false
    }
    return found
  }

  private static func parentMap() -> [Int32: Int32] {
    var map: [Int32: Int32] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
      guard let pid = Int32(name),
        let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 1, let ppid = Int32(fields[1]) { map[pid] = ppid }
    }
    return map
  }

  private static func isNamespaceInit(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") })
    else { return false }
    let ids = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst()
    return ids.count >= 2 && ids.last == "1"
  }

  /// Runs `arguments` inside the container (all its namespaces, as its root) and returns the
  /// output whatever the exit status.
  @discardableResult
  public func run(_ arguments: [String], stdin: [UInt8] = [], timeout: Duration = .seconds(90))
    throws -> ProcessOutput
  {
    try ChildProcess.run(
      "/usr/bin/nsenter", ["-t", "\(initPID)", "-a"] + arguments, environment: Self.environment,
      stdin: stdin, timeout: timeout)
  }

  /// Runs a shell script inside the container (dash: `kill` is a builtin there, and a minbase
  /// root has no /bin/kill).
  @discardableResult
  public func shell(_ script: String, timeout: Duration = .seconds(90)) throws -> ProcessOutput {
    try run(["/bin/sh", "-c", script], timeout: timeout)
  }

  /// `systemctl ARGS…` in the container.
  @discardableResult
  public func systemctl(_ arguments: String..., timeout: Duration = .seconds(90)) throws
    -> ProcessOutput
  {
    try run(["systemctl"] + arguments, timeout: timeout)
  }

  /// `systemctl show UNIT -p P…` as a dictionary.
  public func show(_ unit: String, _ properties: String...) throws -> [String: String] {
    let out = try run(["systemctl", "show", unit] + properties.flatMap { ["-p", $0] })
    var result: [String: String] = [:]
    for line in out.stdoutText.split(separator: "\n") {
      guard let eq = line.firstIndex(of: "=") else { continue }
      result[String(line[..<eq])] = String(line[line.index(after: eq)...])
    }
    return result
  }

  /// Writes `text` to `path` inside the container (through the host's view of its root).
  public func write(_ path: String, _ text: String) throws {
    let host = root + path
    try FileManager.default.createDirectory(
      atPath: (host as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: host), options: .atomic)
  }

  /// The last `lines` journal lines of `unit` (or of everything), for failure messages.
  public func journal(_ unit: String? = nil, lines: Int = 60) -> String {
    let args = ["journalctl", "--no-pager", "-n", "\(lines)"] + (unit.map { ["-u", $0] } ?? [])
    return (try? run(args).stdoutText) ?? "(journal unreadable)"
  }

  /// Polls `condition` every `every` until true; throws after `timeout` with the journal's
  /// tail. An error thrown by the condition counts as "not yet" (a poll of a service that is
  /// restarting may fail).
  public func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), every: Duration = .milliseconds(100),
    _ condition: () throws -> Bool
  ) throws {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while true {
      do {
        if try condition() { return }
        lastError = nil
      } catch let e as HarnessError where e.description.hasPrefix("systemd-nspawn exited") {
        throw e
      } catch {
        lastError = error
      }
      if ContinuousClock.now >= deadline {
        throw HarnessError(
          "timed out after \(timeout) waiting until \(what)"
            + (lastError.map { " (last error: \($0))" } ?? "")
            + (initPID > 0 ? "; journal:\n\(journal())" : ""))
      }
      SupervisorHarness.pause(every)
    }
  }

  /// Powers the container off (SIGTERM to systemd-nspawn: a clean shutdown), SIGKILLing its
  /// init, and with it every process of its pid namespace, after 30 s. Harmless when repeated.
  public func shutdown() {
    guard let child = nspawn else { return }
    nspawn = nil
    child.kill(SIGTERM)
    // Only when it did not go: once nspawn is gone, so is the init, and its pid may be reused.
    if (try? child.waitForExit(timeout: .seconds(30))) == nil, initPID > 0 {
      _ = kill(initPID, SIGKILL)
    }
  }
}
