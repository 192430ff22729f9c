import DroverCore
import DroverSystem
import DroverTestSupport
import Foundation
import Testing

/// Worker resources: each worker's RSS and CPU time in `ctl status` and the metrics, and what
/// each attempt used recorded on its job.
@Suite("worker resources", .serialized)
struct SupervisorResourceTests {
  /// A pool `ex` whose Python command allocates 50 MB and spins 0.3 s of CPU, and a pool
  /// `work` of in-process `noop`; with `[http]`.
  static func harness() throws -> SupervisorHarness {
    let h = try SupervisorHarness(pools: "")
    let path = try h.write(
      "burn.py",
      """
      #!/usr/bin/env python3
      import sys, time
      sys.stdin.read()
      block = bytearray(50 * 1024 * 1024)
      for i in range(0, len(block), 4096):
          block[i] = 1
      end = time.process_time() + 0.3
      while time.process_time() < end:
          pass
      """, mode: 0o755)
    let pools =
      poolTable(
        "ex", #"types = ["burn"]"#, #"handler = "exec""#, #"command = ["\#(path)"]"#, "min = 1",
        "max = 1")
      + poolTable("work", #"types = ["noop"]"#, #"handler = "noop""#, "min = 1", "max = 1")
    try h.writeConfig(
      SupervisorHarness.configText(pools: pools).replacingOccurrences(
        of: "[control]", with: "\(SupervisorHarness.httpTable())\n[control]"))
    try h.start()
    return h
  }

  @Test func anExecJobRecordsItsCommandsCPUAndPeakRSS() throws {
    let h = try Self.harness()
    let burn = try h.enqueue("burn")
    let noop = try h.enqueue("noop")
    try h.waitUntil("both jobs completed", timeout: .seconds(30)) {
      try h.jobState(burn) == "completed" && h.jobState(noop) == "completed"
    }
    let job = try h.job(burn)
    let cpu = try #require(job["cpu_seconds"]?.doubleValue, "\(job.render())")
    let peak = try #require(job["peak_rss_bytes"]?.intValue, "\(job.render())")
    #expect(cpu > 0.1 && cpu < 30, "\(job.render())")
    #expect(peak > 40 << 20, "\(job.render())")
    // An in-process handler reports its worker's figures.
    let other = try h.job(noop)
    #expect((other["cpu_seconds"]?.doubleValue ?? -1) >= 0, "\(other.render())")
    #expect((other["peak_rss_bytes"]?.intValue ?? 0) > 0, "\(other.render())")
    let show = try h.drover(["jobs", "show", String(burn)]).stdoutText
    #expect(show.contains("resources:") && show.contains("MiB"), "\(show)")
  }

  @Test func statusAndMetricsShowEachWorkersRSSAndCPU() throws {
    let h = try Self.harness()
    try h.waitUntil("every worker has a sample", timeout: .seconds(15)) {
      let pools = try h.status()["pools"]?.arrayValue ?? []
      let workers = pools.flatMap { $0["workers"]?.arrayValue ?? [] }
      return workers.count == 2
        && workers.allSatisfy {
          ($0["rss_bytes"]?.intValue ?? 0) > 0 && $0["cpu_seconds"]?.doubleValue != nil
        }
    }
    let json = try JSONValue.parse(try h.drover(["ctl", "status", "--json"]).stdoutText)
    for p in json["pools"]?.arrayValue ?? [] {
      for w in p["workers"]?.arrayValue ?? [] {
        #expect((w["rss_bytes"]?.intValue ?? 0) > 0, "\(w.render())")
        #expect((w["cpu_seconds"]?.doubleValue ?? -1) >= 0, "\(w.render())")
      }
    }
    let text = try h.drover(["ctl", "status"]).stdoutText
    #expect(text.contains("rss ") && text.contains("MiB, cpu "), "\(text)")

    let c = try h.httpClient()
    let pid = try #require(try h.workerPIDs("work").first)
    let rss = #"drover_worker_rss_bytes{pool="work",pid="\#(pid)"}"#
    let cpu = #"drover_worker_cpu_seconds_total{pool="work",pid="\#(pid)"}"#
    try h.waitUntil("the worker's series are in /metrics") {
      let bytes = try c.metric(rss) ?? 0
      let seconds = try c.metric(cpu) ?? -1
      return bytes > 0 && seconds >= 0
    }
    let pools = try c.get("/pools").json()["pools"]?.arrayValue ?? []
    let worker = pools.flatMap { $0["workers"]?.arrayValue ?? [] }.first {
      $0["pid"]?.intValue == Int64(pid)
    }
    #expect((worker?["rss_bytes"]?.intValue ?? 0) > 0, "\(pools)")
    #expect(worker?["cpu_seconds"]?.doubleValue != nil, "\(pools)")
    // A worker that exits takes its series with it; its replacement gets its own.
    kill(pid, SIGKILL)
    try h.waitUntil("a new worker replaced it") {
      let pids = try h.workerPIDs("work")
      return pids.count == 1 && pids[0] != pid
    }
    let replacement = try h.workerPIDs("work")[0]
    try h.waitUntil("the old series is gone and the new one is there") {
      let text = try c.get("/metrics").text
      return !text.contains(#"pid="\#(pid)""#)
        && text.contains(#"drover_worker_rss_bytes{pool="work",pid="\#(replacement)"}"#)
    }
  }
}
