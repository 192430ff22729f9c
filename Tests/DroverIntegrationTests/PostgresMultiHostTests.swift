import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Several real `drover serve` processes sharing one PostgreSQL database as one queue, each a
/// "host": a network namespace of its own, reaching the server (in a namespace of its own)
/// over its own veth link, with its own folder, control socket and workers (`PostgresHosts`).
/// The test enqueues with plain INSERTs and looks with psql through the server's Unix socket,
/// and talks to the supervisors through their control sockets.
///
/// Needs root (network namespaces); without it every test here is skipped, saying so.
@Suite(
  .serialized, .enabled(if: TestNetwork.isAvailable, "needs root and ip netns (network namespaces)")
)
struct PostgresMultiHostTests {
  /// Short leases so a dead host's jobs come back within seconds.
  static let fastLease = """
    heartbeat = "300ms"
    lease = "2s"
    """

  /// Ids of the jobs running under the supervisor with this pid.
  func running(_ env: PostgresHosts, supervisor pid: Int32) throws -> Set<Int> {
    let text = try env.psql(
      """
      SELECT j.id FROM drover_jobs j JOIN drover_owners o ON o.id = j.owner
      WHERE j.state = 2 AND o.pid = \(pid)
      """)
    return Set(text.split(separator: "\n").compactMap { Int($0) })
  }

  /// `k` supervisors, host `i` in namespace `i`, each started there.
  func hosts(
    _ k: Int, _ env: PostgresHosts, pools: String, drainTimeout: String = "10s",
    store: String = ""
  ) throws -> [SupervisorHarness] {
    try (1...k).map { n in
      let h = try SupervisorHarness(
        pools: pools, postgresURL: env.url(forHost: n), drainTimeout: drainTimeout, store: store)
      try h.start(shellPrefix: env.shellPrefix(host: n))
      return h
    }
  }

  /// The sum of `jobs_done` over a supervisor's workers.
  func jobsDone(_ h: SupervisorHarness) throws -> Int {
    try h.workers("work").reduce(0) { $0 + ($1["jobs_done"]?.intValue.map(Int.init) ?? 0) }
  }

