import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Drover deployed the way a user would, under a real systemd: the Debian package built by
/// scripts/package-deb.sh is installed with `dpkg -i` into a booted Debian container and
/// watched through systemctl and journalctl only. One test, steps in order (each builds on
/// the service the previous one left), each timed; the evidence is printed for the record.
///
/// Needs root, debootstrap and systemd-container (scripts/install-deps.sh installs them). It
/// fails, never skips, where the container cannot boot.
@Suite("systemd deployment", .serialized, .timeLimit(.minutes(30)))
struct SystemdDeploymentTests {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path
  static let config = "/etc/drover/drover.toml"

  /// The test config: the conffile as an operator would edit it.
  static func configText(sleepMin: Int) -> String {
    """
    [store]
    path = "/var/lib/drover/drover.db"

    [control]
    socket = "/run/drover/control.sock"

    [supervisor]
    drain_timeout = "30s"

    [pools.sleep]
    handler = "sleep"
    min = \(sleepMin)
    max = 3

    [pools.py]
    handler = "exec"
    command = ["/usr/bin/python3", "-c", "import sys, json; json.load(sys.stdin); print('PROGRESS 50', flush=True)"]
    min = 1
    max = 1

    [pools.node]
    handler = "exec"
    command = ["/usr/bin/node", "-e", "let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log(s)"]
    min = 0
    max = 1
    max_attempts = 1

    """
  }

