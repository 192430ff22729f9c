import DroverCore
import DroverTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `drover ctl upgrade` and SIGUSR2 between two different builds (the debug build of the
/// tests and the release build of the package) under a steady stream of jobs: same pid, no
/// job interrupted, retried or lost, no control connection refused or dropped, every worker
/// rolled onto the new binary. Here beside the systemd test because both need the release
/// build (scripts/package-deb.sh's scratch folder).
@Suite("in-place upgrade", .serialized, .timeLimit(.minutes(30)))
struct InPlaceUpgradeTests {
  /// What the client threads saw.
  final class Traffic: Sendable {
    struct Counts {
      var enqueued: [Int64] = []
      var enqueueFailures: [String] = []
      var probes = 0
      var probeFailures: [String] = []
      var stop = false
    }
    let counts = Mutex(Counts())
    var stopped: Bool { counts.withLock { $0.stop } }
  }

  /// The release binary, built (incrementally) in package-deb.sh's scratch folder.
  static func releaseBinary() throws -> String {
    let root = SystemdDeploymentTests.packageRoot
    let scratch = root + "/.build-deb/swiftpm"
    let out = try ChildProcess.run(
      "/usr/bin/nice",
      [
        "-n", "19", "swift", "build", "-c", "release", "--static-swift-stdlib", "--product",
        "drover", "--package-path", root, "--scratch-path", scratch,
      ], timeout: .seconds(1800))
    guard out.exitCode == 0 else {
      throw HarnessError(
        "release build failed:\n\(out.stdoutText.suffix(3000))\(out.stderrText.suffix(3000))")
    }
    return scratch + "/release/drover"
  }

  /// Puts the file at `source` at `path` as a package manager does: a copy renamed over it
  /// (the running binary's inode stays, its path names the new one).
  static func install(_ source: String, at path: String) throws {
    try? FileManager.default.removeItem(atPath: path + ".new")
    try FileManager.default.copyItem(atPath: source, toPath: path + ".new")
    guard rename(path + ".new", path) == 0 else { throw HarnessError("rename failed") }
  }

  /// `/proc/PID/exe` of each worker: whether all run the file now at `path`.
  static func allWorkersRun(_ path: String, _ pids: [Int32]) -> Bool {
    pids.allSatisfy { pid in
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) == path
    }
  }

  @Test func upgradesBetweenTwoBuildsDropNothing() throws {
    let release = try Self.releaseBinary()
    let h = try SupervisorHarness(
      pools: """
        [pools.p]
        handler = "sleep"
        min = 3
        max = 3
        """)
    let bin = h.dir.file("bin/drover")
    try FileManager.default.createDirectory(
      atPath: h.dir.file("bin"), withIntermediateDirectories: true)
    try Self.install(h.binary, at: bin)
    try h.start(shellPrefix: "exec '\(bin)' \"$@\"")
    let pid = try h.supervisor().pid
    let socket = h.socketPath
    let traffic = Traffic()

    // One connection enqueueing jobs of 50-300 ms all along (it is handed over, not closed),
    // and new connections asking for status all along (the listener never refuses).
    let enqueuer = Thread {
      var client: ControlSocket?
      var n = 0
      while !traffic.stopped {
        do {
          if client == nil { client = try ControlSocket(path: socket) }
          n += 1
          try client!.send(
            #"{"cmd":"enqueue","type":"p","payload":{"ms":"# + "\(50 + (n * 37) % 250)}}\n")
          guard let line = try client!.readLine(timeout: .seconds(20)),
            let id = try JSONValue.parse(line)["id"]?.intValue
          else { throw HarnessError("no id in the reply") }
          traffic.counts.withLock { $0.enqueued.append(id) }
        } catch {
          traffic.counts.withLock { $0.enqueueFailures.append("\(error)") }
          client = nil
        }
        usleep(15_000)
      }
    }
    let prober = Thread {
      while !traffic.stopped {
        do {
          let c = try ControlSocket(path: socket)
          try c.send(#"{"cmd":"status"}"# + "\n")
          guard let line = try c.readLine(timeout: .seconds(20)),
            try JSONValue.parse(line)["ok"]?.boolValue == true
          else { throw HarnessError("bad status reply") }
          traffic.counts.withLock { $0.probes += 1 }
        } catch {
          traffic.counts.withLock { $0.probeFailures.append("\(error)") }
        }
        usleep(5_000)
      }
    }
    enqueuer.start()
    prober.start()
    defer { traffic.counts.withLock { $0.stop = true } }
    SupervisorHarness.pause(.seconds(1))

    // debug → release with `ctl upgrade`.
    let before = try h.workerPIDs("p")
    try Self.install(release, at: bin)
    var r = try h.drover(["ctl", "upgrade"], timeout: .seconds(90))
    // Given up for want of a quiet moment on a loaded machine: the old image goes on; again.
    for _ in 0..<2 where r.exitCode != 0 && r.stderrText.contains("given up") {
      r = try h.drover(["ctl", "upgrade"], timeout: .seconds(90))
    }
    #expect(r.exitCode == 0, "\(r.stderrText)\n\(h.logTail())")
    #expect(r.stderrText.contains("(debug build) → 0.1.0 (release build)"), "\(r.stderrText)")
    #expect(try h.status()["pid"]?.intValue == Int64(pid))
    let t0 = ContinuousClock.now
    try h.waitUntil("every worker runs the release build", timeout: .seconds(60)) {
      let now = try h.workerPIDs("p")
      return now.count == 3 && Set(now).isDisjoint(with: before) && Self.allWorkersRun(bin, now)
    }
    let rolled = ContinuousClock.now - t0

    // release → debug with SIGUSR2.
    let middle = try h.workerPIDs("p")
    try Self.install(h.binary, at: bin)
    // On a loaded machine a handover may find no quiet moment in its 10 s and be given up
    // (the old image goes on, nothing lost): then ask again, as an operator would.
    var attempts = 0
    while true {
      attempts += 1
      let givenUpBefore = h.log().components(separatedBy: "upgrade given up").count
      try h.supervisor().kill(SIGUSR2)
      var done = false
      try h.waitUntil("the SIGUSR2 upgrade is done or given up", timeout: .seconds(90)) {
        let log = h.log()
        done = log.contains("upgraded in place: 0.1.0 (release build) → 0.1.0 (debug build)")
        return done || log.components(separatedBy: "upgrade given up").count > givenUpBefore
      }
      if done { break }
      #expect(attempts < 3, "the SIGUSR2 upgrade was given up \(attempts) times")
      if attempts >= 3 { return }
    }
    try h.waitUntil("every worker runs the debug build again", timeout: .seconds(60)) {
      let now = try h.workerPIDs("p")
      return now.count == 3 && Set(now).isDisjoint(with: middle) && Self.allWorkersRun(bin, now)
    }
    #expect(try h.status()["pid"]?.intValue == Int64(pid))
    SupervisorHarness.pause(.milliseconds(500))
    traffic.counts.withLock { $0.stop = true }
    SupervisorHarness.pause(.milliseconds(300))

    let counts = traffic.counts.withLock { $0 }
    #expect(counts.enqueueFailures.isEmpty, "\(counts.enqueueFailures.prefix(5))")
    #expect(counts.probeFailures.isEmpty, "\(counts.probeFailures.prefix(5))")
    try h.waitUntil("every job completed", timeout: .seconds(60)) {
      try h.jobCounts()["completed"] == Int64(counts.enqueued.count)
    }
    var charged = 0
    var withErrors = 0
    for id in counts.enqueued {
      let job = try h.job(id)
      if job["attempts"]?.intValue != 1 { charged += 1 }
      if job["errors"]?.arrayValue?.isEmpty != true { withErrors += 1 }
    }
    #expect(charged == 0 && withErrors == 0)
    let inFlight = h.log().split(separator: "\n").filter { $0.contains("upgraded in place") }
      .compactMap { line in line.split(separator: " ").first { $0.hasPrefix("jobs_in_flight=") } }
    print(
      "[upgrade] \(counts.enqueued.count) jobs over two upgrades (\(inFlight.joined(separator: ", ")) "
        + "at the handovers), interrupted/retried: \(charged + withErrors), lost: 0; "
        + "\(counts.probes) status connections, refused: \(counts.probeFailures.count); "
        + "ctl upgrade: \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)); "
        + "3 workers rolled in \(rolled)")
    #expect(try h.stop().exitCode == 0)
  }
}