  @Test func threeHostsDrainTenThousandJobsRunningEachOnce() throws {
    let env = try PostgresHosts(hosts: 3)
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
    let hosts = try hosts(3, env, pools: pools)
    let total = 10_000
    // One application transaction enqueues them all: a plain INSERT.
    try env.insertJobs(total, type: "work", payload: #"'{"n":' || n || '}'"#)
    try hosts[0].waitUntil("every job completed", timeout: .seconds(600), every: .milliseconds(500))
    {
      try env.number("SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    let lines = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n")
    let ids = lines.map { $0.split(separator: " ")[0] }
    #expect(lines.count == total)
    #expect(Set(ids).count == total)
    #expect(lines.allSatisfy { $0.hasSuffix(" 1") })
    #expect(try env.number("SELECT count(*) FROM drover_job_errors") == 0)
    #expect(try env.number("SELECT count(*) FROM drover_jobs WHERE attempts <> 1") == 0)
    // Every host took a share, and the shares add up.
    let done = try hosts.map(jobsDone)
    #expect(done.allSatisfy { $0 > 0 }, "\(done)")
    #expect(done.reduce(0, +) == total)
    // The counters agree with the rows, read by a CLI on host 2 over its link.
    let stats = try env.drover(hosts[1], host: 2, ["jobs", "stats", "--json"])
    #expect(stats.exitCode == 0, "\(stats.stderrText)")
    let completed = try JSONValue.parse(stats.stdoutText)["completed"]?.intValue
    #expect(completed == Int64(total), "\(stats.stdoutText)")
    for h in hosts { try h.stop() }
  }

  @Test func aKilledHostsJobsAreFinishedByTheOthersAfterItsLease() throws {
    let env = try PostgresHosts(hosts: 3)
    let pools = """
      [pools.work]
      handler = "sleep"
      min = 2
      max = 2
      """
    let hosts = try hosts(3, env, pools: pools, store: Self.fastLease)
    let total = 45
    try env.insertJobs(total, type: "work", payload: #"'{"ms":600}'"#)
    let aPID = try hosts[0].supervisor().pid
    var lost: Set<Int> = []
    try hosts[0].waitUntil("the first host runs jobs", timeout: .seconds(60)) {
      lost = try running(env, supervisor: aPID)
      return !lost.isEmpty
    }
    // kill -9 of the host's supervisor and its workers, all at once.
    let killedAt = Timestamp.now()
    hosts[0].cleanup()
    try hosts[1].waitUntil(
      "every job completed", timeout: .seconds(120), every: .milliseconds(200)
    ) {
      try env.number("SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    let rescued = try env.psql(
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
    // The rescued jobs were finished by the two others; a rescue spends no attempt.
    let pids = [try hosts[1].supervisor().pid, try hosts[2].supervisor().pid]
    #expect(
      try env.number(
        """
        SELECT count(*) FROM drover_jobs j WHERE j.id IN (
          SELECT job_id FROM drover_job_errors WHERE message LIKE '%lease ran out%')
        AND j.state = 3
        """) == rescued.count)
    #expect(try env.number("SELECT count(*) FROM drover_jobs WHERE attempts <> 1") == 0)
    #expect(try env.number("SELECT count(*) FROM drover_owners WHERE pid = \(aPID)") == 0)
    #expect(
      try env.number("SELECT count(*) FROM drover_owners WHERE pid IN (\(pids[0]), \(pids[1]))")
        == 2)
    try hosts[1].stop()
    try hosts[2].stop()
  }

  @Test func sigtermDrainsOnlyItsOwnJobs() throws {
    let env = try PostgresHosts(hosts: 2)
    let pools = """
      [pools.work]
      handler = "sleep"
      min = 2
      max = 2
      """
    let hosts = try hosts(2, env, pools: pools, drainTimeout: "30s", store: Self.fastLease)
    let (a, b) = (hosts[0], hosts[1])
    let total = 16
    try env.insertJobs(total, type: "work", payload: #"'{"ms":1500}'"#)
    let aPID = try a.supervisor().pid
    let bPID = try b.supervisor().pid
    var bRunning: Set<Int> = []
    try a.waitUntil("both hosts run jobs", timeout: .seconds(60)) {
      bRunning = try running(env, supervisor: bPID)
      return try !running(env, supervisor: aPID).isEmpty && !bRunning.isEmpty
    }
    let out = try a.stop(timeout: .seconds(60))
    #expect(out.status == .exited(0))
    // The other host's jobs were not touched by the drain: still running under it, or done.
    let ids = bRunning.map(String.init).joined(separator: ",")
    #expect(
      try env.number(
        """
        SELECT count(*) FROM drover_jobs j LEFT JOIN drover_owners o ON o.id = j.owner
        WHERE j.id IN (\(ids)) AND NOT ((j.state = 2 AND o.pid = \(bPID)) OR j.state = 3)
        """) == 0)
    #expect(try env.number("SELECT count(*) FROM drover_owners WHERE pid = \(aPID)") == 0)
    try b.waitUntil("every job completed", timeout: .seconds(120), every: .milliseconds(200)) {
      try env.number("SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    // Nothing was interrupted or run again: no errors, one attempt each.
    #expect(try env.number("SELECT count(*) FROM drover_job_errors") == 0)
    #expect(try env.number("SELECT count(*) FROM drover_jobs WHERE attempts <> 1") == 0)
    try b.stop()
  }

  /// Host 1's link is cut while its worker runs the job: its lease runs out, host 2 rescues
  /// the job and runs it again; when host 1 comes back, its late finish is refused (fencing)
  /// and it stops, its lease lost. The job completed once, by host 2.
  @Test func aCutHostsLateFinishIsRefused() throws {
    let env = try PostgresHosts(hosts: 2)
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
      pools: pools, postgresURL: env.url(forHost: 1), store: Self.fastLease)
    let b = try SupervisorHarness(
      pools: pools, postgresURL: env.url(forHost: 2), store: Self.fastLease)
    try a.start(shellPrefix: env.shellPrefix(host: 1))
    let aPID = try a.supervisor().pid
    let id = try a.enqueueViaSocket("work")
    try a.waitUntil("host 1 runs the job", timeout: .seconds(30)) {
      try env.psql("SELECT state FROM drover_jobs WHERE id = \(id)") == "2"
    }
    try env.net.cut(host: 1)
    try b.start(shellPrefix: env.shellPrefix(host: 2))
    try b.waitUntil("host 2 completed the rescued job", timeout: .seconds(60)) {
      try env.psql("SELECT state FROM drover_jobs WHERE id = \(id)") == "3"
    }
    let bWorkers = Set(try b.workerPIDs("work"))
    // Host 1's run ended while it was cut off: two runs of the job in all.
    try a.waitUntil("both runs are recorded", timeout: .seconds(30)) {
      (try? String(contentsOfFile: runs, encoding: .utf8))?.split(separator: "\n").count == 2
    }
    try env.net.restore(host: 1)
    _ = try a.waitForExit(timeout: .seconds(90))
    let aLog = a.log()
    // Its late finish was refused (fenced), and its lease found lost.
    #expect(aLog.contains("a finish was not stored: the job is no longer this supervisor's"))
    #expect(aLog.contains("lease was lost"))
    let row = try env.psql(
      "SELECT state, attempts, worker_pid FROM drover_jobs WHERE id = \(id)")
    let fields = row.split(separator: "|")
    #expect(fields.first == "3")
    #expect(fields.dropFirst().first == "1")
    #expect(fields.last.flatMap { Int32($0) }.map(bWorkers.contains) == true)
    let errors = try env.psql("SELECT message FROM drover_job_errors WHERE job_id = \(id)")
    #expect(errors.split(separator: "\n").count == 1)
    #expect(errors.contains("lease ran out"))
    #expect(try env.psql("SELECT count(*) FROM drover_owners WHERE pid = \(aPID)") == "0")
    try b.stop()
  }

  /// A lone host's link is cut for longer than its lease: it stays up, its status names the
  /// store as the problem (what `GET /health` judges by), and once the link is back its lease
  /// is renewed before any rescue, so the jobs it was running complete once, under it.
  @Test func aCutLinkIsAStoreProblemUntilItIsBack() throws {
    let env = try PostgresHosts(hosts: 1)
    let pools = """
      [pools.work]
      handler = "sleep"
      min = 1
      max = 1
      """
    let h = try hosts(1, env, pools: pools, store: Self.fastLease)[0]
    let pid = try h.supervisor().pid
    let total = 3
    try env.insertJobs(total, type: "work", payload: #"'{"ms":1500}'"#)
    try h.waitUntil("a job runs", timeout: .seconds(60)) {
      try env.number("SELECT count(*) FROM drover_jobs WHERE state = 2") == 1
    }
    try env.net.cut(host: 1)
    let cutAt = ContinuousClock.now
    var problem = ""
    try h.waitUntil("status names the store as the problem", timeout: .seconds(90)) {
      problem = try h.status()["store_problem"]?.stringValue ?? ""
      return problem.contains(env.net.databaseAddress(forHost: 1))
    }
    try h.waitUntil("the cut outlasts the lease", timeout: .seconds(30)) {
      ContinuousClock.now - cutAt > .seconds(3)
    }
    #expect(try h.supervisor().pid == pid)
    try env.net.restore(host: 1)
    try h.waitUntil("the store problem is gone", timeout: .seconds(90), every: .milliseconds(200)) {
      try h.status()["store_problem"] == .null
    }
    try h.waitUntil("every job completed", timeout: .seconds(120), every: .milliseconds(200)) {
      try env.number("SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    #expect(try env.number("SELECT count(*) FROM drover_job_errors") == 0, "\(problem)")
    #expect(try env.number("SELECT count(*) FROM drover_jobs WHERE attempts <> 1") == 0)
    #expect(try h.supervisor().pid == pid)
    try h.stop()
  }
}
