import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension PostgresMultiHostTests {
  /// Two hosts, one queue, `concurrency_limit = { limit = 1, key = "account" }`: however the
  /// hosts race for claims, two jobs of one account never run at once (each host counts the
  /// key's running jobs under the limits lock), and the two accounts run side by side.
  @Test func twoHostsNeverRunTwoJobsOfOneKeyAtOnce() throws {
    let env = try PostgresHosts(hosts: 2)
    let log = try TempDirectory(prefix: "drover-limit-runs")
    let runs = log.file("runs.log")
    let pools = """
      [pools.work]
      handler = "exec"
      command = ["/bin/sh", "-c", "echo \\"$DROVER_JOB_ID start $(date +%s.%N)\\" >> \(runs); sleep 0.1; echo \\"$DROVER_JOB_ID end $(date +%s.%N)\\" >> \(runs)"]
      min = 2
      max = 2
      concurrency_limit = { limit = 1, key = "account" }
      """
    let hosts = try hosts(2, env, pools: pools)
    let total = 40
    try env.insertJobs(
      total, type: "work",
      payload: #"'{"account": "' || (CASE WHEN n % 2 = 0 THEN 'A' ELSE 'B' END) || '"}'"#)
    try hosts[0].waitUntil("every job completed", timeout: .seconds(120), every: .milliseconds(300))
    {
      try env.number("SELECT count(*) FROM drover_jobs WHERE state = 3") == total
    }
    var account: [Int: String] = [:]
    for line in try env.psql("SELECT id || ' ' || limit_key FROM drover_jobs").split(
      separator: "\n")
    {
      let parts = line.split(separator: " ")
      if parts.count == 2, let id = Int(parts[0]) { account[id] = String(parts[1]) }
    }
    var spans: [String: [Int: (start: Double, end: Double)]] = [:]
    for line in try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n") {
      let p = line.split(separator: " ")
      guard p.count == 3, let id = Int(p[0]), let t = Double(p[2]), let key = account[id] else {
        continue
      }
      var s = spans[key, default: [:]][id] ?? (0, 0)
      if p[1] == "start" { s.start = t } else { s.end = t }
      spans[key, default: [:]][id] = s
    }
    #expect(spans["A"]?.count == total / 2 && spans["B"]?.count == total / 2)
    for (key, byJob) in spans {
      let sorted = byJob.values.sorted { $0.start < $1.start }
      for (a, b) in zip(sorted, sorted.dropFirst()) {
        #expect(b.start >= a.end, "two jobs of \(key) overlapped: \(a) and \(b)")
      }
    }
    // The accounts ran beside each other: some A job overlapped some B job.
    let a = spans["A"]?.values.map { $0 } ?? []
    let b = spans["B"]?.values.map { $0 } ?? []
    #expect(a.contains { x in b.contains { y in y.start < x.end && x.start < y.end } })
    for h in hosts { #expect(try h.stop().exitCode == 0) }
  }
}
