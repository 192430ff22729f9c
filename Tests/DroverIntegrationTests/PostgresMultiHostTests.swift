import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Several real `drover serve` processes sharing one PostgreSQL database as one queue: each
/// harness is a "host" with its own folder, control socket and workers. The database is a
/// fresh one per test on the test process's throwaway cluster.
@Suite(.serialized) struct PostgresMultiHostTests {
  let cluster: PostgresCluster
  init() throws { cluster = try PostgresCluster.shared() }

  /// Short leases so a dead host's jobs come back within seconds.
  static let fastLease = """
    heartbeat = "300ms"
    lease = "2s"
    """

  /// One number from a query.
  func number(_ url: String, _ sql: String) throws -> Int {
    guard let n = Int(try cluster.psql(url, sql)) else {
      throw HarnessError("not a number from \(sql)")
    }
    return n
  }

  /// Ids of the jobs running under the supervisor with this pid.
  func running(_ url: String, supervisor pid: Int32) throws -> Set<Int> {
    let text = try cluster.psql(
      url,
      """
      SELECT j.id FROM drover_jobs j JOIN drover_owners o ON o.id = j.owner
      WHERE j.state = 2 AND o.pid = \(pid)
      """)
    return Set(text.split(separator: "\n").compactMap { Int($0) })
  }

  func enqueueBatch(_ h: SupervisorHarness, _ lines: [String]) throws {
    let file = try h.write("batch.ndjson", lines.joined(separator: "\n") + "\n")
    let r = try h.drover(["enqueue", "--batch", file], timeout: .seconds(120))
    guard r.exitCode == 0 else { throw HarnessError("enqueue --batch failed: \(r.stderrText)") }
  }

  /// The sum of `jobs_done` over a supervisor's workers.
  func jobsDone(_ h: SupervisorHarness) throws -> Int {
    try h.workers("work").reduce(0) { $0 + ($1["jobs_done"]?.intValue.map(Int.init) ?? 0) }
  }