  /// What the log needs for the closing note: one line per step with its duration.
  final class Record {
    var lines: [String] = []
    let started = ContinuousClock.now
    func step<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
      let t0 = ContinuousClock.now
      defer {
        let line = "[systemd] \(name): \(ContinuousClock.now - t0)"
        lines.append(line)
        print(line)
      }
      return try body()
    }
    func note(_ text: String) {
      lines.append("[systemd]   " + text)
      print("[systemd]   " + text)
    }
  }

  @Test func deploymentUnderARealSystemd() throws {
    let record = Record()
    let deb = try record.step("build the .deb (scripts/package-deb.sh, release, static stdlib)") {
      // nice 19: `swift test` runs other suites beside this one, and a release build takes
      // both cores for a minute or two on a cold cache; their timings must not pay for it.
      let out = try ChildProcess.run(
        "/usr/bin/nice",
        [
          "-n", "19", "/bin/bash", Self.packageRoot + "/scripts/package-deb.sh",
          Self.packageRoot + "/.build-systemd/deb",
        ],
        timeout: .seconds(1800))
      guard out.exitCode == 0, let path = out.trimmedStdout.split(separator: "\n").last else {
        throw HarnessError("package-deb.sh failed:\n\(out.stderrText.suffix(4000))")
      }
      return String(path)
    }
    try hostSecurityScores(record)
    let c = try record.step("boot the container (debootstrap root cached)") {
      try SystemdContainer(packageRoot: Self.packageRoot)
    }
    defer { c.shutdown() }
    try record.step("dpkg -i") { try install(deb, c, record) }
    try record.step("systemd-analyze verify and security in the container") {
      try analyze(c, record)
    }
    try record.step("socket activation: a client connects before the service runs") {
      try socketActivation(c, record)
    }
    try record.step("systemctl enable --now returns after READY=1") { try start(c, record) }
    try record.step("exec handlers under the sandbox (python3, node)") { try execJobs(c, record) }
    try record.step("systemctl reload: good config applied, bad one refused") {
      try reload(c, record)
    }
    try record.step("systemctl stop drains a running job") { try stopDrains(c, record) }
    try record.step("SIGSTOP: watchdog kills and restarts, the job runs again") {
      try watchdog(c, record)
    }
    try record.step("kill -9 of MainPID: cgroup empty before the restart") {
      try killNine(c, record)
    }
    try record.step("drover@jit instance with MemoryDenyWriteExecute=no runs node") {
      try jitInstance(c, record)
    }
    try record.step("package reinstalled, then drover ctl upgrade: same MainPID") {
      try upgradeUnderTheUnit(c, record)
    }
    try record.step("journald priorities") { try priorities(c, record) }
    try record.step("dpkg --purge leaves no unit behind") { try purge(c, record) }
    print("[systemd] total \(ContinuousClock.now - record.started)")
  }

  /// A root that cannot boot (no init in it) is an error naming systemd-nspawn's complaint,
  /// not a skip and not a hang.
  @Test func aContainerThatCannotBootFailsLoudly() throws {
    let image = try TempDirectory(prefix: "drover-noboot")
    try FileManager.default.createDirectory(
      atPath: image.file("etc"), withIntermediateDirectories: true)
    let t0 = ContinuousClock.now
    do {
      _ = try SystemdContainer(packageRoot: Self.packageRoot, image: image.path)
      Issue.record("a root without systemd booted")
    } catch {
      #expect("\(error)".contains("systemd-nspawn exited"), "\(error)")
    }
    #expect(ContinuousClock.now - t0 < .seconds(60))
  }

  // MARK: Steps

  /// `systemd-analyze security --offline` of the unit files in the repository.
  func hostSecurityScores(_ record: Record) throws {
    let out = try SystemdContainer.sh(
      "cd '\(Self.packageRoot)/units' && systemd-analyze security --offline=true "
        + "drover.service drover@x.service")
    for unit in ["drover.service", "drover@x.service"] {
      let score = try #require(
        Self.exposure(of: unit, in: out.stdoutText + out.stderrText), "\(out.stderrText)")
      record.note("offline security score of \(unit): \(score)")
      #expect(score <= 1.5)
    }
  }

  func install(_ deb: String, _ c: SystemdContainer, _ record: Record) throws {
    try SystemdContainer.sh("cp '\(deb)' '\(c.root)/root/drover.deb'")
    let out = try c.run(["dpkg", "-i", "/root/drover.deb"])
    #expect(out.exitCode == 0, "\(out.stdoutText)\n\(out.stderrText)")
    #expect(try c.run(["id", "-u", "drover"]).exitCode == 0, "no drover user")
    let files = try c.systemctl("list-unit-files", "drover*", "--no-legend").stdoutText
    for unit in ["drover.service", "drover.socket", "drover@.service", "drover@.socket"] {
      #expect(files.contains(unit), "\(unit) not installed: \(files)")
    }
    // The maintainer scripts start and enable nothing.
    #expect(try c.systemctl("is-enabled", "drover.service").trimmedStdout == "disabled")
    #expect(try c.systemctl("is-active", "drover.service", "drover.socket").exitCode != 0)
    let conffiles = try c.run(["dpkg-query", "-W", "-f=${Conffiles}", "drover"]).stdoutText
    #expect(conffiles.contains(Self.config), "not a conffile: \(conffiles)")
    record.note("installed: \(files.split(separator: "\n").count) unit files, all disabled")
  }

  func analyze(_ c: SystemdContainer, _ record: Record) throws {
    let verify = try c.run(
      [
        "systemd-analyze", "verify", "drover.service", "drover.socket", "drover@x.service",
        "drover@x.socket",
      ])
    #expect(verify.exitCode == 0 && verify.stderrText.isEmpty, "\(verify.stderrText)")
    for unit in ["drover.service", "drover@x.service"] {
      let out = try c.run(["systemd-analyze", "security", unit])
      let score = try #require(
        Self.exposure(of: unit, in: out.stdoutText + out.stderrText), "\(out.stderrText)")
      record.note("security score of \(unit) in the container: \(score)")
      #expect(score <= 1.5)
    }
  }

  func socketActivation(_ c: SystemdContainer, _ record: Record) throws {
    try c.write(Self.config, Self.configText(sleepMin: 1))
    #expect(try c.systemctl("start", "drover.socket").exitCode == 0)
    #expect(try c.show("drover.service", "ActiveState")["ActiveState"] == "inactive")
    // The connection lands in systemd's socket; it starts the service, which answers it.
    let status = try drover(c, ["ctl", "status", "--json"])
    #expect(status.exitCode == 0, "\(status.stderrText)")
    let reply = try JSONValue.parse(status.stdoutText)
    // The control socket answers while pools still start; READY=1 (and `active`) follows.
    try c.waitUntil("the socket-started service is active", timeout: .seconds(30)) {
      try c.show("drover.service", "ActiveState")["ActiveState"] == "active"
    }
    let props = try c.show("drover.service", "ActiveState", "MainPID")
    #expect(props["MainPID"] == reply["pid"].map { "\($0.intValue ?? -1)" })
    #expect(c.journal("drover.service").contains("control socket taken from systemd"))
    record.note("ctl status before the start was answered by MainPID \(props["MainPID"] ?? "?")")
    #expect(try c.systemctl("stop", "drover.service").exitCode == 0)
  }

  func start(_ c: SystemdContainer, _ record: Record) throws {
    let t0 = ContinuousClock.now
    let out = try c.systemctl("enable", "--now", "drover.service")
    let took = ContinuousClock.now - t0
    #expect(out.exitCode == 0, "\(out.stderrText)")
    // Type=notify: `start` returned only once READY=1 came, and READY=1 is sent when every
    // pool has its min workers, i.e. when the supervisor says `running`.
    let props = try c.show("drover.service", "ActiveState", "SubState", "StatusText")
    #expect(props["ActiveState"] == "active" && props["SubState"] == "running")
    #expect(try supervisorState(c) == "running")
    #expect(props["StatusText"]?.hasPrefix("running: 3 pools") == true, "\(props)")
    let status = try c.systemctl("status", "drover.service", "--no-pager").stdoutText
    #expect(status.contains("Status: \"running:"), "\(status)")
    #expect(try c.systemctl("is-enabled", "drover.socket").trimmedStdout == "enabled")
    record.note("enable --now took \(took); StatusText=\(props["StatusText"] ?? "")")
  }

  func execJobs(_ c: SystemdContainer, _ record: Record) throws {
    let py = try enqueue(c, "py", "{}")
    let node = try enqueue(c, "node", "{}")
    try c.waitUntil("the python job completes", timeout: .seconds(60)) {
      try job(c, py)["state"]?.stringValue == "completed"
    }
    #expect(try job(c, py)["progress"]?.intValue == 100)
    // MemoryDenyWriteExecute=yes is inherited by exec commands; a JIT runtime dies under it.
    try c.waitUntil("the node job ends", timeout: .seconds(60)) {
      try job(c, node)["state"]?.stringValue == "dead"
    }
    let error = try job(c, node)["errors"]?.arrayValue?.first?["message"]?.stringValue ?? ""
    #expect(error.contains("signal"), "\(error)")
    record.note(
      "python3 job completed; node job dead under MemoryDenyWriteExecute=yes: "
        + (error.split(separator: "\n").first.map(String.init) ?? ""))
  }

  func reload(_ c: SystemdContainer, _ record: Record) throws {
    let before = try c.show("drover.service", "MainPID", "NRestarts")
    try c.write(Self.config, Self.configText(sleepMin: 2))
    let good = try c.systemctl("reload", "drover.service")
    #expect(good.exitCode == 0, "\(good.stderrText)")
    try c.waitUntil("the sleep pool has 2 workers", timeout: .seconds(30)) {
      try workers(c, "sleep") == 2
    }
    try c.write(Self.config, Self.configText(sleepMin: 2) + "[pools.broken\n")
    let bad = try c.systemctl("reload", "drover.service")
    #expect(bad.exitCode != 0, "a bad config was accepted")
    let journal = c.journal("drover.service", lines: 20)
    #expect(journal.contains("Reload failed"), "\(journal)")
    #expect(journal.contains("drover.toml:"), "the error does not name the file: \(journal)")
    let after = try c.show("drover.service", "MainPID", "NRestarts", "ActiveState")
    #expect(after["MainPID"] == before["MainPID"] && after["NRestarts"] == before["NRestarts"])
    #expect(after["ActiveState"] == "active")
    // `drover ctl` itself refuses to run on the broken file: put back the applied one first.
    try c.write(Self.config, Self.configText(sleepMin: 2))
    #expect(try workers(c, "sleep") == 2)
    try c.write(Self.config, Self.configText(sleepMin: 1))
    #expect(try c.systemctl("reload", "drover.service").exitCode == 0)
    record.note("reload kept MainPID \(after["MainPID"] ?? "?"); bad config: \(bad.status)")
  }

  func stopDrains(_ c: SystemdContainer, _ record: Record) throws {
    let id = try enqueue(c, "sleep", #"{"ms": 4000}"#)
    try c.waitUntil("the job runs") { try job(c, id)["state"]?.stringValue == "running" }
    let t0 = ContinuousClock.now
    let out = try c.systemctl("stop", "drover.service")
    let took = ContinuousClock.now - t0
    #expect(out.exitCode == 0)
    #expect(took < .seconds(60), "stop outlived TimeoutStopSec")
    let j = try job(c, id)
    #expect(j["state"]?.stringValue == "completed")
    #expect(j["attempts"]?.intValue == 1 && j["errors"]?.arrayValue?.isEmpty == true)
    #expect(try c.show("drover.service", "Result")["Result"] == "success")
    record.note("stop took \(took) with a 4 s job running; it completed, 1 attempt")
  }

  func watchdog(_ c: SystemdContainer, _ record: Record) throws {
    #expect(try c.systemctl("start", "drover.service").exitCode == 0)
    let before = try c.show("drover.service", "MainPID", "NRestarts")
    let id = try enqueue(c, "sleep", #"{"ms": 3000}"#)
    try c.waitUntil("the job runs") { try job(c, id)["state"]?.stringValue == "running" }
    let t0 = ContinuousClock.now
    try c.shell("kill -STOP \(before["MainPID"]!)")
    var after: [String: String] = [:]
    try c.waitUntil("the watchdog restarted the service", timeout: .seconds(90)) {
      after = try c.show("drover.service", "MainPID", "NRestarts", "ActiveState")
      return after["ActiveState"] == "active" && after["MainPID"] != before["MainPID"]
        && after["MainPID"] != "0"
    }
    let took = ContinuousClock.now - t0
    #expect(Int(after["NRestarts"] ?? "") == Int(before["NRestarts"] ?? "0")! + 1)
    #expect(c.journal("drover.service", lines: 80).contains("Watchdog timeout"))
    try c.waitUntil("the interrupted job ran again", timeout: .seconds(60)) {
      try job(c, id)["state"]?.stringValue == "completed"
    }
    let j = try job(c, id)
    #expect(j["attempts"]?.intValue == 1, "the supervisor's death was charged: \(j)")
    record.note(
      "SIGSTOP → restarted after \(took), NRestarts \(before["NRestarts"] ?? "?") → "
        + "\(after["NRestarts"] ?? "?"), job completed (attempts 1)")
  }

  func killNine(_ c: SystemdContainer, _ record: Record) throws {
    // A longer RestartSec (runtime drop-in, gone at reboot) leaves time to look at the cgroup
    // between the death and the restart.
    // (written from inside: the container's /run is a tmpfs the host's view of its root
    // does not show)
    try c.shell(
      "mkdir -p /run/systemd/system/drover.service.d && printf '[Service]\\nRestartSec=5\\n' "
        + ">/run/systemd/system/drover.service.d/restart-delay.conf")
    #expect(try c.systemctl("daemon-reload").exitCode == 0)
    #expect(try c.show("drover.service", "RestartUSec")["RestartUSec"] == "5s")
    let main = try #require(try c.show("drover.service", "MainPID")["MainPID"])
    let workerPIDs =
      try statusJSON(c)["pools"]?.arrayValue?.flatMap {
        $0["workers"]?.arrayValue?.compactMap { $0["pid"]?.intValue } ?? []
      } ?? []
    #expect(!workerPIDs.isEmpty)
    try c.shell("kill -9 \(main)")
    var props: [String: String] = [:]
    try c.waitUntil("the unit waits to restart", timeout: .seconds(20), every: .milliseconds(50)) {
      props = try c.show("drover.service", "SubState", "ControlGroup", "MainPID")
      return props["SubState"] == "auto-restart"
    }
    // systemd removes a unit's cgroup only once it is empty.
    #expect(props["ControlGroup"] == "", "cgroup still there: \(props)")
    let status = try c.systemctl("status", "drover.service", "--no-pager").stdoutText
    #expect(!status.contains("CGroup:"), "\(status)")
    for pid in workerPIDs {
      #expect(try c.shell("test -e /proc/\(pid)").exitCode != 0, "worker \(pid) survived")
    }
    try c.waitUntil("the service restarted", timeout: .seconds(30)) {
      let p = try c.show("drover.service", "ActiveState", "MainPID")
      return p["ActiveState"] == "active" && p["MainPID"] != main && p["MainPID"] != "0"
    }
    #expect(!c.journal("drover.service", lines: 60).contains("left-over process"))
    try c.shell("rm -rf /run/systemd/system/drover.service.d && systemctl daemon-reload")
    record.note(
      "kill -9 \(main): in auto-restart ControlGroup=\"\", \(workerPIDs.count) workers gone")
  }

  func jitInstance(_ c: SystemdContainer, _ record: Record) throws {
    let config = "/etc/drover/jit.toml"
    try c.write(
      config,
      Self.configText(sleepMin: 1)
        .replacingOccurrences(
          of: "/var/lib/drover/drover.db", with: "/var/lib/drover/jit/drover.db"
        )
        .replacingOccurrences(of: "/run/drover/control.sock", with: "/run/drover/jit/control.sock"))
    try c.write(
      "/etc/systemd/system/drover@jit.service.d/jit.conf",
      "[Service]\n# node's JIT needs writable+executable memory\nMemoryDenyWriteExecute=no\n")
    #expect(try c.systemctl("daemon-reload").exitCode == 0)
    let out = try c.run(["systemd-analyze", "security", "drover@jit.service"])
    let score = try #require(
      Self.exposure(of: "drover@jit.service", in: out.stdoutText + out.stderrText))
    #expect(score <= 1.5)
    let start = try c.systemctl("start", "drover@jit.service")
    #expect(start.exitCode == 0, "\(start.stderrText)\n\(c.journal("drover@jit.service"))")
    let id = try enqueue(c, "node", "{}", config: config)
    try c.waitUntil("the node job completes", timeout: .seconds(60)) {
      try job(c, id, config: config)["state"]?.stringValue == "completed"
    }
    #expect(try c.systemctl("stop", "drover@jit.service", "drover@jit.socket").exitCode == 0)
    try c.shell("rm -rf /etc/systemd/system/drover@jit.service.d && systemctl daemon-reload")
    record.note("drover@jit (MemoryDenyWriteExecute=no, score \(score)): node job completed")
  }

  /// The in-place upgrade under the unit's sandbox (execve, memfd, /proc/self/exe): the
  /// package manager replaces /usr/bin/drover, `ctl upgrade` re-executes it in the same pid
  /// while a job runs; systemd sees no restart.
  func upgradeUnderTheUnit(_ c: SystemdContainer, _ record: Record) throws {
    let before = try c.show("drover.service", "MainPID", "NRestarts")
    let id = try enqueue(c, "sleep", #"{"ms": 2000}"#)
    try c.waitUntil("the job runs") { try job(c, id)["state"]?.stringValue == "running" }
    let reinstall = try c.run(["dpkg", "-i", "/root/drover.deb"])
    #expect(reinstall.exitCode == 0, "\(reinstall.stderrText)")
    // dpkg replaced the file and restarted nothing.
    #expect(try c.show("drover.service", "MainPID")["MainPID"] == before["MainPID"])
    let out = try drover(c, ["ctl", "upgrade"])
    #expect(out.exitCode == 0, "\(out.stderrText)\n\(c.journal("drover.service"))")
    let after = try c.show("drover.service", "MainPID", "NRestarts", "ActiveState")
    #expect(after["MainPID"] == before["MainPID"] && after["NRestarts"] == before["NRestarts"])
    #expect(after["ActiveState"] == "active")
    #expect(c.journal("drover.service", lines: 40).contains("upgraded in place"))
    try c.waitUntil("the job that ran across the upgrade completes", timeout: .seconds(30)) {
      try job(c, id)["state"]?.stringValue == "completed"
    }
    let j = try job(c, id)
    #expect(j["attempts"]?.intValue == 1 && j["errors"]?.arrayValue?.isEmpty == true)
    record.note(
      "ctl upgrade kept MainPID \(after["MainPID"] ?? "?"), NRestarts \(after["NRestarts"] ?? "?"): "
        + out.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  func priorities(_ c: SystemdContainer, _ record: Record) throws {
    let out = try c.run(
      [
        "journalctl", "-u", "drover.service", "-o", "json", "--no-pager",
        "SYSLOG_IDENTIFIER=drover",
      ])
    var byLevel: [String: Set<String>] = [:]
    for line in out.stdoutText.split(separator: "\n") {
      guard let entry = try? JSONValue.parse(String(line)),
        let message = entry["MESSAGE"]?.stringValue, let priority = entry["PRIORITY"]?.stringValue
      else { continue }
      for level in ["NOTICE", "WARNING", "INFO", "ERROR"]
      where message.contains("level=\(level.lowercased()) ") {
        byLevel[level, default: []].insert(priority)
      }
    }
    // stderr is the journal (JOURNAL_STREAM): each line carries its `<N>` syslog priority.
    #expect(byLevel["NOTICE"] == ["5"] && byLevel["WARNING"] == ["4"], "\(byLevel)")
    #expect(byLevel["INFO"] == nil || byLevel["INFO"] == ["6"], "\(byLevel)")
    record.note("journal priorities by level: \(byLevel)")
  }

  func purge(_ c: SystemdContainer, _ record: Record) throws {
    let out = try c.run(["dpkg", "--purge", "drover"])
    #expect(out.exitCode == 0, "\(out.stdoutText)\n\(out.stderrText)")
    let files = try c.systemctl("list-unit-files", "drover*", "--no-legend").trimmedStdout
    #expect(files.isEmpty, "units left: \(files)")
    let units = try c.systemctl("list-units", "--all", "drover*", "--no-legend").trimmedStdout
    #expect(units.isEmpty, "units still loaded: \(units)")
    let links = try c.shell(
      "find /etc/systemd/system /usr/lib/systemd/system /lib/systemd/system -name 'drover*'"
    ).trimmedStdout
    #expect(links.isEmpty, "left behind: \(links)")
    #expect(try c.shell("test -e /etc/drover").exitCode != 0)
    record.note("purged: no unit file, no enablement link, no loaded unit")
  }

  // MARK: Helpers

  /// `drover ARGS…` in the container as the drover user, with the config of the instance.
  func drover(_ c: SystemdContainer, _ args: [String], config: String = Self.config) throws
    -> ProcessOutput
  {
    try c.run(["runuser", "-u", "drover", "--", "env", "DROVER_CONFIG=\(config)", "drover"] + args)
  }

  func enqueue(
    _ c: SystemdContainer, _ type: String, _ payload: String, config: String = Self.config
  )
    throws -> Int64
  {
    let out = try drover(c, ["enqueue", type, payload], config: config)
    guard out.exitCode == 0, let id = Int64(out.trimmedStdout) else {
      throw HarnessError("enqueue failed: \(out.stderrText)")
    }
    return id
  }

  func job(_ c: SystemdContainer, _ id: Int64, config: String = Self.config) throws -> JSONValue {
    let out = try drover(c, ["jobs", "show", "\(id)", "--json"], config: config)
    guard out.exitCode == 0 else { throw HarnessError("jobs show failed: \(out.stderrText)") }
    return try JSONValue.parse(out.stdoutText)
  }

  func statusJSON(_ c: SystemdContainer) throws -> JSONValue {
    let out = try drover(c, ["ctl", "status", "--json"])
    guard out.exitCode == 0 else { throw HarnessError("ctl status failed: \(out.stderrText)") }
    return try JSONValue.parse(out.stdoutText)
  }

  func supervisorState(_ c: SystemdContainer) throws -> String? {
    try statusJSON(c)["state"]?.stringValue
  }

  func workers(_ c: SystemdContainer, _ pool: String) throws -> Int {
    let p = try statusJSON(c)["pools"]?.arrayValue?.first { $0["name"]?.stringValue == pool }
    return p?["workers"]?.arrayValue?.count ?? -1
  }

  /// The figure of `systemd-analyze security`'s "Overall exposure level for UNIT: N.N" line.
  static func exposure(of unit: String, in text: String) -> Double? {
    let marker = "exposure level for \(unit): "
    for line in text.split(separator: "\n") {
      guard let r = line.range(of: marker) else { continue }
      // "1.1 OK :-)" (or an emoji when the locale allows): the figure is the first word.
      return Double(line[r.upperBound...].split(separator: " ").first ?? "")
    }
    return nil
  }

}
