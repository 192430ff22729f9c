import DroverClient
import DroverCore
import DroverTestSupport
import DroverWire
import Foundation
import Testing

extension SupervisorTests {
  /// Job results through a real supervisor: an exec command's `RESULT` line is kept with the
  /// job, shown by `jobs show` and awaited by `DroverClient.result(of:)` without polling; a bad
  /// or oversized result fails the job, saying why.
  @Suite("results")
  struct Results {
    static func harness() throws -> SupervisorHarness {
      let h = try SupervisorHarness(pools: "")
      let path = try h.write(
        "job.py",
        """
        #!/usr/bin/env python3
        import json, sys, time
        job = json.load(sys.stdin)
        time.sleep(job.get("sleep", 0))
        if "raw" in job:
            print("RESULT " + job["raw"], flush=True)
        else:
            print("RESULT " + json.dumps({"sum": job["a"] + job["b"], "pad": "x" * job.get("pad", 0)}), flush=True)

        """, mode: 0o755)
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: poolTable(
            "calc", #"handler = "exec""#, #"command = ["\#(path)"]"#, "min = 1", "max = 1",
            "max_attempts = 1"),
          store: #"max_result = "1KiB""#))
      return h
    }

    @Test func aResultIsKeptShownAndAwaited() async throws {
      let h = try Self.harness()
      try h.start()
      let client = DroverClient(socketPath: h.dir.file("var/control.sock"))
      // Awaited while the job still runs: the event stream says when it is over.
      let slow = try await client.enqueue(
        type: "calc", payload: ["a": 2, "b": 3, "sleep": 1], options: EnqueueOptions())
      let result = try await client.result(of: slow.id, timeout: .seconds(30))
      #expect(result?["sum"] == 5)
      // Already over: read at once.
      #expect(try await client.result(of: slow.id)?["sum"] == 5)
      let shown = try h.job(slow.id)
      #expect(shown["result"]?["sum"] == 5, "\(shown.render())")
      let text = try h.drover(["jobs", "show", String(slow.id)]).stdoutText
      #expect(text.contains(#"result:"#) && text.contains(#""sum":5"#), "\(text)")

      let bad = try h.enqueue("calc", #"{"raw": "{not json"}"#)
      let big = try h.enqueue("calc", #"{"a": 1, "b": 1, "pad": 2000}"#)
      await #expect(throws: DroverClientError.self) {
        _ = try await client.result(of: bad, timeout: .seconds(30))
      }
      try h.waitUntil("the oversized one is dead", timeout: .seconds(30)) {
        try h.jobState(big) == "dead"
      }
      #expect(try h.jobErrors(bad).first?.contains("its RESULT line is not valid JSON") == true)
      let e = try h.jobErrors(big).first ?? ""
      #expect(e.contains("more than store.max_result (1024 bytes)"), "\(e)")
      #expect(try h.job(big)["result"] == .null)
      await client.close()
      #expect(try h.stop().exitCode == 0)
    }
  }
}
