import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension SupervisorTests {
  @Suite("payload limit")
  struct PayloadLimit {
    /// `[store] max_payload` is refused on every enqueue path, naming the size and the limit,
    /// and nothing is stored; a payload under the limit goes through.
    @Test func payloadsAboveMaxPayloadAreRefusedOnEveryPath() throws {
      let pools = poolTable("email", #"handler = "noop""#, "min = 1", "max = 1")
      let h = try SupervisorHarness(pools: pools)
      try h.writeConfig(
        SupervisorHarness.configText(pools: pools).replacingOccurrences(
          of: "[store]\n", with: "[store]\nmax_payload = \"2KiB\"\n"))
      try h.start()
      let big = #"{"blob":""# + String(repeating: "x", count: 4000) + #""}"#
      // CLI, one job.
      let one = try h.drover(["enqueue", "email", big])
      #expect(one.exitCode != 0)
      #expect(one.stderrText.contains("max_payload"), "\(one.stderrText)")
      // CLI batch: all or nothing.
      let file = try h.write(
        "b.ndjson", #"{"type":"email"}"# + "\n" + #"{"type":"email","payload":\#(big)}"# + "\n")
      let batch = try h.drover(["enqueue", "--batch", file])
      #expect(batch.exitCode != 0)
      #expect(batch.stderrText.contains("max_payload"), "\(batch.stderrText)")
      // Control socket: an error reply, and the supervisor carries on.
      let r = try h.request(#"{"cmd":"enqueue","type":"email","payload":\#(big)}"#)
      #expect(r["ok"]?.boolValue == false)
      #expect(r["error"]?.stringValue?.contains("max_payload") == true, "\(r.render())")
      #expect(try h.stats().values.reduce(0, +) == 0, "nothing was stored")
      let small = try h.enqueueViaSocket("email", #"{"n":1}"#)
      try h.waitUntil("the small job completed") { try h.jobState(small) == "completed" }
    }
  }
}
