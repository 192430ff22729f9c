import DroverClient
import DroverCore
import DroverTestSupport
import DroverWire
import Foundation
import Instrumentation
import Testing

extension SupervisorTests {
  /// Trace context through a real supervisor: a `traceparent` given at enqueue (socket field,
  /// HTTP header, CLI flag) is kept, reaches the handler (exec: `TRACEPARENT`), and with
  /// `[tracing]` each attempt is exported by OTLP/HTTP to a local receiver as spans of that
  /// trace, under the enqueuer's span.
  @Suite("trace context")
  struct TraceContext {
    static let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aTraceparentReachesTheHandlerAndEachAttemptIsExported() async throws {
      let receiver = try HTTPReceiver()
      defer { receiver.stop() }
      let h = try SupervisorHarness(pools: "")
      let path = try h.write(
        "job.sh",
        """
        #!/bin/sh
        echo "$DROVER_JOB_ID ${TRACEPARENT:-none}" >> "$(dirname "$0")/seen.txt"
        [ "$DROVER_ATTEMPT" = 1 ] && grep -q fail && exit 75
        exit 0
        """, mode: 0o755)
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: poolTable(
            "traced", #"handler = "exec""#, #"command = ["\#(path)"]"#, "min = 1", "max = 1",
            #"backoff = { base = "100ms", cap = "100ms" }"#)
        ) + "[tracing]\nendpoint = \"\(receiver.url)\"\nservice_name = \"shop\"\n")
      try h.start()
      let client = DroverClient(socketPath: h.dir.file("var/control.sock"))
      let ok = try await client.enqueue(
        type: "traced", payload: [:], options: EnqueueOptions(traceparent: Self.trace))
      let flaky = try await client.enqueue(
        type: "traced", payload: ["fail": true], options: EnqueueOptions(traceparent: Self.trace))
      // From the current span, as a bootstrapped tracer propagates it.
      TestInstrument.bootstrapOnce()
      var context = ServiceContext.topLevel
      context[TestTraceKey.self] = Self.trace
      let fromSpan = try await ServiceContext.withValue(context) {
        try await client.enqueue(type: "traced", payload: [:])
      }
      let plain = try h.enqueue("traced")
      let bad = try h.drover(["enqueue", "traced", "{}", "--traceparent", "00-xyz-01"])
      #expect(bad.exitCode != 0 && bad.stderrText.contains("W3C traceparent"), "\(bad.stderrText)")
      try h.waitUntil("the jobs completed", timeout: .seconds(30)) {
        try [ok.id, flaky.id, plain, fromSpan.id].allSatisfy { try h.jobState($0) == "completed" }
      }
      #expect(try h.job(fromSpan.id)["traceparent"]?.stringValue == Self.trace)
      #expect(try h.job(ok.id)["traceparent"]?.stringValue == Self.trace)
      #expect(try h.job(plain)["traceparent"] == .null)
      let seen = try String(contentsOfFile: h.dir.file("seen.txt"), encoding: .utf8)
      #expect(seen.contains("\(ok.id) \(Self.trace)"), "\(seen)")
      #expect(seen.contains("\(plain) none"), "\(seen)")

      // Four attempts with a trace (ok, fromSpan, and flaky's failed and retried ones): three
      // spans each.
      var spans: [JSONValue] = []
      try h.waitUntil("the spans arrived", timeout: .seconds(30), every: .milliseconds(200)) {
        spans = receiver.requests.flatMap { r -> [JSONValue] in
          guard let body = try? JSONValue.parse(r.body) else { return [] }
          return (body["resourceSpans"]?.arrayValue ?? []).flatMap {
            ($0["scopeSpans"]?.arrayValue ?? []).flatMap { $0["spans"]?.arrayValue ?? [] }
          }
        }
        return spans.count >= 12
      }
      #expect(spans.count == 12)
      let roots = spans.filter { $0["name"] == "drover.job traced" }
      #expect(roots.count == 4)
      for s in spans { #expect(s["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736") }
      for r in roots { #expect(r["parentSpanId"] == "00f067aa0ba902b7") }
      let rootIDs = Set(roots.compactMap { $0["spanId"]?.stringValue })
      for s in spans where s["name"] == "queue" || s["name"] == "run" {
        #expect(rootIDs.contains(s["parentSpanId"]?.stringValue ?? ""))
      }
      let failed = roots.filter { $0["status"]?["code"] == 2 }
      #expect(failed.count == 1, "one failed attempt has an error status")
      let body = try #require(receiver.requests.first?.body)
      #expect(body.contains(#""stringValue":"shop""#))
      await client.close()
      #expect(try h.stop().exitCode == 0)
    }
  }
}

/// A trace context a test puts in the current `ServiceContext`.
enum TestTraceKey: ServiceContextKey {
  typealias Value = String
}

/// An instrument that propagates `TestTraceKey` as `traceparent`, as a real tracer would.
struct TestInstrument: Instrument {
  static let once: Void = InstrumentationSystem.bootstrap(TestInstrument())
  static func bootstrapOnce() { _ = once }

  func extract<Carrier, Extract>(
    _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
  ) where Extract: Extractor, Extract.Carrier == Carrier {}

  func inject<Carrier, Inject>(
    _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
  ) where Inject: Injector, Inject.Carrier == Carrier {
    if let t = context[TestTraceKey.self] {
      injector.inject(t, forKey: "traceparent", into: &carrier)
    }
  }
}