  @Test func twoSupervisorsDrainTenThousandJobsRunningEachOnce() throws {
    let url = try cluster.database()
    let log = try TempDirectory(prefix: "drover-runs")
    let runs = log.file("runs.log")
    // Each run appends "id attempt" (O_APPEND: whole short lines, whoever writes).
    let pools = """
      [pools.work]
      handler = "exec"
      command = ["/bin/sh", "-c", "echo \\"$DROVER_JOB_ID $DROVER_ATTEMPT\\" >> \(runs)"]
      min = 2
      max = 2
      """
    let a = try SupervisorHarness(pools: pools, postgresURL: url)
    let b = try SupervisorHarness(pools: pools, postgresURL: url)
    try a.start()
    try b.start()
    let total = 10_000
    try enqueueBatch(a, (0..<total).map { #"{"type":"work","payload":{"n":\#($0)}}"# })
    try a.waitUntil("every job completed", timeout: .seconds(600), every: .milliseconds(500)) {
      try number(url, "SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    let lines = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n")
    let ids = lines.map { $0.split(separator: " ")[0] }
    #expect(lines.count == total)
    #expect(Set(ids).count == total)
    #expect(lines.allSatisfy { $0.hasSuffix(" 1") })
    #expect(try number(url, "SELECT count(*) FROM drover_job_errors") == 0)
    #expect(try number(url, "SELECT count(*) FROM drover_jobs WHERE attempts <> 1") == 0)
    // Both hosts took their share.
    #expect(try jobsDone(a) > 0)
    #expect(try jobsDone(b) > 0)
    #expect(try jobsDone(a) + jobsDone(b) == total)
    // The counters agree with the rows.
    #expect(try a.stats()["completed"] == Int64(total))
    try a.stop()
    try b.stop()
  }

  @Test func aKilledSupervisorsJobsAreFinishedByTheOtherAfterItsLease() throws {
    let url = try cluster.database()
    let pools = """
      [pools.work]
      handler = "sleep"
      min = 2
      max = 2
      """
    let a = try SupervisorHarness(pools: pools, postgresURL: url, store: Self.fastLease)
    let b = try SupervisorHarness(pools: pools, postgresURL: url, store: Self.fastLease)
    try a.start()
    try b.start()
    let total = 30
    try enqueueBatch(a, (0..<total).map { _ in #"{"type":"work","payload":{"ms":600}}"# })
    let aPID = try a.supervisor().pid
    var lost: Set<Int> = []
    try a.waitUntil("the first host runs jobs", timeout: .seconds(60)) {
      lost = try running(url, supervisor: aPID)
      return !lost.isEmpty
    }
    // The host is gone: supervisor and workers, all at once.
    let killedAt = Timestamp.now()
    a.cleanup()
    try a.waitUntil("every job completed", timeout: .seconds(120), every: .milliseconds(200)) {
      try number(url, "SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    let rescued = try cluster.psql(
      url,
      """
      SELECT job_id || ' ' || at FROM drover_job_errors
      WHERE message LIKE '%lease ran out%' ORDER BY job_id
      """
    ).split(separator: "\n")
    // Jobs finished by the first host before it died may be among `lost` (a snapshot); every
    // rescued job was one it held, and none was rescued before its lease could have ended.
    #expect(!rescued.isEmpty)
    for line in rescued {
      let parts = line.split(separator: " ")
      #expect(lost.contains(Int(parts[0]) ?? -1))
      let at = Int64(parts[1]) ?? 0
      #expect(at >= killedAt.micros + 1_500_000)
    }
    // A rescue spends no attempt: every job completed on its first counted attempt.
    #expect(try number(url, "SELECT count(*) FROM drover_jobs WHERE attempts <> 1") == 0)
    #expect(try number(url, "SELECT count(*) FROM drover_owners WHERE pid = \(aPID)") == 0)
    try b.stop()
  }

  @Test func sigtermDrainsOnlyItsOwnJobs() throws {
    let url = try cluster.database()
    let pools = """
      [pools.work]
      handler = "sleep"
      min = 2
      max = 2
      """
    let a = try SupervisorHarness(
      pools: pools, postgresURL: url, drainTimeout: "30s", store: Self.fastLease)
    let b = try SupervisorHarness(
      pools: pools, postgresURL: url, drainTimeout: "30s", store: Self.fastLease)
    try a.start()
    try b.start()
    let total = 16
    try enqueueBatch(a, (0..<total).map { _ in #"{"type":"work","payload":{"ms":1500}}"# })
    let aPID = try a.supervisor().pid
    let bPID = try b.supervisor().pid
    var bRunning: Set<Int> = []
    try a.waitUntil("both hosts run jobs", timeout: .seconds(60)) {
      bRunning = try running(url, supervisor: bPID)
      return try !running(url, supervisor: aPID).isEmpty && !bRunning.isEmpty
    }
    let out = try a.stop(timeout: .seconds(60))
    #expect(out.status == .exited(0))
    // The other host's jobs were not touched by the drain: still running under it, or done.
    let ids = bRunning.map(String.init).joined(separator: ",")
    #expect(
      try number(
        url,
        """
        SELECT count(*) FROM drover_jobs j LEFT JOIN drover_owners o ON o.id = j.owner
        WHERE j.id IN (\(ids)) AND NOT ((j.state = 2 AND o.pid = \(bPID)) OR j.state = 3)
        """) == 0)
    #expect(try number(url, "SELECT count(*) FROM drover_owners WHERE pid = \(aPID)") == 0)
    try b.waitUntil("every job completed", timeout: .seconds(120), every: .milliseconds(200)) {
      try number(url, "SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    // Nothing was interrupted or run again: no errors, one attempt each.
    #expect(try number(url, "SELECT count(*) FROM drover_job_errors") == 0)
    #expect(try number(url, "SELECT count(*) FROM drover_jobs WHERE attempts <> 1") == 0)
    try b.stop()
  }

  /// Host 1's link is cut while its worker runs the job: its lease runs out, host 2 rescues
  /// the job and runs it again; when host 1 comes back, its late finish is refused (fencing)
  /// and it stops, its lease lost. The job completed once, by host 2.
  @Test(.enabled(if: TestNetwork.isAvailable, "needs root and ip netns"))
  func aCutHostsLateFinishIsRefused() throws {
    let net = try TestNetwork(hosts: 2)
    let db = try PostgresCluster.inNamespace(net.database)
    defer { db.stop() }
    try db.psql(db.url(database: "postgres"), "CREATE DATABASE multi")
    let local = db.url(database: "multi")
    let log = try TempDirectory(prefix: "drover-runs")
    let runs = log.file("runs.log")
    let pools = """
      [pools.work]
      handler = "exec"
      command = ["/bin/sh", "-c", "sleep 3; echo \\"$DROVER_JOB_ID $DROVER_ATTEMPT\\" >> \(runs)"]
      min = 1
      max = 1
      """
    let a = try SupervisorHarness(
      pools: pools, postgresURL: db.url(database: "multi", host: net.databaseAddress(forHost: 1)),
      store: Self.fastLease)
    let b = try SupervisorHarness(
      pools: pools, postgresURL: db.url(database: "multi", host: net.databaseAddress(forHost: 2)),
      store: Self.fastLease)
    try a.start(shellPrefix: net.shellPrefix(host: 1))
    let aPID = try a.supervisor().pid
    let id = try a.enqueueViaSocket("work")
    try a.waitUntil("host 1 runs the job", timeout: .seconds(30)) {
      try db.psql(local, "SELECT state FROM drover_jobs WHERE id = \(id)") == "2"
    }
    try net.cut(host: 1)
    try b.start(shellPrefix: net.shellPrefix(host: 2))
    try b.waitUntil("host 2 completed the rescued job", timeout: .seconds(60)) {
      try db.psql(local, "SELECT state FROM drover_jobs WHERE id = \(id)") == "3"
    }
    let bWorkers = Set(try b.workerPIDs("work"))
    // Host 1's run ended while it was cut off: two runs of the job in all.
    try a.waitUntil("both runs are recorded", timeout: .seconds(30)) {
      (try? String(contentsOfFile: runs, encoding: .utf8))?.split(separator: "\n").count == 2
    }
    try net.restore(host: 1)
    _ = try a.waitForExit(timeout: .seconds(90))
    let aLog = a.log()
    // Its late finish was refused (fenced), and its lease found lost.
    #expect(aLog.contains("a finish was not stored: the job is no longer this supervisor's"))
    #expect(aLog.contains("lease was lost"))
    let row = try db.psql(
      local, "SELECT state, attempts, worker_pid FROM drover_jobs WHERE id = \(id)")
    let fields = row.split(separator: "|")
    #expect(fields.first == "3")
    #expect(fields.dropFirst().first == "1")
    #expect(fields.last.flatMap { Int32($0) }.map(bWorkers.contains) == true)
    let errors = try db.psql(local, "SELECT message FROM drover_job_errors WHERE job_id = \(id)")
    #expect(errors.split(separator: "\n").count == 1)
    #expect(errors.contains("lease ran out"))
    #expect(try db.psql(local, "SELECT count(*) FROM drover_owners WHERE pid = \(aPID)") == "0")
    try b.stop()
  }
}
